"""Taking turns at decoding: a bounded number of image checks at once, each device one at a time.

Checking a PNG or WebP costs CPU (and for WebP memory) in proportion to its pixels. Without a
bound, a burst of uploads decodes all at once in the worker threads (six 9400x9400 images held
1.9 GB), and one device's flood takes every CPU from the others. So:

- at most `concurrency` checks run at once, server-wide: memory is bounded by that times the
  pixel budget;
- each device checks one image at a time, so a flooding device holds at most one of those
  places and every other device finds one free (or waits behind at most one image of each
  other device: the semaphore serves waiters in order);
- a device's uploads wait in line for its turn rather than being refused, because the agent
  sends a few at once (its sync worker's senders), but a line longer than `waiting_per_device`
  is a flood: the upload is refused with 429 and a Retry-After, before its image is checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final

from jarvis_server.errors import JarvisServerError

# The agent's sync worker sends up to 4 uploads at once; twice that waiting is not an agent.
WAITING_PER_DEVICE: Final = 8


class DecodeBusy(JarvisServerError):
    """This device already has as many uploads waiting to be checked as it may."""


@dataclass(slots=True)
class _Lane:
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    queued: int = 0  # checking or waiting


class DecodeGate:
    """Hands out turns to check an image: `async with gate.turn(device_id): ...`."""

    def __init__(self, concurrency: int, waiting_per_device: int = WAITING_PER_DEVICE) -> None:
        self._places = asyncio.Semaphore(concurrency)
        self._waiting = waiting_per_device
        self._lanes: dict[int, _Lane] = {}

    @asynccontextmanager
    async def turn(self, device_id: int) -> AsyncIterator[None]:
        """Wait for this device's turn and a free place; DecodeBusy when its line is full."""
        lane = self._lanes.get(device_id)
        if lane is None:
            lane = self._lanes[device_id] = _Lane()
        if lane.queued > self._waiting:
            raise DecodeBusy
        lane.queued += 1
        try:
            async with lane.turn, self._places:
                yield
        finally:
            lane.queued -= 1
            if lane.queued == 0:
                del self._lanes[device_id]
