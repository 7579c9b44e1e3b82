"""The trust review's strangers against the callers of the one server client: Settings' "Test
connection" and `jarvis doctor`. A stranger (tests/support/stranger.py) records every request;
what it records is what an attacker would have.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jarvis_agent.config import AgentConfig
from jarvis_agent.doctor import check_server
from jarvis_ui.connection import check_connection
from tests.support.postgres import free_port
from tests.support.stranger import SPARE_UID, Stranger, start_stranger


@pytest.fixture
def other_users_listener() -> Iterator[Stranger]:
    """A program of another uid listening on a loopback port."""
    stranger = start_stranger("127.0.0.1", free_port(), uid=SPARE_UID)
    yield stranger
    stranger.stop()


def test_test_connection_sends_another_users_listener_nothing(
    other_users_listener: Stranger,
) -> None:
    """Test connection to a loopback port another user's program holds: the result names its
    uid and says nothing was sent, and the program received no request, not even the health
    check (it used to get GET /health before the token was held back)."""
    result = check_connection(other_users_listener.url, "a-device-token")
    assert not result.ok
    assert result.message.startswith("Nothing was sent")
    assert f"uid {SPARE_UID}" in result.message
    assert other_users_listener.requests == []


def test_doctor_asks_another_users_listener_nothing(other_users_listener: Stranger) -> None:
    """`jarvis doctor` with server.url on another user's port: a failed "server owner" line
    naming the uid and what to do, and the program received no request."""
    config = AgentConfig.model_validate({"server": {"url": other_users_listener.url}})
    (check,) = check_server(config)
    assert (check.name, check.ok) == ("server owner", False)
    assert f"uid {SPARE_UID}" in check.detail
    assert other_users_listener.requests == []
