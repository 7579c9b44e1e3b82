"""Checking the pause hotkey: what is accepted, what is refused, and the message given."""

from __future__ import annotations

import re

import pytest

from jarvis_ui.shortcut import (
    HotkeyError,
    display_hotkey,
    format_hotkey,
    hotkey_problem,
    normalize_hotkey,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("<ctrl>+<alt>+p", "<ctrl>+<alt>+p"),
        ("<alt>+<ctrl>+P", "<ctrl>+<alt>+p"),
        ("<cmd>+<shift>+<f9>", "<shift>+<cmd>+<f9>"),
        ("<ctrl>+<alt>+<page_up>", "<ctrl>+<alt>+<page_up>"),
    ],
)
def test_valid_combinations_are_normalised(spec: str, expected: str) -> None:
    """Valid combinations come back in one canonical order (what is written to the config)."""
    assert normalize_hotkey(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("p", "would fire while you type"),
        ("<shift>+p", "would fire while you type"),
        ("<ctrl>+c", "already used for copy"),
        ("<alt>+<tab>", "already used for window switching"),
        ("<ctrl>+<alt>+<delete>", "already used"),
        ("<ctrl>+<ctrl>+p", "twice"),
        ("<ctrl>+<alt>+x+y", "exactly one key"),
        ("<ctrl>+<alt>+<bogus>", "'<bogus>'"),
        ("<ctrl>++", "not a combination"),
    ],
)
def test_bad_combinations_are_refused_with_a_reason(spec: str, message: str) -> None:
    """Invalid or conflicting combinations get a message saying what is wrong."""
    problem = hotkey_problem(spec)
    assert problem is not None
    assert message in problem
    with pytest.raises(HotkeyError, match=re.escape(message)):
        normalize_hotkey(spec)


def test_combinations_read_like_a_keyboard_label() -> None:
    """People see `Ctrl+Alt+P`, not pynput's syntax."""
    assert display_hotkey("<ctrl>+<alt>+p") == "Ctrl+Alt+P"
    assert display_hotkey("<cmd>+<page_down>") == "Super+Page Down"
    assert format_hotkey({"alt", "ctrl"}, "f9") == "<ctrl>+<alt>+<f9>"
