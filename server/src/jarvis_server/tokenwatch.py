"""Ends the event streams of tokens that were revoked or replaced since their stream opened.

A token is checked only when its stream opens; revocation happens in the database, often from
`jarvis-server token revoke` in another process, so the server looks every few seconds whether
the tokens of its open streams are still valid: one query for all of them, however many streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.events import Broadcaster
from jarvis_server.models import Device

__all__ = ["check_stream_tokens", "watch_stream_tokens"]

log = structlog.get_logger(__name__)

_BATCH = 500  # token hashes per query, well under every backend's limit on bound parameters


def _batches(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


async def check_stream_tokens(
    broadcaster: Broadcaster, sessions: async_sessionmaker[AsyncSession]
) -> int:
    """End the streams whose token no longer belongs to an active device; how many ended."""
    open_tokens = sorted(broadcaster.tokens())
    if not open_tokens:
        return 0
    valid: set[str] = set()
    async with sessions() as session:
        for batch in _batches(open_tokens):
            found = await session.scalars(
                select(Device.token_hash).where(
                    Device.token_hash.in_(batch), Device.revoked_at.is_(None)
                )
            )
            valid.update(found)
    return broadcaster.end_tokens(set(open_tokens) - valid)


async def watch_stream_tokens(
    broadcaster: Broadcaster, sessions: async_sessionmaker[AsyncSession], interval: float
) -> None:
    """Run check_stream_tokens every `interval` seconds until cancelled."""
    failing = False
    while True:
        await asyncio.sleep(interval)
        try:
            ended = await check_stream_tokens(broadcaster, sessions)
        except Exception as exc:  # the watch must outlive any one failed check
            # While the database is down nothing new is stored, so no event can leak; say so
            # once per outage, not at every check.
            if not failing:
                log.warning("cannot check event streams' tokens", error=type(exc).__name__)
            failing = True
            continue
        failing = False
        if ended:
            log.info("ended event streams of revoked or replaced tokens", streams=ended)
