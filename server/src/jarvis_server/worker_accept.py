"""`serve --workers N`: each new connection goes to a worker holding the fewest.

The workers share one listening socket. Left to the event loop, the worker that wakes first
accepts every connection waiting (libuv accepts until the queue is empty), so a burst of clients,
such as agents reconnecting after a restart, lands on one worker and stays there over keep-alive
while the others idle: in benchmarks/ingest.py, 3 of 4 clients went to one of 2 workers. So each
worker accepts for itself, one connection at a time, and only while it holds no more connections
than the least loaded of its peers; the counts live in a small table the parent shares with every
worker. A worker that is busier than a peer still takes a connection the peer leaves waiting for
`PATIENCE` (the peer is busy, stopped or hung): balance never costs a client more than that.
"""

from __future__ import annotations

import array
import asyncio
import mmap
import os
import socket
import tempfile
from collections.abc import Callable
from typing import IO, Final

import structlog

__all__ = ["ABSENT", "PATIENCE", "Tally", "accept_evenly", "new_table"]

log = structlog.get_logger(__name__)

ABSENT: Final = 2**31 - 1  # a slot whose worker is not accepting (starting, stopped, dead)
PATIENCE: Final = 0.05  # seconds a busier worker leaves a connection to its peers
_LOOK_EVERY: Final = 0.005
_RETRY: Final = 1.0  # seconds between attempts while accepting fails (asyncio's own wait)
_SLOT: Final = "i"  # one C int per worker


def new_table(workers: int) -> IO[bytes]:
    """The shared table for `workers` slots, all ABSENT: an unlinked file whose descriptor the
    workers inherit (they are fresh interpreters, so an anonymous mapping would not reach them)."""
    table = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    table.write(array.array(_SLOT, [ABSENT] * workers).tobytes())  # native ints, as mapped
    table.flush()
    os.set_inheritable(table.fileno(), True)
    return table


class Tally:
    """One worker's view of the table: it writes its own slot and reads the others'. Each slot
    has one writer, and an aligned int is written whole, so no lock is needed."""

    def __init__(self, fd: int, slot: int) -> None:
        self._map = mmap.mmap(fd, 0)
        self._counts = memoryview(self._map).cast(_SLOT)
        if not 0 <= slot < len(self._counts):
            raise ValueError(f"worker slot {slot} is outside the table of {len(self._counts)}")
        self._slot = slot

    @property
    def slot(self) -> int:
        return self._slot

    def publish(self, held: int) -> None:
        self._counts[self._slot] = held

    def fewest_elsewhere(self) -> int:
        """The fewest connections a peer that is accepting holds (ABSENT when none is)."""
        return min(
            (n for i, n in enumerate(self._counts) if i != self._slot and n != ABSENT),
            default=ABSENT,
        )

    def set_absent(self, slot: int) -> None:
        """Mark a slot as not accepting (the parent, for a worker that died)."""
        self._counts[slot] = ABSENT


async def accept_evenly(
    listener: socket.socket,
    protocol_factory: Callable[[], asyncio.Protocol],
    tally: Tally,
    held: Callable[[], int],
) -> None:
    """Accept connections on `listener` for ever, one at a time, each served by a protocol from
    `protocol_factory`; `held()` is how many connections this worker holds now. Cancel to stop
    (the slot is then marked ABSENT)."""
    loop = asyncio.get_running_loop()
    listener.setblocking(False)
    log.info("worker accepting connections", worker=tally.slot)
    failures, since = 0, 0.0
    try:
        while True:
            await _turn(tally, held)
            try:
                conn, _address = await loop.sock_accept(listener)
            except OSError as exc:  # out of descriptors, a connection reset while queued, ...
                # Said once, not at every retry: out of descriptors, that was 10 lines a second
                # for as long as it lasted.
                if not failures:
                    since = loop.time()
                    log.warning(
                        "could not accept a connection; retrying every second until it works",
                        error=str(exc),
                    )
                failures += 1
                await asyncio.sleep(_RETRY)
                continue
            if failures:
                log.info(
                    "accepting connections again",
                    failed_attempts=failures,
                    seconds=round(loop.time() - since, 1),
                )
                failures = 0
            # Responses are written whole: Nagle's algorithm would hold the last segment of each
            # until the client's delayed ACK (~40 ms).
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                await loop.connect_accepted_socket(protocol_factory, conn)
            except OSError as exc:
                conn.close()
                log.debug("a connection ended as it was accepted", error=str(exc))
            tally.publish(held())
    finally:
        tally.publish(ABSENT)


async def _turn(tally: Tally, held: Callable[[], int]) -> None:
    """Return when this worker holds no more connections than its least loaded peer, or after
    PATIENCE, whichever comes first."""
    waited = 0.0
    while True:
        mine = held()
        tally.publish(mine)
        if mine <= tally.fewest_elsewhere() or waited >= PATIENCE:
            return
        await asyncio.sleep(_LOOK_EVERY)
        waited += _LOOK_EVERY
