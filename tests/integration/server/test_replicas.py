"""Several server processes on one PostgreSQL database and one S3 bucket behave as one server:
a capture id uploaded to two replicas at once is stored once, the agent's sync path loses
nothing through a load balancer when a replica is killed mid-upload, a capture stored through one
replica reaches the event streams of the other (LISTEN/NOTIFY), `serve --workers N` serves
from N processes and replaces one that is killed, migrations started together take turns, and
SQLite refuses --workers."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from jarvis_sync import Outbox, SyncWorker
from jarvis_sync.cipher import new_key
from tests.integration.server.uploads import Capture, make_capture, make_image, upload
from tests.support.loadbalancer import start_load_balancer
from tests.support.postgres import PostgresCluster
from tests.support.s3 import S3Server
from tests.support.server import LiveServer, child_pids, make_server
from tests.support.syncworker import start_worker, wait_until
from tests.unit.sync.factory import jpeg_bytes, metadata_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def shared(postgres_cluster: PostgresCluster, s3_server: S3Server) -> Iterator[tuple[str, str]]:
    """A fresh database URL and a fresh bucket, shared by the test's replicas."""
    name = postgres_cluster.create_database()
    try:
        yield postgres_cluster.url(name), s3_server.new_bucket()
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture
def replicas(
    tmp_path: Path, shared: tuple[str, str], s3_server: S3Server
) -> Iterator[list[LiveServer]]:
    """Two started replicas (separate processes and homes) on one database and bucket."""
    yield from _replicas(tmp_path, shared, s3_server, {})


def _replicas(
    tmp_path: Path, shared: tuple[str, str], s3_server: S3Server, env: dict[str, str]
) -> Iterator[list[LiveServer]]:
    database_url, bucket = shared
    made: list[LiveServer] = []
    for i in range(2):
        server = make_server(
            tmp_path / f"replica-{i}",
            {**s3_server.env(bucket), **env},
            database_url=database_url if i == 0 else None,  # migrated once, by the first
            object_dir=s3_server.bucket_dir(bucket),
        )
        server.env["JARVIS_DATABASE_URL"] = database_url
        made.append(server)
    for server in made:
        server.start()
    yield made
    for server in made:
        server.stop()


def _objects_of(server: LiveServer, capture: Capture) -> list[Path]:
    return [p for p in server.stored_files() if p.name.startswith(capture.id)]


def test_one_capture_id_sent_to_two_replicas_at_once_is_stored_once(
    replicas: list[LiveServer],
) -> None:
    """The same capture sent to both replicas at the same moment, 15 times over: one answer is
    201 and the other 200 (a replay), leaving exactly one row and one object each time; then
    the stored capture and the same id with other bytes, sent to both at once: 200 and 422."""
    first = replicas[0]
    token = first.create_token("laptop")
    captures = [make_capture(make_image(seed=i)) for i in range(15)]
    barrier = threading.Barrier(2)

    def send(server: LiveServer, capture: Capture) -> int:
        with server.client(token) as client:
            barrier.wait()
            return upload(client, capture).status_code

    with ThreadPoolExecutor(2) as pool:
        for capture in captures:
            codes = sorted(pool.map(send, replicas, [capture, capture]))
            assert codes == [200, 201], codes
            other = make_capture(make_image(seed=99), capture_id=capture.meta["id"])
            clash = sorted(pool.map(send, replicas, [capture, other]))
            assert clash == [200, 422], clash
    records = first.captures()
    assert sorted(str(r.id) for r in records) == sorted(c.id for c in captures)
    for capture in captures:
        [stored] = _objects_of(first, capture)
        assert stored.read_bytes() == capture.data


def test_a_capture_stored_by_one_replica_reaches_streams_on_the_other(
    replicas: list[LiveServer],
) -> None:
    """An event stream opened on replica A receives the capture uploaded to replica B (and a
    device stream does not receive another device's capture)."""
    a, b = replicas
    token = a.create_token("laptop")
    other_token = a.create_token("desktop")
    seen: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=a.url, timeout=60) as client,
            client.stream(
                "GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"}
            ) as response,
        ):
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:])["id"])
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(60)
    mine, theirs = make_capture(make_image(seed=1)), make_capture(make_image(seed=2))
    with b.client(other_token) as client:
        assert upload(client, theirs).status_code == 201
    with b.client(token) as client:
        assert upload(client, mine).status_code == 201
    listener.join(60)
    assert seen == [mine.id]


