"""Fan-out of newly stored captures to Server-Sent Events subscribers (in this process)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from jarvis_contract import CaptureRecord

_QUEUE_SIZE: Final = 1000
_CLOSED: Final = None


class Broadcaster:
    """Each subscriber has its own bounded queue; one that falls behind is dropped, not awaited."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[CaptureRecord | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.closed = False

    def subscribe(self) -> asyncio.Queue[CaptureRecord | None]:
        """A new queue of records; None in it means the stream is over. Pair with unsubscribe."""
        queue: asyncio.Queue[CaptureRecord | None] = asyncio.Queue(_QUEUE_SIZE)
        if self.closed:
            queue.put_nowait(_CLOSED)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[CaptureRecord | None]) -> None:
        self._queues.discard(queue)

    def publish(self, record: CaptureRecord) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(record)
            except asyncio.QueueFull:
                self._queues.discard(queue)
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
