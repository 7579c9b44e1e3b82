"""Fixtures: a private PostgreSQL 15 cluster for the test session, and a fresh database per test.

The cluster is created with Debian's initdb in a temporary directory (as the `postgres` user when
the tests run as root, since initdb refuses root), listens on 127.0.0.1 on a free port with its
unix socket inside that directory, and is removed at the end of the session. It is never skipped:
when PostgreSQL is missing the tests fail and say what to install.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN_DIRS = [
    Path("/usr/lib/postgresql/15/bin"),
    *sorted(Path("/usr/lib/postgresql").glob("*/bin")),
]


def _pg_bin(name: str) -> Path:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return d / name
    found = shutil.which(name)
    if found:
        return Path(found)
    pytest.fail(
        f"PostgreSQL's {name} is not installed; run `bash scripts/bootstrap.sh` "
        "(apt-get install postgresql) so the PostgreSQL tests can run",
        pytrace=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PostgresCluster:
    """A running private cluster; `url(db)` is a SQLAlchemy asyncpg URL for one database."""

    base: Path
    port: int
    _as_user: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str) -> str:
        """Run one SQL statement as the superuser and return its unaligned output."""
        cmd = [
            str(_pg_bin("psql")),
            "-h",
            str(self.base),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.psql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _runner() -> list[str]:
    """How to run initdb/pg_ctl: as `postgres` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root but there is no `postgres` user; install postgresql")
    runuser = shutil.which("runuser")  # util-linux: always there on Debian
    if runuser is None:
        pytest.fail("running as root but `runuser` is missing; install util-linux")
    return [runuser, "-u", "postgres", "--"]


def _run(prefix: list[str], args: list[str]) -> None:
    done = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")


def start_cluster(base: Path | None = None) -> PostgresCluster:
    """Create and start a private cluster (also used by benchmarks/ingest.py). With `base`, the
    cluster lives there and one made there before is started again (benchmarks keep a filled
    cluster between runs); stop it with stop_cluster(cluster, remove=False)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="jarvis-pg-"))
    else:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
    prefix = _runner()
    if prefix:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    data, port = base / "data", free_port()
    if not (data / "PG_VERSION").exists():
        _run(prefix, [str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"])
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=on"
    _run(
        prefix,
        [str(pg_ctl), "-D", str(data), "-l", str(base / "log"), "-w", "-o", options, "start"],
    )
    return PostgresCluster(base=base, port=port, _as_user=prefix)


def stop_cluster(cluster: PostgresCluster, *, remove: bool = True) -> None:
    try:
        _run(
            cluster._as_user,
            [
                str(_pg_bin("pg_ctl")),
                "-D",
                str(cluster.base / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        )
    finally:
        if remove:
            shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """The session's private PostgreSQL cluster (created once, removed at the end)."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """SQLAlchemy URL (postgresql+asyncpg) of the cluster's `postgres` database."""
    return postgres_cluster.url()


@pytest.fixture
def postgres_database(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database for this test only; its asyncpg URL. Dropped afterwards."""
    name = postgres_cluster.create_database()
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture
def fresh_postgres_database(postgres_cluster: PostgresCluster) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases (for tests that need more than one); all dropped after."""
    made: list[str] = []

    def make() -> str:
        name = postgres_cluster.create_database()
        made.append(name)
        return postgres_cluster.url(name)

    yield make
    for name in made:
        postgres_cluster.drop_database(name)