def test_a_revoked_token_is_refused_by_every_replica_at_once(
    replicas: list[LiveServer],
) -> None:
    """A token that has just uploaded through both replicas (so each has it in its upload
    cache) is refused by both the moment `token revoke` returns: 403, nothing stored."""
    token = replicas[0].create_token("laptop")
    for i, replica in enumerate(replicas):
        with replica.client(token) as client:
            assert upload(client, make_capture(make_image(seed=i))).status_code == 201
    replicas[0].revoke("laptop")
    late = [make_capture(make_image(seed=10 + i)) for i in range(2)]
    for replica, capture in zip(replicas, late, strict=True):
        with replica.client(token) as client:
            assert upload(client, capture).status_code == 403
    stored = {str(r.id) for r in replicas[1].captures()}
    assert not stored & {c.id for c in late}


def test_a_device_rate_limit_holds_across_replicas(
    tmp_path: Path, shared: tuple[str, str], s3_server: S3Server
) -> None:
    """With a burst of 4 (and a slow refill), uploads alternating between two replicas are
    accepted 4 times in all, not 4 per replica; the next gets 429 with Retry-After."""
    slow = {"JARVIS_RATE_LIMIT_BURST": "4", "JARVIS_RATE_LIMIT_PER_MINUTE": "1"}
    made = _replicas(tmp_path, shared, s3_server, slow)
    servers = next(made)
    try:
        token = servers[0].create_token("laptop")
        codes = []
        for i in range(6):
            with servers[i % 2].client(token) as client:
                response = upload(client, make_capture(make_image(seed=i)))
            codes.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) >= 1
        assert codes == [201, 201, 201, 201, 429, 429]
    finally:
        next(made, None)


