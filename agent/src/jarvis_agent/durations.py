"""Reading how long to pause: "15m", "1h30m", "90s", "2d", "until 17:00", "until tomorrow".

Times of day are local wall-clock times; the result is always an aware datetime (or None for
"until resumed"), so it can be sent over the control socket and shown back to the user.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from jarvis_agent.errors import AgentError

__all__ = ["DurationError", "format_duration", "parse_duration", "parse_pause_until"]

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$")
_FOREVER = frozenset({"", "forever", "indefinitely", "until resumed", "until resume"})
_MAX = timedelta(days=366)
_EXAMPLES = "such as 15m, 1h, 1h30m, 2d, 'until 17:00', 'until tomorrow' or 'until tomorrow 9am'"


class DurationError(AgentError, ValueError):
    """A pause duration could not be read; the message shows what is accepted."""


def parse_duration(text: str) -> timedelta:
    """A length of time such as "15m", "1h30m", "90 seconds" or a bare number of minutes."""
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned.startswith("-"):
        raise DurationError(
            f"{text.strip()!r} is negative; a pause must be a positive duration like 15m, 1h, 2h30m"
        )
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        seconds = float(cleaned) * 60  # a bare number means minutes, as in `pause 15`
    else:
        seconds = 0.0
        position = 0
        for match in _PART.finditer(cleaned):
            if match.start() != position or match.group(2) not in _UNITS:
                raise DurationError(f"cannot read the duration {text!r}; use one {_EXAMPLES}")
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            position = match.end()
        if position != len(cleaned) or position == 0:
            raise DurationError(f"cannot read the duration {text!r}; use one {_EXAMPLES}")
    if seconds <= 0:
        raise DurationError(f"the duration {text!r} must be longer than zero")
    duration = timedelta(seconds=seconds)
    if duration > _MAX:
        raise DurationError(
            f"the duration {text!r} is longer than a year; pause without a duration to pause "
            "until you resume"
        )
    return duration


def _clock(text: str, original: str) -> time:
    match = _CLOCK.match(text.strip())
    if match is None:
        raise DurationError(
            f"cannot read the time {text.strip()!r} in {original!r}; use one {_EXAMPLES}"
        )
    hour, minute, meridiem = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if meridiem is not None:
        if not 1 <= hour <= 12:
            raise DurationError(f"{text.strip()!r} in {original!r}: hours run 1-12 with am/pm")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59:
        raise DurationError(f"{text.strip()!r} in {original!r} is not a time of day (00:00-23:59)")
    return time(hour, minute)


def parse_pause_until(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """When a pause given as `text` ends: None means until resumed.

    "15m" -> now + 15 minutes; "until 17:00" -> today 17:00 (tomorrow if that has passed);
    "until tomorrow" -> the coming local midnight; "until tomorrow 9am" -> tomorrow 09:00.
    """
    now = (now or datetime.now().astimezone()).astimezone()
    if text is None or text.strip().lower() in _FOREVER:
        return None
    cleaned = " ".join(text.strip().lower().split())
    if cleaned.startswith("for "):
        cleaned = cleaned[4:]
    if not cleaned.startswith("until "):
        return now + parse_duration(cleaned)
    rest = cleaned.removeprefix("until ").strip()
    if rest.startswith("tomorrow"):
        tomorrow = (now + timedelta(days=1)).date()
        clock_text = rest.removeprefix("tomorrow").strip().removeprefix("at ").strip()
        clock = _clock(clock_text, text) if clock_text else time(0, 0)
        return datetime.combine(tomorrow, clock).astimezone()
    clock = _clock(rest.removeprefix("at ").strip(), text)
    until = datetime.combine(now.date(), clock).astimezone()
    if until <= now:
        until = datetime.combine((now + timedelta(days=1)).date(), clock).astimezone()
    return until


def format_duration(delta: timedelta) -> str:
    """A short human form: "14m 59s", "1h 30m", "2d 3h"."""
    seconds = max(0, round(delta.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value][:2]
    return " ".join(shown) or "0s"
