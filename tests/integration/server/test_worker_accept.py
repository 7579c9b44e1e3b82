"""`serve --workers 2` spreads connections over its workers: a burst of keep-alive clients is
split evenly (which process holds each connection is read from /proc), and a worker that stops
accepting (SIGSTOP) leaves no connection waiting: the other takes them all."""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresCluster
from tests.support.server import LiveServer, child_pids, make_server

pytestmark = pytest.mark.postgres

CLIENTS = 4
ROUNDS = 4


@pytest.fixture(scope="module")
def workers_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_cluster: PostgresCluster
) -> Iterator[tuple[LiveServer, list[int]]]:
    """`serve --workers 2` on PostgreSQL, and its two workers' pids."""
    name = postgres_cluster.create_database()
    server = make_server(
        tmp_path_factory.mktemp("workers"), database_url=postgres_cluster.url(name)
    )
    server.serve_args = ("--workers", "2")
    server.start()
    try:
        assert server.process is not None
        deadline = time.monotonic() + 60
        while server.log_path.read_text().count("worker accepting connections") < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        yield server, child_pids(server.process.pid)
    finally:
        server.stop()
        postgres_cluster.drop_database(name)


def _server_ends(port: int) -> dict[int, int]:
    """Established connections to `port` on 127.0.0.1: client port -> inode of the server's end."""
    ends: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if state == "01" and int(local.split(":")[1], 16) == port:  # 01: ESTABLISHED
            ends[int(remote.split(":")[1], 16)] = inode
    return ends


def _holder(inode: int, pids: list[int]) -> int | None:
    """The process among `pids` that has the socket `inode` open."""
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except FileNotFoundError:  # closed since listed
                continue
    return None


def _open_at_once(server: LiveServer, count: int) -> list[http.client.HTTPConnection]:
    """`count` keep-alive connections opened together, each answered once (so accepted)."""
    conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=30) for _ in range(count)]
    barrier = threading.Barrier(count)
    statuses: list[int] = []

    def ask(conn: http.client.HTTPConnection) -> None:
        barrier.wait()
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)

    threads = [threading.Thread(target=ask, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * count
    return conns


def _held_by(
    server: LiveServer, conns: list[http.client.HTTPConnection], pids: list[int]
) -> Counter[int | None]:
    ends = _server_ends(server.port)
    ports = [c.sock.getsockname()[1] for c in conns]
    return Counter(_holder(ends[p], pids) for p in ports)


def _close_all(server: LiveServer, conns: list[http.client.HTTPConnection]) -> None:
    ports = {c.sock.getsockname()[1] for c in conns}
    for conn in conns:
        conn.close()
    deadline = time.monotonic() + 30
    while ports & set(_server_ends(server.port)):  # the workers have seen them end
        assert time.monotonic() < deadline, "the server kept closed connections"
        time.sleep(0.02)


def _burst(server: LiveServer, pids: list[int]) -> Counter[int | None]:
    """Which worker held each of CLIENTS connections opened at once (then closed)."""
    conns = _open_at_once(server, CLIENTS)
    try:
        return _held_by(server, conns, pids)
    finally:
        _close_all(server, conns)


def test_a_burst_of_clients_is_split_evenly_over_the_workers(
    workers_server: tuple[LiveServer, list[int]],
) -> None:
    """4 clients connecting at the same moment, 4 times over: each worker holds 2 of them every
    time (with the event loop's own accept, the first worker to wake took 3 or 4)."""
    server, pids = workers_server
    for _ in range(ROUNDS):
        held = _burst(server, pids)
        assert sorted(held.values()) == [2, 2], held
        assert None not in held, held


def test_a_worker_that_stops_accepting_strands_no_connection(
    workers_server: tuple[LiveServer, list[int]],
) -> None:
    """One worker stopped (SIGSTOP, as a hung process): connections opened one after the other
    are all answered, by the other worker; once it runs again, both take connections."""
    server, pids = workers_server
    stopped, running = pids
    os.kill(stopped, signal.SIGSTOP)
    try:
        conns = [_open_at_once(server, 1)[0] for _ in range(3)]
        held = _held_by(server, conns, pids)
    finally:
        os.kill(stopped, signal.SIGCONT)
    _close_all(server, conns)
    assert held == Counter({running: 3}), held
    held = _burst(server, pids)
    assert sorted(held.values()) == [2, 2], held
