"""/api/v1/events: newly stored captures as Server-Sent Events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from jarvis_contract import EVENTS_PATH, CaptureRecord
from jarvis_server.api.deps import CallerDep, StateDep
from jarvis_server.api.openapi_docs import problems

router = APIRouter(tags=["events"])


@router.get(
    EVENTS_PATH,
    summary="Stream newly stored captures (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`event: capture` with a CaptureRecord as data; heartbeat comments.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **problems(401, 403),
    },
)
async def events(state: StateDep, caller: CallerDep) -> StreamingResponse:
    """Device tokens see their own captures; admin tokens see every device's."""
    heartbeat = state.settings.events_heartbeat_seconds
    # Subscribe before the response starts, so nothing stored after the client sees 200 is missed.
    # The stream ends when the token is revoked or replaced (see tokenwatch).
    queue = state.events.subscribe(caller.token_hash)

    async def stream() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while True:
                try:
                    item: CaptureRecord | None = await asyncio.wait_for(queue.get(), heartbeat)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if item is None:
                    return
                if caller.admin or item.device == caller.device:
                    yield f"event: capture\nid: {item.id}\ndata: {item.model_dump_json()}\n\n"
        finally:
            state.events.unsubscribe(queue)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