def test_a_replica_killed_mid_upload_while_the_agent_sends_loses_nothing(
    tmp_path: Path,
    shared: tuple[str, str],
    s3_server: S3Server,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The agent's own sync path (its encrypted outbox drained by a SyncWorker, four uploads
    at a time) sends 40 queued captures through HAProxy (round robin per request) to two
    replicas; one is SIGKILLed once the drain is under way. The outbox ends empty with every
    capture sent and none given up (dead), and the agent's log shows failed uploads retried.
    On the server every capture id has exactly one row and its image reads back byte for byte;
    each row has one object in the bucket. An object the killed replica stored without
    committing its row (at most one per upload in flight) is a second copy of a capture the
    survivor stored, never a capture of its own; once older than the crash window, a start
    moves it to quarantine, leaving exactly one object per row."""
    made = _replicas(tmp_path, shared, s3_server, {"JARVIS_TEXT_EXTRACTION": "false"})
    replicas = next(made)
    lb = start_load_balancer(tmp_path, [r.port for r in replicas])
    box = Outbox.open(tmp_path / "outbox", key=new_key())
    worker: SyncWorker | None = None
    try:
        token = replicas[0].create_token("laptop")
        captures: dict[str, bytes] = {}
        for _ in range(40):  # large enough (~200 kB) that uploads are in flight at the kill
            data = jpeg_bytes(640, 480)
            metadata = metadata_for(data, mime_type="image/jpeg", width=640, height=480)
            box.put(metadata, data)
            captures[str(metadata.id)] = data
        with caplog.at_level(logging.INFO, logger="jarvis.sync"):
            worker = start_worker(box, lb.url, lambda: token)
            wait_until(lambda: box.stats().sent_total >= 8, "the drain has started")
            replicas[0].kill()
            wait_until(lambda: box.stats().sent_total == 40, "every capture sent", guard=300)
            worker.stop()
        stats = box.stats()
        assert (stats.queued, stats.dead, stats.dead_total) == (0, 0, 0)
        said = [r.getMessage() for r in caplog.records]
        assert any("upload failed, will retry" in m for m in said), "nothing was retried"
        assert not [m for m in said if "refused" in m], said  # no capture given up on

        survivor = replicas[1]
        records = survivor.captures()
        assert sorted(str(r.id) for r in records) == sorted(captures)
        for capture_id, data in captures.items():
            assert survivor.image_bytes(capture_id) == data
        by_id = Counter(p.name.split(".")[0] for p in survivor.stored_files())
        assert set(by_id) == set(captures), "an object that is no capture's"
        orphans = sum(by_id.values()) - len(captures)
        assert 0 <= orphans <= 4, by_id

        # Past the crash window (backdated: a row's own object does not care how old it is),
        # a start quarantines what no row lists.
        two_hours_ago = time.time() - 2 * 3600
        for path in survivor.stored_files():
            os.utime(path, (two_hours_ago, two_hours_ago))
        time.sleep(0.3)  # rclone's directory cache (100 ms)
        survivor.stop()
        survivor.start()
        stored = Counter(p.name.split(".")[0] for p in survivor.stored_files())
        assert stored == dict.fromkeys(captures, 1), "not exactly one object per row"
        assert len(survivor.quarantined_files()) == orphans
        assert all(r.image_missing_since is None for r in survivor.captures())
        for capture_id, data in captures.items():
            assert survivor.image_bytes(capture_id) == data
    finally:
        if worker is not None:
            worker.stop()
        box.close()
        lb.stop()
        next(made, None)


def test_workers_serve_together_and_a_killed_one_is_replaced(
    tmp_path: Path, shared: tuple[str, str], s3_server: S3Server
) -> None:
    """`serve --workers 2` answers from two processes; one SIGKILLed while uploads go on is
    replaced, and every capture, retried by its sender until it is acknowledged, is stored
    exactly once (one row, its object readable)."""
    database_url, bucket = shared
    server = make_server(
        tmp_path / "home",
        s3_server.env(bucket),
        database_url=database_url,
        object_dir=s3_server.bucket_dir(bucket),
    )
    server.serve_args = ("--workers", "2")
    server.start()
    try:
        assert server.process is not None
        deadline = time.monotonic() + 60
        while len(child_pids(server.process.pid)) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        token = server.create_token("laptop")
        captures = [make_capture(make_image(seed=i)) for i in range(40)]

        def deliver(capture: Capture) -> int:
            while True:  # as the agent's uploader does: until acknowledged
                try:
                    with server.client(token) as client:
                        code = upload(client, capture).status_code
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                if code in (200, 201):
                    return code
                time.sleep(0.1)

        with ThreadPoolExecutor(4) as pool:
            results = [pool.submit(deliver, c) for c in captures]
            time.sleep(0.5)
            victim = child_pids(server.process.pid)[0]
            os.kill(victim, signal.SIGKILL)
            codes = [r.result() for r in results]
        assert set(codes) <= {200, 201}
        deadline = time.monotonic() + 60
        while victim in child_pids(server.process.pid) or len(child_pids(server.process.pid)) < 2:
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        assert sorted(str(r.id) for r in server.captures()) == sorted(c.id for c in captures)
        for capture in captures:
            assert server.image_bytes(capture.id) == capture.data
        # The killed worker may have stored an object whose row it never committed (at most
        # one per upload in flight): no row lists it, and a start after the crash window
        # moves it to quarantine (test_storage_trust shows that on a bucket).
        orphans = len(server.stored_files()) - len(captures)
        assert 0 <= orphans <= 4
    finally:
        server.stop()


def test_sqlite_refuses_workers(tmp_path: Path) -> None:
    """`serve --workers 2` on SQLite exits 1 with one line saying why and what to do."""
    server = make_server(tmp_path / "home")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jarvis_server",
            "serve",
            "--port",
            str(server.port),
            "--workers",
            "2",
        ],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=300,  # a bound for a hang only
        check=False,
    )
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("jarvis-server: --workers 2: SQLite is served by one process"), line
    assert "JARVIS_DATABASE_URL" in line


def test_migrations_started_together_take_turns(postgres_cluster: PostgresCluster) -> None:
    """Three `jarvis-server migrate` started at once on an empty database all succeed (an
    advisory lock makes them take turns; the later ones find the schema up to date)."""
    name = postgres_cluster.create_database()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JARVIS_")}
        env["JARVIS_DATABASE_URL"] = postgres_cluster.url(name)
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "jarvis_server", "migrate"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for run in runs:
            _out, err = run.communicate(timeout=300)
            assert run.returncode == 0, err
    finally:
        postgres_cluster.drop_database(name)
