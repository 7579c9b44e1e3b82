"""After a full run, the device token appears in no file, log or output of the agent."""

from __future__ import annotations

import logging
from pathlib import Path

import keyring
import pytest

from jarvis_agent.paths import agent_paths
from jarvis_sync import Outbox, load_token, outbox_key
from tests.support.faultproxy import DropReply, FaultProxy, Respond
from tests.support.keyring import SecretService
from tests.support.server import LiveServer
from tests.unit.sync.factory import capture

from .cli import jarvis
from .conftest import WorkerFactory, wait_until

pytestmark = pytest.mark.keyring


def test_token_never_leaks(
    secret_service: SecretService,
    sync_server: LiveServer,
    device: str,
    proxy: FaultProxy,
    jarvis_home: Path,
    worker_factory: WorkerFactory,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Login, uploads through errors (401, 503, lost replies), CLI and logout leave no trace of
    the token under JARVIS_HOME, in the debug log or in anything printed."""
    for entry in ("device-token", "outbox-key"):
        if keyring.get_password("jarvis", entry) is not None:
            keyring.delete_password("jarvis", entry)
    token = sync_server.create_token(device)
    outputs: list[str] = []

    paths = agent_paths().ensure()
    handler = logging.FileHandler(paths.agent_log)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # httpx and httpcore debug output included
    try:
        done = jarvis("login", "--server", sync_server.url, stdin=token)
        outputs += [done.stdout, done.stderr]
        assert done.returncode == 0, done.stderr
        proxy.plan(Respond(401), Respond(503), DropReply())
        outbox = Outbox.open(paths.outbox_dir, key=outbox_key())
        try:
            for _ in range(5):
                outbox.put(*capture())
            worker = worker_factory(outbox, proxy.url, load_token)
            wait_until(lambda: worker.status().state == "auth_required", "401 seen")
            worker.sync_now()
            wait_until(lambda: outbox.stats().sent_total == 5, "all sent")
            worker.stop()
        finally:
            outbox.close()
        for args in (("outbox", "status"), ("outbox", "list", "--json"), ("logout",)):
            done = jarvis(*args)
            outputs += [done.stdout, done.stderr]
            assert done.returncode == 0, done.stderr
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()

    captured = capfd.readouterr()
    outputs += [captured.out, captured.err, caplog.text]
    assert paths.agent_log.stat().st_size > 0
    needle = token.encode()
    files = [p for p in jarvis_home.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert needle not in path.read_bytes(), f"the token is in {path}"
    for text in outputs:
        assert token not in text
