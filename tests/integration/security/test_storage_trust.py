"""Trust review items 1 and 4: storage that looks empty never turns into deletions, and the
server's files are private to its user.

Replayed against the real `jarvis-server serve` over loopback, on SQLite and PostgreSQL, and with
the images in an S3 bucket (rclone's, and moto's for the cases that need no old object): a start
with the storage volume missing (or a database that lists none of the files) refuses with one
clear line and changes nothing; a lost file marks its capture missing (API, health, log) and only
`storage purge-missing` removes it; an old file without a row is quarantined, not deleted; every
folder is 0700 and every file 0600 whatever the umask, and looser modes are fixed at start.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from jarvis_contract import CAPTURES_PATH, ProblemType
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import Capture, make_capture, make_image, upload
from tests.support.postgres import PostgresCluster
from tests.support.s3 import MotoServer, S3Server
from tests.support.server import LiveServer, make_server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# The storage guarantees hold for an S3 bucket too (rclone's, whose objects are files on disk).
STORAGES = [
    *BACKENDS,
    pytest.param("postgres-s3", marks=pytest.mark.postgres),
]
# And on moto's S3, reached only through the protocol; not for the cases that need an object
# older than the crash window: moto stamps Last-Modified at the PUT and nothing backdates it.
WITH_MOTO = [*STORAGES, pytest.param("postgres-moto", marks=pytest.mark.postgres)]
TWO_HOURS = 2 * 3600  # past the crash window (1 h): an orphan this old is not an upload in flight


class Hands:
    """What a test does to the stored images behind the server's back: on a folder (the
    storage directory, or rclone's bucket) with file operations."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server

    def key_of(self, capture: Capture) -> str:
        root = self.server.storage_dir
        [path] = [p for p in self.server.stored_files() if p.name.startswith(capture.id)]
        return str(path.relative_to(root))

    def take(self, key: str) -> bytes:
        """Remove one image, returning its bytes."""
        path = self.server.storage_dir / key
        data = path.read_bytes()
        path.unlink()
        return data

    def put(self, key: str, data: bytes) -> None:
        (self.server.storage_dir / key).write_bytes(data)

    def unmount(self) -> None:
        """The volume (or bucket) gone, with everything on it."""
        self.server.storage_dir.rename(self.server.storage_dir.with_name("volume"))

    def present(self) -> bool:
        return self.server.storage_dir.exists()

    def mount_empty(self) -> None:
        """An empty volume (an unmounted one's mount point) or bucket in its place."""
        self.server.storage_dir.mkdir()

    def remount(self) -> None:
        """The volume back as it was."""
        self.server.storage_dir.rmdir()
        self.server.storage_dir.with_name("volume").rename(self.server.storage_dir)

    def quarantined(self) -> list[str]:
        return [p.name for p in self.server.quarantined_files()]


class MotoHands(Hands):
    """The same on moto, through the S3 API."""

    def __init__(self, server: LiveServer, moto: MotoServer, bucket: str) -> None:
        super().__init__(server)
        self.moto, self.bucket = moto, bucket
        self.aside: dict[str, bytes] = {}

    def key_of(self, capture: Capture) -> str:
        [key] = [k for k in self.moto.objects(self.bucket) if f"/{capture.id}." in k]
        return key

    def take(self, key: str) -> bytes:
        data = self.moto.objects(self.bucket)[key]
        self.moto.delete_object(self.bucket, key)
        return data

    def put(self, key: str, data: bytes) -> None:
        self.moto.put_object(self.bucket, key, data)

    def unmount(self) -> None:
        self.aside = self.moto.objects(self.bucket)
        self.moto.remove_bucket(self.bucket)

    def present(self) -> bool:
        return httpx.head(f"{self.moto.endpoint}/{self.bucket}", timeout=30).status_code == 200

    def mount_empty(self) -> None:
        httpx.put(f"{self.moto.endpoint}/{self.bucket}", timeout=30).raise_for_status()

    def remount(self) -> None:
        for key, data in self.aside.items():
            self.put(key, data)

    def quarantined(self) -> list[str]:
        return [k for k in self.moto.objects(self.bucket) if k.startswith(".quarantine/")]


Factory = Callable[[], tuple[LiveServer, Hands]]


@pytest.fixture(params=WITH_MOTO)
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """A (not started) server of this test's own, on SQLite or a fresh PostgreSQL database,
    with a storage directory, or a fresh bucket of the session's rclone (postgres-s3) or moto
    (postgres-moto) server; and the hands that reach its images."""
    made: list[LiveServer] = []

    def factory() -> tuple[LiveServer, Hands]:
        database_url = None
        env: dict[str, str] = {}
        object_dir: Path | None = None
        moto: tuple[MotoServer, str] | None = None
        if request.param == "postgres-s3":
            s3: S3Server = request.getfixturevalue("s3_server")
            bucket = s3.new_bucket()
            env, object_dir = s3.env(bucket), s3.bucket_dir(bucket)
        if request.param == "postgres-moto":
            moto_server: MotoServer = request.getfixturevalue("moto_server")
            moto = moto_server, moto_server.new_bucket()
            env = moto_server.env(moto[1])
        if request.param.startswith("postgres"):
            cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
            name = cluster.create_database()
            request.addfinalizer(lambda: cluster.drop_database(name))
            database_url = cluster.url(name)
        server = make_server(
            tmp_path / f"home-{len(made)}", env, database_url=database_url, object_dir=object_dir
        )
        made.append(server)
        return server, (MotoHands(server, *moto) if moto else Hands(server))

    yield factory
    for server in made:
        server.stop()


