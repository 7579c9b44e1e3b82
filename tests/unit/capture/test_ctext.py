"""X11 COMPOUND_TEXT titles are read as the user sees them, so rules can match them."""

from __future__ import annotations

import pytest

from jarvis_agent.capture.rules import default_rules, match_rule
from jarvis_platform.ctext import decode_compound_text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"Notes", "Notes"),
        (b"caf\xe9", "café"),  # Latin-1 right half is the default
        (b"Bank \x1b%G\xe2\x80\x94\x1b%@ Mozilla Firefox", "Bank — Mozilla Firefox"),  # UTF-8
        (b"\x1b-L\xbf\xe0\xd8\xd2\xd5\xe2", "Привет"),  # ISO 8859-5 designation
        (b"\x1b-F\xe1\xe2\x1b-A\xe9", "αβé"),  # Greek, then back to Latin-1
    ],
)
def test_compound_text_decodes_to_the_title_shown(raw: bytes, text: str) -> None:
    """UTF-8 segments and ISO 8859 designations decode to the characters on screen."""
    assert decode_compound_text(raw) == text


def test_private_marker_in_compound_text_is_matched() -> None:
    """A Cyrillic private-browsing marker inside COMPOUND_TEXT still triggers the default rule."""
    raw = "Банк — Mozilla Firefox (Приватный просмотр)".encode()
    title = decode_compound_text(b"\x1b%G" + raw + b"\x1b%@")
    assert match_rule(default_rules(), "firefox", title) is not None
