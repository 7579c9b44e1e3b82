"""Assertions on RFC 9457 problem documents."""

from __future__ import annotations

from typing import Any

import httpx

from jarvis_contract import PROBLEM_MEDIA_TYPE


def assert_problem(response: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem document of this status and type, with a detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["type"] == type_
    assert body["status"] == status
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body
