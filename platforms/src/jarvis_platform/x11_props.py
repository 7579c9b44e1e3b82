"""Reading X11 window properties: atoms, the active window, titles in whatever encoding.

Shared by the platform (x11) and the active-window watch (x11_watch), each on its own connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from Xlib import X, Xatom

from jarvis_platform.ctext import decode_compound_text

__all__ = ["Atoms", "active_window_id", "read_title", "text_property"]


def text_property(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        # COMPOUND_TEXT and other encodings python-xlib leaves undecoded: best effort, never fail.
        value = value.decode("utf-8", errors="replace")
    text = str(value).strip("\0")
    return text or None


class Atoms:
    """The atoms of one X connection by name, each interned (a server round trip) only once."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._ids: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        atom = self._ids.get(name)
        if atom is None:
            atom = self._ids[name] = int(self._connection.intern_atom(name))
        return atom


def active_window_id(root: Any, atom: Callable[[str], int]) -> int | None:
    """The window _NET_ACTIVE_WINDOW names on `root`, or None (no window has the focus)."""
    prop = root.get_full_property(atom("_NET_ACTIVE_WINDOW"), Xatom.WINDOW)
    value = int(prop.value[0]) if prop is not None and len(prop.value) else 0
    return value or None


def read_title(window: Any, atom: Callable[[str], int]) -> str | None:
    """A window's title: _NET_WM_NAME (UTF-8), else WM_NAME in whatever encoding it has.

    `atom` interns an atom name on the window's connection. XError (the window is gone) propagates.
    """
    prop = window.get_full_text_property(atom("_NET_WM_NAME"), atom("UTF8_STRING"))
    title = text_property(prop)
    if title is not None:
        return title
    raw = window.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
    if raw is None or raw.format != 8:
        return None
    value = raw.value
    if raw.property_type == atom("UTF8_STRING"):
        return text_property(bytes(value).decode("utf-8", errors="replace"))
    if raw.property_type == atom("COMPOUND_TEXT"):
        return text_property(decode_compound_text(bytes(value)))
    data = bytes(value)
    try:
        # STRING is Latin-1 by the book, but many clients (xdotool too) store UTF-8 there;
        # Latin-1 text is almost never valid UTF-8, so trying UTF-8 first reads both right.
        return text_property(data.decode("utf-8"))
    except UnicodeDecodeError:
        return text_property(data.decode("latin-1"))
