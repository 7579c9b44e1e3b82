"""Fixtures: the real Jarvis server as a subprocess on a free loopback port.

`live_server` is one server on SQLite; `server_factory(env=..., database_url=...)` makes more
(other settings, PostgreSQL). Each server has its own JARVIS_HOME (`server.home`), separate from
the test's agent JARVIS_HOME, and logs to `server.log_path`. Tokens are returned, never printed.
"""

from __future__ import annotations

import ctypes
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from jarvis_contract import CAPTURES_PATH, CaptureMetadata, CapturePage, CaptureRecord
from jarvis_sync.uploader import Uploader
from tests.support.postgres import free_port

_START_TIMEOUT = 60.0  # a bound for a broken start-up; a healthy server answers in ~1 s


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies (Linux prctl), so a
    killed or timed-out pytest run leaves no server behind. Tied to the spawning thread, which
    for fixtures is the main thread."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def child_pids(pid: int) -> list[int]:
    """The live children of a process (a `serve --workers` parent's workers), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(p) for p in (task / "children").read_text().split())
    return found


class ServerError(RuntimeError):
    """The server or its CLI did not do what the fixture asked."""


@dataclass
class LiveServer:
    """A real `jarvis-server serve` process and the CLI bound to the same data."""

    url: str
    home: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    # With an S3 bucket: the folder the test's S3 server keeps the bucket's objects in.
    object_dir: Path | None = None
    serve_args: tuple[str, ...] = ()  # more `serve` options, e.g. ("--workers", "2")
    _admin_token: str | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    @property
    def storage_setting(self) -> str:
        """The variable that chooses this server's storage (named in its messages)."""
        # From the settings, not object_dir: a bucket on moto has no folder to name.
        return "JARVIS_STORAGE_URL" if self.env.get("JARVIS_STORAGE_URL") else "JARVIS_STORAGE_DIR"

    @property
    def storage_location(self) -> str:
        """How the server names its storage in messages."""
        if self.env.get("JARVIS_STORAGE_URL"):
            return self.env["JARVIS_STORAGE_URL"].rstrip("/")
        return str(self.storage_dir)

    @property
    def storage_dir(self) -> Path:
        """Where the image files are: the storage directory, or the bucket's folder."""
        if self.object_dir is not None:
            return self.object_dir
        custom = self.env.get("JARVIS_STORAGE_DIR")
        return Path(custom) if custom else self.home / "server" / "storage"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `jarvis-server ARGS` against this server's data; output captured."""
        done = subprocess.run(
            [sys.executable, "-m", "jarvis_server", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            # stderr never carries a token; stdout might, so it is left out.
            raise ServerError(f"jarvis-server {args[0]} failed: {done.stderr.strip()}")
        return done

    def create_token(self, device: str, *, admin: bool = False) -> str:
        """A new token for `device` (replacing any previous one), from `token create`."""
        args = ["token", "create", "--device", device] + (["--admin"] if admin else [])
        token = self.cli(*args).stdout.strip()
        if not token:
            raise ServerError("token create printed no token")
        return token

    def revoke(self, device: str) -> None:
        self.cli("token", "revoke", device)

    def migrate(self) -> None:
        self.cli("migrate")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start (or restart) on the same port and data; returns once /health answers."""
        if self.running:
            raise ServerError("server already running")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jarvis_server",
                "serve",
                "--port",
                str(self.port),
                *self.serve_args,
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"server exited with {self.process.returncode} at start:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise ServerError(f"server did not answer /health in {_START_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM and wait (graceful shutdown)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to clean up."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def admin_token(self) -> str:
        """A token for the fixture's own admin device (created on first use)."""
        if self._admin_token is None:
            self._admin_token = self.create_token("fixture-admin", admin=True)
        return self._admin_token

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def captures(self, admin_token: str | None = None) -> list[CaptureRecord]:
        """Every stored capture of every device, oldest first (read through the API)."""
        items: list[CaptureRecord] = []
        cursor: str | None = None
        with self.client(admin_token or self.admin_token()) as client:
            while True:
                params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
                response = client.get(CAPTURES_PATH, params=params)
                response.raise_for_status()
                page = CapturePage.model_validate_json(response.content)
                items.extend(page.items)
                cursor = page.next_cursor
                if cursor is None:
                    return items

    def stored_files(self) -> list[Path]:
        """Image files in storage (not unfinished uploads, not quarantined files)."""
        root = self.storage_dir
        if not root.is_dir():
            return []
        return sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and not {".tmp", ".quarantine"} & set(p.relative_to(root).parts)
        )

    def quarantined_files(self) -> list[Path]:
        """Files start-up moved aside because no row listed them."""
        folder = self.storage_dir / ".quarantine"
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []

    def temp_files(self) -> list[Path]:
        """Unfinished uploads in the storage's temporary area."""
        tmp = self.storage_dir / ".tmp"
        return sorted(p for p in tmp.iterdir() if p.is_file()) if tmp.is_dir() else []

    def image_bytes(self, capture_id: UUID | str, admin_token: str | None = None) -> bytes:
        with self.client(admin_token or self.admin_token()) as client:
            response = client.get(f"{CAPTURES_PATH}/{capture_id}/image")
            response.raise_for_status()
            return response.content


def server_env(home: Path, env: dict[str, str] | None, database_url: str | None) -> dict[str, str]:
    """The process environment: ours without any JARVIS_* of the test's agent, plus the server's."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("JARVIS_")}
    base["JARVIS_HOME"] = str(home)
    if database_url:
        base["JARVIS_DATABASE_URL"] = database_url
    base.update(env or {})
    return base


def make_server(
    home: Path,
    env: dict[str, str] | None = None,
    database_url: str | None = None,
    object_dir: Path | None = None,
) -> LiveServer:
    """A server (not yet started); PostgreSQL databases are migrated first. `object_dir` is
    the folder of the S3 bucket that `env` names, if any."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = LiveServer(
        url=f"http://127.0.0.1:{port}",
        home=home,
        port=port,
        env=server_env(home, env, database_url),
        object_dir=object_dir,
    )
    if database_url and not database_url.startswith("sqlite"):
        server.migrate()
    return server


