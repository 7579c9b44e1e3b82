"""The server's deployment files: the image recipe, the compose stack and the systemd unit.

No Docker engine runs here, so the Dockerfile is linted (hadolint), its key properties are read
from it, and the part of its build that does not need Docker (the locked uv environment) is
replayed for real; the compose file is read as YAML; the unit is checked by systemd-analyze.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SERVER = ROOT / "packaging" / "server"
DOCKERFILE = SERVER / "Dockerfile"
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _stages() -> list[Stage]:
    """The Dockerfile's stages with their instructions (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else ""
            stages.append(Stage(name=name, base=parts[0]))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def _final() -> Stage:
    return _stages()[-1]


def test_dockerfile_passes_hadolint() -> None:
    """hadolint finds nothing to report in the Dockerfile, not even at info level."""
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_multi_stage_and_ships_no_build_tools() -> None:
    """A build stage runs `uv sync --frozen`; the runtime stage only copies the environment."""
    stages = _stages()
    names = [s.name for s in stages]
    assert "build" in names
    assert names[-1] == "runtime"
    build = stages[names.index("build")]
    runs = " ".join(build.all("RUN"))
    assert "uv sync --frozen" in runs
    assert "--no-dev" in runs
    assert "--package jarvis-server" in runs
    runtime = _final()
    assert runtime.all("COPY") == ["--from=build /app/.venv /app/.venv"]
    assert not any("uv" in shlex.split(r) for r in runtime.all("RUN"))


def test_runtime_runs_as_a_numeric_non_root_user() -> None:
    """The container's process runs as uid 10001, not root."""
    users = _final().all("USER")
    assert users == ["10001:10001"]
    assert "useradd --system --uid 10001" in " ".join(_final().all("RUN"))


def test_runtime_checks_its_health_and_serves_on_8765() -> None:
    """The image declares a HEALTHCHECK against /health/db, exposes 8765 and starts the server."""
    runtime = _final()
    (health,) = runtime.all("HEALTHCHECK")
    assert "--interval=" in health
    assert "http://127.0.0.1:8765/health/db" in health
    assert runtime.all("EXPOSE") == ["8765"]
    assert json.loads(runtime.all("ENTRYPOINT")[0]) == ["jarvis-server"]
    assert json.loads(runtime.all("CMD")[0])[:1] == ["serve"]
    assert any("JARVIS_HOME=/var/lib/jarvis" in env for env in runtime.all("ENV"))
    assert runtime.all("VOLUME") == ['["/var/lib/jarvis"]']


def _copy_sources(stage: Stage) -> list[str]:
    sources: list[str] = []
    for args in stage.all("COPY"):
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        if any(w.startswith("--from") for w in shlex.split(args)):
            continue
        sources += words[:-1]
    return sources


