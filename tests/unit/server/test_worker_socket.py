"""A `serve --workers` worker serves its inherited listening socket as TCP: its connections get
TCP_NODELAY, so no response waits ~40 ms on Nagle's algorithm and the client's delayed ACK."""

from __future__ import annotations

import asyncio
import os
import socket

import uvloop

from jarvis_server.workers import listening_socket, worker_socket


async def _nodelay_of_accepted(sock: socket.socket) -> int:
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            conn: socket.socket = transport.get_extra_info("socket")
            accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    host, port = sock.getsockname()[:2]
    _reader, writer = await asyncio.open_connection(host, port)
    try:
        return await accepted
    finally:
        writer.close()
        server.close()


def test_a_workers_connections_have_tcp_nodelay() -> None:
    """The socket rebuilt from the inherited descriptor is served by uvloop as TCP, with
    TCP_NODELAY on each accepted connection (as a single-process server has)."""
    parent = listening_socket("127.0.0.1", 0)
    try:
        sock = worker_socket(os.dup(parent.fileno()))  # as a worker inherits it
        assert sock.family == socket.AF_INET
        assert uvloop.run(_nodelay_of_accepted(sock)) != 0
    finally:
        parent.close()
