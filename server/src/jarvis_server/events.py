"""Fan-out of newly stored captures to Server-Sent Events subscribers (in this process)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from typing import Final

from jarvis_contract import CaptureRecord

_QUEUE_SIZE: Final = 1000
_CLOSED: Final = None


class Broadcaster:
    """Each subscriber has its own bounded queue; one that falls behind is dropped, not awaited.

    Each queue belongs to the token (hash) that opened it, so the streams of a token that was
    revoked or replaced can be ended (`end_tokens`, driven by `tokenwatch`).
    """

    def __init__(self) -> None:
        self._queues: dict[asyncio.Queue[CaptureRecord | None], str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.closed = False

    def subscribe(self, token_hash: str) -> asyncio.Queue[CaptureRecord | None]:
        """A new queue of records for a stream opened with this token; None in it means the
        stream is over. Pair with unsubscribe."""
        queue: asyncio.Queue[CaptureRecord | None] = asyncio.Queue(_QUEUE_SIZE)
        if self.closed:
            queue.put_nowait(_CLOSED)
        self._queues[queue] = token_hash
        return queue

    def unsubscribe(self, queue: asyncio.Queue[CaptureRecord | None]) -> None:
        self._queues.pop(queue, None)

    def tokens(self) -> set[str]:
        """The token hashes that have a stream open."""
        return set(self._queues.values())

    def end_tokens(self, token_hashes: Collection[str]) -> int:
        """End every stream of these tokens now; how many were ended."""
        ended = [q for q, token_hash in self._queues.items() if token_hash in token_hashes]
        for queue in ended:
            del self._queues[queue]
            # What is still queued was stored after the token may have stopped: not sent.
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(_CLOSED)
        return len(ended)

    def publish(self, record: CaptureRecord) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(record)
            except asyncio.QueueFull:
                del self._queues[queue]
                self._end(queue)

    @staticmethod
    def _end(queue: asyncio.Queue[CaptureRecord | None]) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(_CLOSED)
        if queue.full():
            # Make room for the end marker: the subscriber is gone either way.
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            queue.put_nowait(_CLOSED)

    def _close_now(self) -> None:
        self.closed = True
        for queue in list(self._queues):
            self._end(queue)

    def close(self) -> None:
        """End every stream so a shutting-down server need not wait for them. Signal-safe."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._close_now)
        else:
            self._close_now()
