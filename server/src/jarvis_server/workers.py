"""`serve --workers N`: N server processes sharing one listening socket.

The parent checks the schema and reconciles storage once, binds the socket, and starts each
worker as a fresh interpreter (`serve --worker-fd FD`), never a fork: a forked child would
inherit the parent's database connections and the S3 client's runtime threads half-alive. The
workers spread connections among themselves (worker_accept). A worker that dies is replaced; a
SIGTERM or SIGINT is passed to every worker and the parent waits for them.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from types import FrameType
from typing import Final

import structlog

from jarvis_server.worker_accept import Tally, new_table

log = structlog.get_logger(__name__)

_BACKLOG: Final = 2048
_RESPAWN_PAUSE: Final = 1.0  # a worker that dies at once is not restarted in a tight loop


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(_BACKLOG)
    sock.set_inheritable(True)
    return sock


def worker_socket(fd: int) -> socket.socket:
    """The listening socket a worker inherited, as the TCP socket it is. (uvicorn's `fd=` wraps
    it as AF_UNIX, and uvloop then serves it as a pipe: no TCP_NODELAY on its connections, so
    Nagle's algorithm held each response's last segment for the client's delayed ACK, ~40 ms.)"""
    return socket.socket(fileno=fd)  # the family is read from the descriptor


def _start(sock: socket.socket, table: int, slot: int) -> subprocess.Popen[bytes]:
    fd = sock.fileno()
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jarvis_server",
            "serve",
            "--worker-fd",
            str(fd),
            "--worker-table",
            str(table),
            "--worker-slot",
            str(slot),
        ],
        pass_fds=(fd, table),
    )


def run_workers(sock: socket.socket, count: int) -> int:
    """Run `count` workers on `sock` until a signal asks them to stop; the exit code."""
    with new_table(count) as table:
        return _supervise(sock, count, table.fileno())


def _supervise(sock: socket.socket, count: int, table: int) -> int:
    stopping = False
    tally = Tally(table, 0)
    workers = [_start(sock, table, i) for i in range(count)]
    log.info("serving with workers", workers=count, pids=[w.pid for w in workers])

    def stop(sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(sig)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        if stopping:
            for worker in workers:
                worker.wait()
            return 0
        for i, worker in enumerate(workers):
            code = worker.poll()
            if code is not None and not stopping:
                log.warning("a worker stopped; starting another", pid=worker.pid, code=code)
                tally.set_absent(i)  # its peers no longer leave connections to it
                time.sleep(_RESPAWN_PAUSE)
                if not stopping:
                    workers[i] = _start(sock, table, i)
        time.sleep(0.2)
