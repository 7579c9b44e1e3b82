"""Pause durations as users type them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from jarvis_agent.durations import DurationError, format_duration, parse_duration, parse_pause_until

NOW = datetime(2026, 3, 10, 14, 20).astimezone()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1h 30m", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
        ("2d", timedelta(days=2)),
        ("45 minutes", timedelta(minutes=45)),
        ("15", timedelta(minutes=15)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    """Common ways of writing a length of time are understood."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["soon", "15x", "m15", "0m", "-5m", "400d", "1h and a bit"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    """Anything else is refused with examples of what works."""
    with pytest.raises(DurationError, match=r"duration"):
        parse_duration(text)


def test_pause_until_forms() -> None:
    """`pause 15m`, `until 17:00`, `until 9am` (tomorrow when past), `until tomorrow`."""
    assert parse_pause_until("15m", now=NOW) == NOW + timedelta(minutes=15)
    assert parse_pause_until(None, now=NOW) is None
    assert parse_pause_until("until 17:00", now=NOW) == NOW.replace(hour=17, minute=0)
    assert parse_pause_until("until 9am", now=NOW) == (NOW + timedelta(days=1)).replace(
        hour=9, minute=0
    )
    assert parse_pause_until("until tomorrow", now=NOW) == (NOW + timedelta(days=1)).replace(
        hour=0, minute=0
    )
    assert parse_pause_until("until tomorrow 08:30", now=NOW) == (NOW + timedelta(days=1)).replace(
        hour=8, minute=30
    )


def test_bad_clock_time() -> None:
    """An impossible time of day is named in the message."""
    with pytest.raises(DurationError, match="25:00"):
        parse_pause_until("until 25:00", now=NOW)


def test_format_duration() -> None:
    """Remaining time is shown in the two largest units."""
    assert format_duration(timedelta(minutes=14, seconds=59)) == "14m 59s"
    assert format_duration(timedelta(days=2, hours=3, minutes=1)) == "2d 3h"
    assert format_duration(timedelta(0)) == "0s"
