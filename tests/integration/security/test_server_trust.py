"""The trust review's attacks on the agent side: who may receive the token and the captures.

A stranger is a real HTTP server (tests/support/stranger.py) that answers 200 to everything and
records what it got: on a loopback port as this user (a program that is not Jarvis), as another
uid (another local user), or on this machine's non-loopback address (a host on the network).
Whatever it records is what an attacker would have.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from jarvis_agent.config import ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_sync import Outbox, SyncWorker, Uploader, credentials
from jarvis_sync.cipher import new_key
from jarvis_sync.retry import RetryPolicy
from jarvis_ui.up import UpError, ensure_server
from tests.support.desktop import Desktop
from tests.support.keyring import SecretService
from tests.support.postgres import free_port
from tests.support.server import ServerFactory
from tests.support.stranger import SPARE_UID, Stranger, start_stranger
from tests.unit.sync.factory import capture

JARVIS = str(Path(sys.executable).with_name("jarvis"))
PATIENCE = 120.0  # bounds a hang; measures nothing


def _wait(predicate: Callable[[], object], what: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def _network_address() -> str:
    """This machine's address on its network (not loopback), or skip."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP: picks a route, sends nothing
        except OSError:
            pytest.skip("no network interface besides loopback")
        address: str = probe.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("no network interface besides loopback")
    return address


@pytest.fixture
def strangers() -> Iterator[Callable[..., Stranger]]:
    """`strangers(host, port, uid=None)`: a recording stranger; all are stopped afterwards."""
    made: list[Stranger] = []

    def start(host: str, port: int, *, uid: int | None = None) -> Stranger:
        made.append(start_stranger(host, port, uid=uid))
        return made[-1]

    yield start
    for stranger in made:
        stranger.stop()


