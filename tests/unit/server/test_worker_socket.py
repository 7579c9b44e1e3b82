"""A `serve --workers` worker serves its inherited listening socket as TCP: its connections get
TCP_NODELAY, so no response waits ~40 ms on Nagle's algorithm and the client's delayed ACK; and
it publishes how many connections it holds in the table its peers read."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

import uvloop

from jarvis_server.worker_accept import ABSENT, Tally, accept_evenly, new_table
from jarvis_server.workers import listening_socket, worker_socket


async def _serve_one(sock: socket.socket, tally: Tally, peer: Tally) -> tuple[int, int, int]:
    """TCP_NODELAY of the connection accepted, and the count the peer reads while it is open
    and once it has ended."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    ended = asyncio.Event()
    held: set[asyncio.BaseTransport] = set()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            held.add(transport)
            conn: socket.socket = transport.get_extra_info("socket")
            accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        def connection_lost(self, exc: Exception | None) -> None:
            held.clear()
            tally.publish(0)  # as the server's protocol does once a connection ends
            ended.set()

    task = asyncio.create_task(accept_evenly(sock, Probe, tally, lambda: len(held)))
    host, port = sock.getsockname()[:2]
    _reader, writer = await asyncio.open_connection(host, port)
    try:
        nodelay = await accepted
        for _ in range(500):  # the count is published once the connection is made
            if (while_open := peer.fewest_elsewhere()) != 0:
                break
            await asyncio.sleep(0.01)
        writer.close()
        await ended.wait()
        return nodelay, while_open, peer.fewest_elsewhere()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_a_workers_connections_have_tcp_nodelay_and_are_counted() -> None:
    """The socket rebuilt from the inherited descriptor is a TCP socket; each connection the
    worker accepts has TCP_NODELAY (as a single-process server's have), and its peers read 1
    while it is open, 0 after, and ABSENT once the worker stops accepting."""
    parent = listening_socket("127.0.0.1", 0)
    try:
        sock = worker_socket(os.dup(parent.fileno()))  # as a worker inherits it
        assert sock.family == socket.AF_INET
        with new_table(2) as table:
            mine, peer = Tally(table.fileno(), 0), Tally(table.fileno(), 1)
            assert peer.fewest_elsewhere() == ABSENT  # not accepting yet
            nodelay, while_open, after = uvloop.run(_serve_one(sock, mine, peer))
            assert nodelay != 0
            assert (while_open, after) == (1, 0)
            assert peer.fewest_elsewhere() == ABSENT
    finally:
        parent.close()


# A worker whose process has no descriptor left while a client waits, then has some again. It
# prints its port, "full" once out of descriptors, and its log lines.
_OUT_OF_DESCRIPTORS = """
import asyncio, os, resource, sys
import structlog, uvloop
from jarvis_server.worker_accept import Tally, accept_evenly, new_table
from jarvis_server.workers import listening_socket

structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stdout))

class Hello(asyncio.Protocol):
    def connection_made(self, transport):
        transport.write(b"hello")
        transport.close()

async def main():
    listener = listening_socket("127.0.0.1", 0)
    print(listener.getsockname()[1], flush=True)
    with new_table(1) as table:
        tally = Tally(table.fileno(), 0)
        task = asyncio.create_task(accept_evenly(listener, Hello, tally, lambda: 0))
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        fillers = []
        try:
            while True:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        print("full", flush=True)
        await asyncio.sleep(float(sys.argv[1]))
        for fd in fillers:
            os.close(fd)
        await asyncio.sleep(2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

uvloop.run(main())
"""


def test_a_worker_out_of_descriptors_says_so_once_and_serves_when_it_has_some_again() -> None:
    """While the worker's process has no descriptor for a waiting client, accepting fails at
    every retry: that is logged once (it was 10 lines a second for as long as it lasted), the
    client is served once descriptors are free again, and the log says accepting works again."""
    worker = subprocess.Popen(
        [sys.executable, "-c", _OUT_OF_DESCRIPTORS, "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout is not None
        port = int(worker.stdout.readline())
        assert worker.stdout.readline().strip() == "full"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            assert client.recv(5) == b"hello"  # once the worker had descriptors again
        rest, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, rest
    assert rest.count("could not accept a connection") == 1, rest
    assert "Too many open files" in rest
    assert "accepting connections again" in rest, rest
