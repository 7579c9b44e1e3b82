"""What each server reply means for a capture (the uploader's pure decision)."""

from __future__ import annotations

import httpx
import pytest

from jarvis_sync import classify

PROBLEM = (
    b'{"type":"about:blank","title":"Unsupported media type","status":415,"detail":"not a PNG"}'
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (201, "done"),
        (200, "done"),
        (401, "auth"),
        (403, "auth"),
        (400, "dead"),
        (413, "dead"),
        (415, "dead"),
        (422, "dead"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (404, "retry"),
        (409, "retry"),
    ],
)
def test_each_status_has_one_meaning(status: int, kind: str) -> None:
    """Stored and replayed are done; token errors stop sending; refusals are dead letters;
    everything else (timeouts, throttling, server errors, surprises) is retried, never dropped."""
    assert classify(status, httpx.Headers(), b"").kind == kind


def test_dead_letter_keeps_the_servers_problem_detail() -> None:
    """A refusal carries the problem document's title and detail, for `jarvis outbox list`."""
    outcome = classify(415, httpx.Headers(), PROBLEM)
    assert outcome.detail == "HTTP 415 Unsupported media type: not a PNG"


def test_garbage_body_is_described_not_trusted() -> None:
    """A reply body that is not a problem document is quoted briefly, never parsed blindly."""
    outcome = classify(502, httpx.Headers(), b"<html>Bad gateway</html>" * 100)
    assert outcome.kind == "retry"
    assert outcome.detail.startswith("HTTP 502: <html>Bad gateway")
    assert len(outcome.detail) < 300


def test_retry_after_is_read_from_the_reply() -> None:
    """Retry-After on a 429 or 503 becomes the outcome's wait."""
    assert classify(429, httpx.Headers({"Retry-After": "7"}), b"").retry_after == 7
    assert classify(503, httpx.Headers({"Retry-After": "nonsense"}), b"").retry_after is None