def _jarvis(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JARVIS, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


# --- item 2: `jarvis up` and a stranger on its port ----------------------------------------


@pytest.mark.x11
@pytest.mark.keyring
@pytest.mark.slow
def test_up_gives_a_stranger_on_its_port_nothing(
    x_desktop: Desktop,
    secret_service: SecretService,
    jarvis_home: Path,
    tmp_path: Path,
    strangers: Callable[..., Stranger],
) -> None:
    """`jarvis up` with a non-Jarvis program answering 200 on its port: it stops with an error
    naming the port and what to do; the program got no token, no upload; server.url unsaved."""
    credentials.delete_token()
    port = free_port()
    stranger = strangers("127.0.0.1", port)
    env = {
        **os.environ,
        **secret_service.environ,
        "DISPLAY": x_desktop.display,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
    }
    process = subprocess.Popen(
        [JARVIS, "up", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The old code went on to the tray after handing over the token: stop at either.
        _wait(lambda: process.poll() is not None or stranger.got_a_token, "`jarvis up` to end")
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate()[0]
    assert not stranger.got_a_token, stranger.requests
    assert not stranger.uploads
    assert process.returncode == 1, output
    assert f"port {port}" in output
    assert "could not prove it is your Jarvis server" in output
    assert "jarvis up --port N" in output
    assert credentials.load_token() is None
    assert ConfigStore().load_file().server.url is None


def test_up_names_another_users_program_on_its_port(
    strangers: Callable[..., Stranger], jarvis_home: Path
) -> None:
    """A program of another uid listening on the port: the kernel names its owner, and `jarvis
    up` refuses before sending it anything at all (not even the identity challenge)."""
    port = free_port()
    stranger = strangers("127.0.0.1", port, uid=SPARE_UID)
    said: list[str] = []
    with pytest.raises(UpError) as refused:
        ensure_server(port, said.append)
    message = str(refused.value)
    assert f"uid {SPARE_UID}" in message
    assert f"port {port}" in message
    assert "jarvis up --port N" in message
    assert stranger.requests == []


def test_up_adopts_a_server_its_dead_owner_left_and_stops_it(
    jarvis_home: Path, tmp_path: Path
) -> None:
    """A server an earlier `jarvis up` started and whose owner died without stopping it is
    adopted by the next `jarvis up` (it proves itself first) and stopped when that one quits."""
    from jarvis_ui.up import identity_key

    key = identity_key()
    port = free_port()
    paths = agent_paths()
    log = (tmp_path / "orphan.log").open("ab")
    orphan = subprocess.Popen(
        [sys.executable, "-m", "jarvis_server", "serve", "--port", str(port)],
        env={**os.environ, "JARVIS_IDENTITY_KEY_FILE": str(paths.server_identity_key)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    try:
        dead_owner = subprocess.Popen([sys.executable, "-c", "pass"])
        dead_owner.wait()
        paths.local_server_record.write_text(
            f'{{"port": {port}, "pid": {orphan.pid}, "owner": {dead_owner.pid}}}'
        )

        def answers() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).is_success
            except httpx.HTTPError:
                return False

        _wait(answers, "the orphaned server")
        said: list[str] = []
        server = ensure_server(port, said.append, key=key)
        assert "adopted" in said[-1], said
        assert server.started_here
        server.stop()
        orphan.wait(60)
        assert not answers()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


# --- item 3: plain http only to loopback, or with the named opt-in ------------------------


@pytest.mark.keyring
@pytest.mark.parametrize(
    "url", ["http://example.org", "http://192.168.1.5:8765", "http://jarvis.lan:8765/"]
)
def test_login_refuses_plain_http_to_another_host_before_connecting(
    url: str, secret_service: SecretService
) -> None:
    """`jarvis login --server http://<not this computer>` is refused with the reason and what to
    do; nothing is stored."""
    credentials.delete_token()
    done = _jarvis("login", "--server", url, stdin="some-device-token\n")
    assert done.returncode == 2, done.stderr
    assert "plain http would send the device token" in done.stderr
    assert "https://" in done.stderr
    assert "allow-insecure-http" in done.stderr
    assert credentials.load_token() is None
    assert ConfigStore().load_file().server.url is None


@pytest.mark.keyring
def test_login_sends_nothing_to_a_plain_http_host_on_the_network(
    secret_service: SecretService, strangers: Callable[..., Stranger]
) -> None:
    """A real listener on this machine's network address: `jarvis login` over plain http to it
    does not send it a single request."""
    credentials.delete_token()
    stranger = strangers(_network_address(), free_port())
    done = _jarvis("login", "--server", stranger.url, stdin="some-device-token\n")
    assert done.returncode != 0
    assert "plain http" in done.stderr
    assert stranger.requests == []
    assert credentials.load_token() is None


@pytest.mark.keyring
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_login_over_plain_http_to_this_computer_works(
    host: str, secret_service: SecretService, server_factory: ServerFactory
) -> None:
    """Loopback http is this computer: login to a real local server is accepted."""
    server = server_factory()
    token = server.create_token(f"loopback-{host}")
    url = f"http://{host}:{server.port}"
    done = _jarvis("login", "--server", url, stdin=token + "\n")
    assert done.returncode == 0, done.stderr
    assert ConfigStore().load_file().server.url == url
    credentials.delete_token()


@pytest.mark.parametrize(
    "url", ["https://jarvis.example.com", "https://192.168.1.5:8443", "http://[::1]:8765"]
)
def test_https_and_loopback_addresses_are_accepted(url: str) -> None:
    """https to any host, and plain http to ::1, are valid server addresses without an opt-in."""
    done = _jarvis("config", "set", "server.url", url)
    assert done.returncode == 0, done.stderr
    assert ConfigStore().load_file().server.url == url


def test_opt_in_allows_plain_http_and_doctor_warns() -> None:
    """With server.allow_insecure_http the address is accepted, and `jarvis doctor` says the
    token and captures go unencrypted; without it `config set` refuses it."""
    url = "http://192.168.1.5:8765"
    refused = _jarvis("config", "set", "server.url", url)
    assert refused.returncode != 0
    assert "plain http" in refused.stderr + refused.stdout
    assert _jarvis("config", "set", "server.allow_insecure_http", "true").returncode == 0
    assert _jarvis("config", "set", "server.connect_timeout_seconds", "1").returncode == 0
    accepted = _jarvis("config", "set", "server.url", url)
    assert accepted.returncode == 0, accepted.stderr
    doctor = _jarvis("doctor")
    warning = [line for line in doctor.stdout.splitlines() if line.startswith("WARN transport")]
    assert warning, doctor.stdout
    assert "unencrypted" in warning[0]
    assert url in warning[0]


@pytest.mark.keyring
def test_login_with_the_opt_in_reaches_a_plain_http_server_on_the_network(
    secret_service: SecretService, server_factory: ServerFactory, tmp_path: Path
) -> None:
    """`jarvis login --allow-insecure-http` logs in to a real server on the network address,
    saves the opt-in with the address, and warns."""
    address = _network_address()
    server = server_factory()
    token = server.create_token("lan-device")
    # The fixture's server listens on loopback; a second one on the network address, same data.
    port = free_port()
    lan = subprocess.Popen(
        [sys.executable, "-m", "jarvis_server", "serve", "--host", address, "--port", str(port)],
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://{address}:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=2).is_success
            except httpx.HTTPError:
                return False

        _wait(answers, "the server on the network address")
        done = _jarvis("login", "--allow-insecure-http", "--server", url, stdin=token + "\n")
        assert done.returncode == 0, done.stderr
        assert "unencrypted" in done.stderr
        saved = ConfigStore().load_file().server
        assert (saved.url, saved.allow_insecure_http) == (url, True)
    finally:
        lan.terminate()
        lan.wait(60)
        credentials.delete_token()


# --- the upload path refuses too, whatever the config file says ---------------------------


def _outbox(tmp_path: Path) -> Outbox:
    box = Outbox.open(tmp_path / "outbox", key=new_key())
    metadata, data = capture()
    box.put(metadata, data)
    return box


@pytest.mark.parametrize("who", ["network host", "another uid on loopback"])
def test_sync_worker_sends_nothing_to_a_server_it_cannot_trust(
    who: str, tmp_path: Path, strangers: Callable[..., Stranger]
) -> None:
    """The sync worker given a plain-http address of another host (say, from a hand-edited
    config) or a loopback port held by another user: no request with a token, no upload, the
    capture stays queued, and the status says why."""
    if who == "network host":
        stranger = strangers(_network_address(), free_port())
    else:
        stranger = strangers("127.0.0.1", free_port(), uid=SPARE_UID)
    box = _outbox(tmp_path)
    worker = SyncWorker(
        box,
        server_url=stranger.url,
        token_provider=lambda: "a-device-token",
        retry=RetryPolicy(base=0.05, cap=0.2),
    )
    worker.start()
    try:
        refused = lambda: worker.status().state == "untrusted"  # noqa: E731
        _wait(lambda: refused() or stranger.got_a_token, "the worker to refuse", 60)
        time.sleep(1)  # several backoff rounds: still nothing may go out
        status = worker.status()
    finally:
        worker.stop()
    assert not stranger.got_a_token, stranger.requests
    assert not stranger.uploads
    assert status.queued == 1
    assert status.last_error is not None
    assert "plain http" in status.last_error or f"uid {SPARE_UID}" in status.last_error
    box.close()


def test_uploader_to_a_local_listener_refuses_without_proof(
    strangers: Callable[..., Stranger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the kernel's socket table cannot be read (macOS, Windows), a loopback listener
    must answer the identity challenge: a stranger that cannot is sent a nonce, nothing else."""
    from jarvis_contract import IDENTITY_PATH

    stranger = strangers("127.0.0.1", free_port())
    monkeypatch.setattr("jarvis_sync.client.listener_uids", lambda port: None)
    uploader = Uploader(stranger.url, identity_key=secrets.token_bytes(32))
    metadata, data = capture()
    outcome = uploader.upload("a-device-token", metadata, data)
    uploader.close()
    assert outcome.kind == "untrusted"
    assert "could not prove" in outcome.detail
    assert [r["path"] for r in stranger.requests] == [IDENTITY_PATH]
    assert not stranger.got_a_token


# --- the server's side of the proof ------------------------------------------------------


def test_server_proves_the_identity_key_it_was_given(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    """With JARVIS_IDENTITY_KEY_FILE the server answers a nonce with the HMAC of the key, the
    nonce and its port; without it /health/identity is a 404 problem."""
    from jarvis_contract import IDENTITY_PATH, identity_proof

    key_file = tmp_path / "identity.key"
    key = secrets.token_bytes(32)
    key_file.write_text(key.hex())
    key_file.chmod(0o600)
    server = server_factory(env={"JARVIS_IDENTITY_KEY_FILE": str(key_file)})
    nonce = secrets.token_hex(32)
    reply = httpx.get(f"{server.url}{IDENTITY_PATH}", params={"nonce": nonce}, timeout=30)
    assert reply.status_code == 200
    assert reply.json()["proof"] == identity_proof(key, server.port, nonce)
    plain = server_factory()
    missing = httpx.get(f"{plain.url}{IDENTITY_PATH}", params={"nonce": nonce}, timeout=30)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_server_refuses_an_identity_key_others_can_read(tmp_path: Path) -> None:
    """A key file readable by other users proves nothing: `serve` stops with one line naming
    the variable and the fix."""
    key_file = tmp_path / "identity.key"
    key_file.write_text(secrets.token_hex(32))
    key_file.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JARVIS_")}
    env.update(JARVIS_HOME=str(tmp_path / "home"), JARVIS_IDENTITY_KEY_FILE=str(key_file))
    done = subprocess.run(
        [sys.executable, "-m", "jarvis_server", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "JARVIS_IDENTITY_KEY_FILE" in done.stderr
    assert "chmod 600" in done.stderr


# --- item 13: the server `jarvis up` starts does not outlive it --------------------------


def _server_pids(port: int) -> list[int]:
    """Pids of `jarvis_server serve ... --port PORT` processes (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"jarvis_server" in argv and b"serve" in argv and str(port).encode() in argv:
            found.append(int(entry.name))
    return found


@pytest.mark.x11
@pytest.mark.keyring
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG")
def test_server_ends_when_jarvis_up_is_killed(
    x_desktop: Desktop, secret_service: SecretService, tmp_path: Path
) -> None:
    """kill -9 of `jarvis up` (the tray's process): the local server it started ends too."""
    port = free_port()
    env = {
        **os.environ,
        **secret_service.environ,
        "DISPLAY": x_desktop.display,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
    }
    up = subprocess.Popen(
        [JARVIS, "up", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(lambda: _server_pids(port), "the server `jarvis up` starts")
        (server_pid,) = _server_pids(port)
        up.send_signal(signal.SIGKILL)
        up.wait()
        _wait(lambda: not _server_pids(port), "the server to end with its owner")
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        for pid in _server_pids(port):
            os.kill(pid, signal.SIGKILL)
    assert server_pid not in _server_pids(port)
