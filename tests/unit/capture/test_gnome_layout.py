"""GNOME's window list as Jarvis's Shell extension reports it, and how a GNOME session is judged."""

from __future__ import annotations

from typing import Any

import pytest

from jarvis_platform import PlatformError, Rect, UnsupportedSessionError, check_session, choose
from jarvis_platform.gnome_layout import (
    LOGICAL_LAYOUT,
    PHYSICAL_LAYOUT,
    active_from_json,
    layout_mode,
    outputs_from_snapshot,
    windows_from_snapshot,
)

ONE_MONITOR = outputs_from_snapshot({"monitors": [[0, 0, 1920, 1080, 1]]}, PHYSICAL_LAYOUT)


def _window(ident: int, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": ident,
        "app_id": None,
        "wm_class": "foot",
        "title": f"w{ident}",
        "rect": [10, 20, 300, 200],
        "pid": 100 + ident,
        "focused": False,
        "minimized": False,
        "shown": True,
        "on_workspace": True,
        "mapped": True,
        "popup": False,
        "owner": None,
    }
    base.update(fields)
    return base


def test_windows_keep_the_stacking_order_and_say_what_is_drawn() -> None:
    """Bottom to top as listed; minimized, unmapped and other-workspace windows are hidden; a
    menu is a popup owned by its window; the app is the WM class, else GTK's app id."""
    snapshot = {
        "windows": [
            _window(1, minimized=True, shown=False),
            _window(2, on_workspace=False),
            _window(3, mapped=False),
            _window(4, wm_class=None, app_id="org.gnome.Nautilus", focused=True),
            _window(5, popup=True, owner=4, rect=[250, 150, 100, 80]),
        ]
    }
    windows = windows_from_snapshot(snapshot, ONE_MONITOR)
    assert [w.stacking for w in windows] == [0, 1, 2, 3, 4]
    assert [w.hidden for w in windows] == [True, True, True, False, False]
    focused = windows[3]
    assert (focused.app_name, focused.active, focused.pid) == ("org.gnome.Nautilus", True, 104)
    assert focused.rect == Rect(10, 20, 300, 200)
    menu = windows[4]
    assert (menu.popup, menu.owner, menu.rect) == (True, 4, Rect(250, 150, 100, 80))


def test_bad_reports_are_refused_by_name() -> None:
    """A window without an id or with a malformed rectangle is an error, not a guess."""
    with pytest.raises(PlatformError, match="bad rectangle"):
        windows_from_snapshot({"windows": [_window(1, rect=[1, 2, 3])]}, ONE_MONITOR)
    with pytest.raises(PlatformError, match="bad window"):
        windows_from_snapshot({"windows": [{"title": "no id"}]}, ONE_MONITOR)
    with pytest.raises(PlatformError, match="no monitor"):
        outputs_from_snapshot({"monitors": []}, PHYSICAL_LAYOUT)


def test_monitors_are_ordered_left_to_right() -> None:
    """In the physical layout monitors are in stage pixels, 0-based from the left, whatever
    their scale (the stage is in the monitors' own pixels there)."""
    outputs = outputs_from_snapshot(
        {"monitors": [[1920, 0, 1280, 1024, 2], [0, 0, 1920, 1080, 1]]}, PHYSICAL_LAYOUT
    )
    assert [(o.monitor.index, o.monitor.rect) for o in outputs] == [
        (0, Rect(0, 0, 1920, 1080)),
        (1, Rect(1920, 0, 1280, 1024)),
    ]
    assert active_from_json({"id": None, "title": None}).id is None


def test_logical_layout_multiplies_by_each_monitors_scale_rounding_outwards() -> None:
    """With fractional scaling on, a 1280x720 stage monitor at 1.5 is a 1920x1080 frame and a
    960x540 one at 2 beside it another; a window on half pixels grows to whole ones, and a
    window across both is a piece on each."""
    snapshot = {
        "monitors": [[1280, 0, 960, 540, 2], [0, 0, 1280, 720, 1.5]],
        "windows": [_window(1, rect=[101, 51, 11, 11]), _window(2, rect=[1200, 100, 200, 50])],
    }
    outputs = outputs_from_snapshot(snapshot, LOGICAL_LAYOUT)
    assert [o.monitor.rect for o in outputs] == [
        Rect(0, 0, 1920, 1080),
        Rect(2560, 0, 1920, 1080),  # stage x 1280 times 2, the largest scale rounded up
    ]
    small, left, right = windows_from_snapshot(snapshot, outputs)
    # 101..112 times 1.5 is 151.5..168: outwards, 151..168.
    assert small.rect == Rect(151, 76, 17, 17)
    assert (left.id, right.id) == (2, 2)
    assert left.rect == Rect(1800, 150, 120, 75)
    assert right.rect == Rect(2560, 200, 240, 100)


def test_layouts_that_cannot_be_mapped_exactly_are_refused() -> None:
    """A rotated monitor, a mirrored pair, an unknown layout mode or a scale without whole
    pixels: no window list (nothing is captured), and the message names the step."""
    meta = ("Meta-0", "MetaVendor", "MetaVirtualMonitor", "0x00")
    other = ("Meta-1", "MetaVendor", "MetaVirtualMonitor", "0x01")
    mode = {"layout-mode": ("u", LOGICAL_LAYOUT)}
    assert layout_mode((1, [], [(0, 0, 1.0, 0, True, [meta], {})], mode)) == LOGICAL_LAYOUT
    with pytest.raises(PlatformError, match=r"Meta-0 is rotated.*Landscape"):
        layout_mode((1, [], [(0, 0, 1.0, 1, True, [meta], {})], mode))
    with pytest.raises(PlatformError, match="mirrors monitors Meta-0, Meta-1"):
        layout_mode((1, [], [(0, 0, 1.0, 0, True, [meta, other], {})], mode))
    with pytest.raises(PlatformError, match="unknown monitor layout mode"):
        layout_mode((1, [], [(0, 0, 1.0, 0, True, [meta], {})], {}))
    with pytest.raises(PlatformError, match="no whole number of pixels"):
        outputs_from_snapshot({"monitors": [[0, 0, 1001, 700, 1.5]]}, LOGICAL_LAYOUT)


def test_gnome_without_its_session_bus_is_refused_naming_gnome() -> None:
    """A GNOME Wayland session whose session bus cannot be reached captures nothing, and the
    message names GNOME; doctor lists GNOME's verdict."""
    environ = {
        "XDG_CURRENT_DESKTOP": "ubuntu:GNOME",
        "WAYLAND_DISPLAY": "wayland-0",
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/jarvis-test-bus",
    }
    with pytest.raises(UnsupportedSessionError) as caught:
        check_session(environ, "linux")
    assert str(caught.value).startswith("GNOME on Wayland: cannot connect to the D-Bus session")
    assert any(v.backend == "GNOME" and not v.viable for v in choose(environ, "linux").verdicts)


def test_other_desktops_are_not_judged_as_gnome() -> None:
    """KDE or an unnamed compositor never gets GNOME's message (nor a D-Bus round trip)."""
    verdicts = choose({"XDG_CURRENT_DESKTOP": "KDE", "WAYLAND_DISPLAY": "w"}, "linux").verdicts
    gnome = next(v for v in verdicts if v.backend == "GNOME")
    assert gnome.reason == "XDG_CURRENT_DESKTOP does not name GNOME"