def test_everything_the_build_copies_exists_and_is_not_ignored() -> None:
    """Each COPY source exists in the repository and is let through by the .dockerignore."""
    ignore = (SERVER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = [line[1:].rstrip("*/") for line in ignore if line.startswith("!")]
    for source in _copy_sources(_stages()[1]):
        source = source.rstrip("/")
        assert (ROOT / source).exists(), source
        assert any(source == a or source.startswith(a) or a.startswith(source) for a in allowed)


def _replay_copy(args: str, workdir: Path) -> None:
    """COPY from the build context (the repository) into workdir, as Docker does."""
    *sources, dest = shlex.split(args)
    target = workdir / dest
    into_dir = dest.endswith("/") or dest in (".", "./") or len(sources) > 1
    for source in sources:
        origin = ROOT / source
        if origin.is_dir():  # a directory's contents land in the target directory
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(origin, target, dirs_exist_ok=True, ignore=ignore)
        else:
            dest_file = target / origin.name if into_dir else target
            dest_file.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, dest_file)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_image_build_steps_give_a_working_server(tmp_path: Path) -> None:
    """Replaying the build stage's COPY and `uv sync` steps (without Docker) gives an environment
    whose jarvis-server prints the project version, has no desktop stack and none of the agent's
    client side (outbox, keyring, cryptography, httpx), and whose server passes
    the image's own HEALTHCHECK command."""
    src, app = tmp_path / "src", tmp_path / "app"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "JARVIS_"))}
    env |= {"UV_PYTHON_DOWNLOADS": "never", "UV_LINK_MODE": "copy"}
    env["UV_PROJECT_ENVIRONMENT"] = str(app / ".venv")
    for keyword, args in _stages()[1].instructions:
        if keyword == "COPY" and "--from" not in args:
            _replay_copy(args, src)
        elif keyword == "RUN":
            command = " ".join(w for w in shlex.split(args) if not w.startswith("--mount"))
            subprocess.run(command, shell=True, cwd=src, env=env, check=True, timeout=600)  # noqa: S602

    server = app / ".venv" / "bin" / "jarvis-server"
    python = app / ".venv" / "bin" / "python"
    out = subprocess.run([server, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"jarvis-server {VERSION}"
    qt = subprocess.run([python, "-c", "import PySide6"], capture_output=True, text=True)
    assert qt.returncode != 0, "the server image must not carry the desktop stack"
    for client_side in ("jarvis_sync", "httpx", "keyring", "cryptography"):
        found = subprocess.run([python, "-c", f"import {client_side}"], capture_output=True)
        assert found.returncode != 0, f"the server image must not carry {client_side}"

    port = _free_port()
    (health,) = _final().all("HEALTHCHECK")
    check = json.loads(health.split(" CMD ", 1)[1])
    check = [str(python) if w == "python" else w.replace("8765", str(port)) for w in check]
    run_env = env | {"JARVIS_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [server, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=run_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            result = subprocess.run(check, capture_output=True, text=True, timeout=10)
            if result.returncode == 0:
                break
            assert proc.poll() is None, (
                f"the server exited: {proc.stderr.read() if proc.stderr else ''}"
            )
            assert time.monotonic() < deadline, result.stderr
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((SERVER / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_runs_postgres_then_migrations_then_the_server() -> None:
    """db is PostgreSQL with a health check; migrate waits for it; the server waits for a
    successful migration and a healthy database, and never migrates by itself."""
    services = _compose()["services"]
    assert set(services) == {"db", "migrate", "server"}
    db = services["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    server = services["server"]
    assert server["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert server["depends_on"]["db"]["condition"] == "service_healthy"
    assert "--no-migrate" in server["command"]
    assert "http://127.0.0.1:8765/health/db" in " ".join(server["healthcheck"]["test"])
    assert server["restart"] == "unless-stopped"


def test_compose_keeps_data_in_named_volumes() -> None:
    """The database and the stored images live in named volumes that survive `down`/upgrades."""
    compose = _compose()
    assert set(compose["volumes"]) == {"db-data", "jarvis-data"}
    services = compose["services"]
    assert "db-data:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "jarvis-data:/var/lib/jarvis" in services["server"]["volumes"]


def test_compose_points_the_server_at_postgres_and_builds_this_dockerfile() -> None:
    """The server's database URL is asyncpg to the db service, the password comes from .env
    (required), the port is bound to loopback, and the build uses this Dockerfile."""
    server = _compose()["services"]["server"]
    url = server["environment"]["JARVIS_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://jarvis:")
    assert "${JARVIS_DB_PASSWORD:?" in url
    assert url.endswith("@db:5432/jarvis")
    assert all(port.startswith("127.0.0.1:") for port in server["ports"])
    context = (SERVER / server["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / server["build"]["dockerfile"]).resolve() == DOCKERFILE
    example = (SERVER / "env.example").read_text(encoding="utf-8")
    assert re.search(r"^JARVIS_DB_PASSWORD=", example, re.MULTILINE)


def test_server_systemd_unit_verifies(tmp_path: Path) -> None:
    """systemd-analyze accepts the example server unit (with its program path pointed at a real
    file) and the unit migrates before it serves, with no start timeout: an upgrade's migration
    may rebuild a search index for minutes, and systemd's default 90 s would kill it each time."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    program = tmp_path / "jarvis-server"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    text = (SERVER / "jarvis-server.service").read_text(encoding="utf-8")
    assert "ExecStartPre=/opt/jarvis-server/jarvis-server migrate" in text.splitlines()
    assert "TimeoutStartSec=infinity" in text.splitlines()
    unit = tmp_path / "jarvis-server.service"
    unit.write_text(text.replace("/opt/jarvis-server/jarvis-server", str(program)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "jarvis-server.service" not in result.stderr, result.stderr


def test_the_scaled_out_compose_runs_replicas_on_postgres_and_a_bucket_behind_nginx() -> None:
    """compose.scale.yaml: PostgreSQL, an S3 server, a one-shot migrate, N replicas of
    `serve --workers` that never migrate and keep images in the bucket (secrets required from
    .env), and nginx (its config in the repository) as the only published port, on loopback."""
    data = yaml.safe_load((SERVER / "compose.scale.yaml").read_text(encoding="utf-8"))
    services = data["services"]
    assert set(services) == {"db", "s3", "migrate", "server", "lb"}
    server = services["server"]
    assert "--no-migrate" in server["command"]
    assert "--workers" in server["command"]
    assert server["deploy"]["replicas"] == "${JARVIS_REPLICAS:-2}"
    assert "ports" not in server
    assert server["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    env = server["environment"]
    assert env["JARVIS_STORAGE_URL"].startswith("s3://")
    assert "${JARVIS_S3_SECRET_ACCESS_KEY:?" in env["JARVIS_S3_SECRET_ACCESS_KEY"]
    assert env["JARVIS_DATABASE_URL"].startswith("postgresql+asyncpg://")
    lb = services["lb"]
    assert lb["image"].startswith("nginx:")
    assert all(port.startswith("127.0.0.1:") for port in lb["ports"])
    config = (SERVER / "nginx.scale.conf").read_text(encoding="utf-8")
    assert "http://server:8765" in config
    assert "proxy_buffering off" in config
