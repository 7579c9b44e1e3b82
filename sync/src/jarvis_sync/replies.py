"""What a server reply to an upload means: `classify` (status + headers + body -> outcome). Pure.

`jarvis_sync.client` sends the request; the sync worker acts on the `UploadOutcome`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final, Literal

import httpx
from pydantic import ValidationError

from jarvis_contract import Problem
from jarvis_sync.retry import parse_retry_after

__all__ = ["OutcomeKind", "UploadOutcome", "classify", "problem_text"]

OutcomeKind = Literal["done", "retry", "auth", "dead", "untrusted"]

_DEAD_STATUSES: Final = frozenset({400, 413, 415, 422})
_AUTH_STATUSES: Final = frozenset({401, 403})
_MAX_DETAIL: Final = 500


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """What one upload attempt came to, and why (never contains the token)."""

    kind: OutcomeKind
    status: int | None
    detail: str
    retry_after: float | None = None


def problem_text(status: int, body: bytes) -> str:
    """The status and the problem document's title and detail (or the start of the body)."""
    try:
        problem = Problem.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        text = body[:200].decode("utf-8", "replace").strip()
        return f"HTTP {status}" + (f": {text}" if text else "")
    text = f"HTTP {status} {problem.title}"
    if problem.detail:
        text += f": {problem.detail}"
    return text[:_MAX_DETAIL]


def classify(status: int, headers: httpx.Headers, body: bytes) -> UploadOutcome:
    """The meaning of a server reply to an upload (pure)."""
    if status in (200, 201):
        return UploadOutcome("done", status, "stored" if status == 201 else "already stored")
    detail = problem_text(status, body)
    if status in _AUTH_STATUSES:
        return UploadOutcome("auth", status, detail)
    if status in _DEAD_STATUSES:
        return UploadOutcome("dead", status, detail)
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status == 404:
        detail += " (is server.url the Jarvis server's address?)"
    # 408, 429, 5xx and anything unexpected: the capture is not at fault, so keep it and retry.
    return UploadOutcome("retry", status, detail, retry_after)
