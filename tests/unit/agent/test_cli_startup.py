"""`jarvis --version`, `status`, `pause` and `resume` start light: they load neither the config
models nor pydantic, the keyring, the HTTP client, numpy, Qt or importlib.metadata
(benchmarks/startup.py measures the time this saves), and still answer as before; the full
command list still has every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import click
import pytest

from jarvis_agent.cli import _BUILT_IN, LazyGroup, cli
from jarvis_agent.cli.runtime import describe_status
from jarvis_agent.control import ControlReply, ControlServer, socket_path
from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.state import AgentState, AgentStatus, Counters, status_to_json

# jarvis_sync's package loads its names on first use, so its size formatter alone is light.
HEAVY = (
    "pydantic",
    "keyring",
    "httpx",
    "numpy",
    "PySide6",
    "cryptography",
    "jarvis_agent.config",
    "jarvis_sync.outbox",
    "jarvis_sync.worker",
    "jarvis_sync.client",
    "jarvis_sync.credentials",
    "importlib.metadata",  # the version is read from the file the build writes
)

# Runs the command in this interpreter, then prints which heavy modules it had loaded.
_PROBE = """
import json, os, sys
heavy = tuple(json.loads(os.environ["PROBE_HEAVY"]))
from jarvis_agent.cli import main
sys.argv = ["jarvis", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy or m in heavy)
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def _probe(tmp_path: Path, *args: str) -> tuple[str, str, dict[str, object]]:
    env = {**os.environ, "JARVIS_HOME": str(tmp_path / "home"), "PROBE_HEAVY": json.dumps(HEAVY)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    *messages, report = done.stderr.strip().splitlines()
    return done.stdout, "\n".join(messages), json.loads(report)


@pytest.mark.parametrize("args", [("--version",), ("status",), ("pause",), ("resume",)])
def test_light_commands_import_nothing_heavy(tmp_path: Path, args: tuple[str, ...]) -> None:
    """The command loads none of the heavy modules."""
    _, _, report = _probe(tmp_path, *args)
    assert report["loaded"] == []


def test_status_of_a_running_agent_loads_nothing_heavy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`jarvis status` against an agent that answers prints its status as before, still without
    pydantic or the rest: reading the status is done by hand."""
    monkeypatch.setenv("JARVIS_HOME", str(tmp_path / "home"))
    now = datetime.now(UTC)
    status = AgentStatus(
        state=AgentState.CAPTURING,
        counters=Counters(captured=12, skipped=3),
        last_capture_at=now - timedelta(seconds=20),
        next_capture_at=now + timedelta(seconds=40),
        interval_seconds=60.0,
        pid=4242,
        started_at=now - timedelta(hours=1),
    )
    server = ControlServer(
        socket_path(agent_paths().ensure()),
        lambda _: ControlReply(ok=True, status=status_to_json(status)),
    )
    server.start()
    try:
        out, _, report = _probe(tmp_path, "status")
    finally:
        server.stop()
    assert report == {"code": 0, "loaded": []}
    assert "4242" in out
    assert out.splitlines()[0] == describe_status(status).splitlines()[0]


def test_version_is_the_installed_one(tmp_path: Path) -> None:
    """`jarvis --version` prints the installed package's version and exits 0."""
    out, _, report = _probe(tmp_path, "--version")
    assert report["code"] == 0
    assert out == f"jarvis {version('jarvis-agent')}\n"


@pytest.mark.parametrize("args", [("status",), ("pause", "15m"), ("resume",)])
def test_no_agent_is_reported(tmp_path: Path, args: tuple[str, ...]) -> None:
    """With no agent running, the command says so, how to start it, and exits 3."""
    out, err, report = _probe(tmp_path, *args)
    assert report["code"] == 3
    assert out == ""
    assert "the Jarvis agent is not running" in err
    assert "jarvis run --headless" in err


def test_every_registered_command_is_in_the_lazy_map() -> None:
    """Each built-in module registers exactly the commands the lazy group expects of it, and the
    full list adds the tray's commands from their entry point."""
    group = LazyGroup(name="jarvis")
    ctx = click.Context(group)
    for name, module in sorted(_BUILT_IN.items()):
        assert group.get_command(ctx, name) is not None, f"{module} does not register {name}"
    built_in = set(group.commands)
    assert built_in == set(_BUILT_IN)
    listed = group.list_commands(ctx)
    assert set(listed) == built_in | {"tray", "up"}
    assert cli.get_command(click.Context(cli), "up") is not None