ServerFactory = Callable[..., LiveServer]


@pytest.fixture
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """`server_factory(env=None, database_url=None) -> LiveServer`, started; stopped after."""
    made: list[LiveServer] = []

    def factory(env: dict[str, str] | None = None, database_url: str | None = None) -> LiveServer:
        server = make_server(tmp_path_factory.mktemp("server-home"), env, database_url)
        made.append(server)
        server.start()
        return server

    yield factory
    for server in made:
        server.stop()


@pytest.fixture
def live_server(server_factory: ServerFactory) -> LiveServer:
    """A started server on SQLite with default settings."""
    return server_factory()


@dataclass
class UploadSink:
    """A capture pipeline's sink that hands each capture to the real server, as the sync worker
    would (jarvis_sync's Uploader), and keeps what was stored."""

    server: LiveServer
    token: str
    device: str
    stored: list[CaptureMetadata] = field(default_factory=list)

    def __call__(self, metadata: CaptureMetadata, data: bytes, thumbnail: bytes | None) -> None:
        with Uploader(self.server.url) as uploader:
            outcome = uploader.upload(self.token, metadata, data)
        assert outcome.status == 201, outcome
        self.stored.append(metadata)

    def records(self) -> list[CaptureRecord]:
        """What the server holds from this sink's device, oldest first."""
        return [record for record in self.server.captures() if record.device == self.device]

    def image(self, metadata: CaptureMetadata) -> npt.NDArray[np.uint8]:
        """The stored image as the server serves it (RGB)."""
        data = self.server.image_bytes(metadata.id)
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server on SQLite for a whole test module (for tests that only add captures)."""
    server = make_server(tmp_path_factory.mktemp("server-home"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def upload_sink(module_server: LiveServer) -> UploadSink:
    """Captures go to the module's server under a device of this test's own."""
    device = f"laptop-{uuid4().hex[:8]}"
    return UploadSink(module_server, module_server.create_token(device), device)