def _serve_outcome(server: LiveServer) -> tuple[int | None, str]:
    """Run `serve`: its exit code and stderr if it stops at start, or (None, stderr) if it
    comes up and answers /health (then it is stopped)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "jarvis_server", "serve", "--port", str(server.port)],
        env=server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120  # a bound only for a hung start-up
    try:
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
    except BaseException:
        process.kill()
        process.communicate()
        raise
    if process.poll() is None:
        process.terminate()
        _out, err = process.communicate(timeout=60)
        return None, err
    _out, err = process.communicate()
    return process.returncode, err


def _store(server: LiveServer, count: int) -> tuple[str, list[Capture]]:
    token = server.create_token("laptop")
    captures = [make_capture(make_image(seed=i)) for i in range(count)]
    with server.client(token) as client:
        for capture in captures:
            assert upload(client, capture).status_code == 201
    return token, captures


def _file_of(server: LiveServer, capture: Capture) -> Path:
    [path] = [p for p in server.stored_files() if p.name.startswith(capture.id)]
    return path


def _assert_refused(server: LiveServer, *words: str) -> str:
    code, stderr = _serve_outcome(server)
    assert code == 1, f"serve did not refuse the storage directory:\n{stderr}"
    assert "Traceback" not in stderr
    # One line says why; only a warning about modes it fixed may come before it.
    *before, line = stderr.strip().splitlines()
    assert all("made files private" in ln for ln in before), stderr
    assert line.startswith(f"jarvis-server: {server.storage_setting}: "), stderr
    for word in (server.storage_location, "Nothing was changed", *words):
        assert word in line, stderr
    return line


def test_a_start_with_the_storage_volume_missing_deletes_nothing(make: Factory) -> None:
    """The attack: captures stored, the server stopped, then started with the storage
    directory gone and then with it empty (an unmounted volume). Each start refuses with one
    line naming the directory and JARVIS_STORAGE_DIR and asking whether the volume is mounted,
    exit code 1. With the volume back the server starts and every row and file is there."""
    server, hands = make()
    server.start()
    _token, captures = _store(server, 3)
    server.stop()
    hands.unmount()

    _assert_refused(server, "is the volume mounted?", "does not exist")
    assert not hands.present(), "a refused start creates nothing"
    hands.mount_empty()  # the mount point of an unmounted volume: empty
    _assert_refused(server, "is the volume mounted?", "holds only 0 of the 3")
    check = server.cli("storage", "check", check=False)
    assert check.returncode == 1
    assert "serve would refuse" in check.stdout

    hands.remount()
    server.start()
    records = server.captures()
    assert sorted(str(r.id) for r in records) == sorted(c.id for c in captures)
    assert all(r.image_missing_since is None for r in records)
    for capture in captures:
        assert server.image_bytes(capture.id) == capture.data
    assert hands.quarantined() == []


@pytest.mark.parametrize("make", STORAGES, indirect=True)
def test_a_database_that_lists_none_of_the_files_is_refused(make: Factory) -> None:
    """The second half of the attack: a database that does not know the directory's files
    (a new, emptied or wrong database) meets a full storage directory. `serve` refuses with one
    line naming both settings; no file is deleted or moved."""
    server, _hands = make()
    day = server.storage_dir / "2026" / "03" / "04"
    day.mkdir(parents=True)
    old = time.time() - TWO_HOURS
    for i in range(150):
        path = day / f"{i:04d}.jpg"
        path.write_bytes(b"jpeg bytes of another database")
        os.utime(path, (old, old))
    before = server.stored_files()

    _assert_refused(server, "does not list", "JARVIS_DATABASE_URL")
    assert server.stored_files() == before
    assert server.quarantined_files() == []


def test_a_capture_whose_file_is_gone_is_marked_not_deleted(make: Factory) -> None:
    """A row whose image file was deleted is kept and marked: the API record carries
    image_missing_since and the image answers 404 saying so, /health/storage is "degraded" with
    the count, the log counts it in one line. A file that comes back is re-linked by
    `storage repair`. Only `storage purge-missing` deletes a row, and only with --yes (without a
    terminal it refuses and changes nothing)."""
    server, hands = make()
    server.start()
    token, captures = _store(server, 4)
    server.stop()
    lost, back = captures[1], captures[2]
    hands.take(hands.key_of(lost))
    back_key = hands.key_of(back)
    aside = hands.take(back_key)

    server.start()
    records = {str(r.id): r for r in server.captures()}
    assert set(records) == {c.id for c in captures}
    assert {i for i, r in records.items() if r.image_missing_since is not None} == {
        lost.id,
        back.id,
    }
    with server.client(token) as client:
        body = assert_problem(
            client.get(f"{CAPTURES_PATH}/{lost.id}/image"), 404, ProblemType.NOT_FOUND
        )
        assert "storage check" in body["detail"]
        health = client.get("/health/storage")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["captures_missing_file"] == 2
    log = server.log_path.read_text()
    [line] = [ln for ln in log.splitlines() if "captures without their image file" in ln]
    assert "captures=2" in line
    assert "captures_marked_missing=2" in log
    assert "captures marked missing:  2" in server.cli("storage", "check").stdout

    hands.put(back_key, aside)
    server.cli("storage", "repair")
    assert server.image_bytes(back.id) == back.data
    assert [str(r.id) for r in server.captures() if r.image_missing_since] == [lost.id]

    refused = subprocess.run(
        [sys.executable, "-m", "jarvis_server", "storage", "purge-missing"],
        env=server.env,
        stdin=subprocess.DEVNULL,  # no terminal to answer the question: refused
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "--yes" in refused.stderr
    assert len(server.captures()) == 4

    server.cli("storage", "purge-missing", "--yes")
    assert sorted(str(r.id) for r in server.captures()) == sorted(
        c.id for c in captures if c is not lost
    )
    with server.client(token) as client:
        assert client.get("/health/storage").json()["status"] == "ok"


@pytest.mark.parametrize("make", STORAGES, indirect=True)
def test_an_old_orphan_is_quarantined_and_a_fresh_one_left_alone(make: Factory) -> None:
    """A file no row lists and older than the crash window is moved to quarantine with its
    bytes (not deleted); one inside the crash window (maybe an upload about to commit) is left
    where it is. `storage purge-quarantine --yes` deletes the quarantined file on request."""
    server, _hands = make()
    server.start()
    _token, captures = _store(server, 2)
    server.stop()
    day = server.storage_dir / "2026" / "02" / "03"
    day.mkdir(parents=True)
    old, fresh = day / f"{make_capture().id}.jpg", day / f"{make_capture().id}.jpg"
    old.write_bytes(old_bytes := make_image(seed=10))
    fresh.write_bytes(make_image(seed=11))
    two_hours_ago = time.time() - TWO_HOURS
    os.utime(old, (two_hours_ago, two_hours_ago))

    server.start()
    assert not old.exists()
    [quarantined] = server.quarantined_files()
    assert quarantined.name == old.name
    assert quarantined.read_bytes() == old_bytes
    assert fresh.exists()
    assert len(server.captures()) == 2
    server.stop()

    server.cli("storage", "purge-quarantine", "--yes")
    assert server.quarantined_files() == []
    assert fresh.exists()
    assert all(_file_of(server, c).exists() for c in captures)


def _modes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
        for p in [root, *root.rglob("*")]
        if p.is_dir() or p.is_file()
    }


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_server_files_are_private_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    """Under umask 022 and 000, everything `serve` and its CLI create is private: the data dir
    and every storage folder 0700; the database with its -wal/-shm, the images and the log
    (stderr, opened by whoever started the server) 0600."""
    server = make_server(tmp_path / "home")
    with _umask(mask):
        server.start()
        try:
            _store(server, 2)
            data = server.home / "server"
            modes = _modes(data)
            log_mode = stat.S_IMODE(server.log_path.stat().st_mode)
        finally:
            server.stop()
    assert any(name.endswith("-wal") for name in modes), modes
    loose = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (data / name).is_dir() else 0o600)
    }
    assert loose == {}
    assert log_mode == 0o600


def test_jarvis_up_server_log_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`jarvis up`'s local server writes its log 0600 under umask 022 (it was 0644)."""
    from jarvis_ui.up import ensure_server
    from tests.support.postgres import free_port

    monkeypatch.setenv("JARVIS_HOME", str(tmp_path))
    with _umask(0o022):
        server = ensure_server(free_port(), say=lambda _: None)
    try:
        assert server.log_path is not None
        assert stat.S_IMODE(server.log_path.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "server").stat().st_mode) == 0o700
    finally:
        server.stop()


def test_loose_modes_left_by_an_older_server_are_fixed_with_one_warning(tmp_path: Path) -> None:
    """A database, an image and a folder left readable by others (0644/0755) are made 0600 and
    0700 at start, and one warning line names what was fixed."""
    server = make_server(tmp_path / "home")
    server.start()
    _token, [capture] = _store(server, 1)
    server.stop()
    database = server.home / "server" / "jarvis.db"
    image = _file_of(server, capture)
    database.chmod(0o644)
    image.chmod(0o644)
    image.parent.chmod(0o755)
    server.log_path.write_bytes(b"")

    server.start()
    server.stop()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(image.stat().st_mode) == 0o600
    assert stat.S_IMODE(image.parent.stat().st_mode) == 0o700
    warnings = [ln for ln in server.log_path.read_text().splitlines() if "private" in ln]
    assert len(warnings) == 1, warnings
    for path in (database, image, image.parent):
        assert str(path) in warnings[0]
