"""Frames on GNOME through the xdg-desktop-portal Screenshot call, after the user's one-time grant.

GNOME gives an ordinary program no other way to its pixels: org.gnome.Shell.Screenshot refuses
callers that are not GNOME's own, and Jarvis never takes a name that is not its own to get round
that. The portal's Screenshot(interactive=false) asks the user once ("Allow applications to take
screenshots?"); the answer is kept in the portal's PermissionStore (table "screenshot", id
"screenshot", app "" for programs not in a sandbox) and no dialog is shown again. Jarvis checks
the grant before it asks (`screenshot_permission`), so the agent never makes the dialog appear
by itself: `jarvis setup gnome` explains it first.

The portal saves each screenshot as a PNG file (in the Pictures folder) and returns its URI.
That file holds the unredacted screen: it is read and deleted at once, before the frame is
redacted, and a file that cannot be deleted stops capture. The image covers the whole stage;
each monitor's frame is its crop.

Measured here (benchmarks/capture_pipeline.py): about 0.5-1 s a frame at 1080p, nearly all of
it GNOME Shell writing the PNG; 51 ms of the agent's CPU, mostly decoding it. ScreenCast
(pipewire) streams frames without the file, but costs GNOME Shell ~65 ms of CPU per changed
frame without a GPU, between captures too, and needs a pipewire consumer in the agent (GStreamer
or libpipewire bindings): see the README.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
from jeepney import MatchRule  # type: ignore[import-untyped]
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]

from jarvis_platform.errors import PlatformError
from jarvis_platform.gnome_dbus import (
    PERMISSION_STORE,
    PORTAL_SCREENSHOT,
    Bus,
    DBusCallError,
    shell_extension,
)
from jarvis_platform.gnome_layout import monitors_from_snapshot
from jarvis_platform.types import Frame, Monitor, Pixels

__all__ = ["PortalScreenshotFrames", "ask_screenshot_permission", "screenshot_permission"]

_RESPONSE_TIMEOUT = 30.0  # seconds: a loaded machine can take a while to write the PNG


def screenshot_permission(bus: Bus) -> bool | None:
    """The user's answer for programs outside a sandbox: True (allowed), False (denied), None
    (never asked: the portal would show its dialog)."""
    try:
        permissions, _ = bus.call(PERMISSION_STORE, "Lookup", "ss", ("screenshot", "screenshot"))
    except DBusCallError as exc:
        if exc.name == "org.freedesktop.portal.Error.NotFound":
            return None  # no one was ever asked
        raise
    answer = permissions.get("")
    if not answer:
        return None
    return bool(answer[0] == "yes")


def _decode_png(path: Path) -> Pixels:
    from PIL import Image  # the agent's dependency; only GNOME frames need it here

    with Image.open(path) as image:
        rgba = np.asarray(image.convert("RGBA"))
    bgra = np.empty_like(rgba)
    bgra[..., 0], bgra[..., 1], bgra[..., 2] = rgba[..., 2], rgba[..., 1], rgba[..., 0]
    bgra[..., 3] = 255
    return bgra


class PortalScreenshotFrames:
    """A FrameSource for GNOME: monitors from Jarvis's extension, pixels from the portal."""

    def __init__(self, bus_address: str = "SESSION") -> None:
        self._address = bus_address
        self._bus: Bus | None = None
        self._lock = threading.Lock()

    def _connect(self) -> Bus:
        if self._bus is None:
            self._bus = Bus(self._address)
        return self._bus

    def monitors(self) -> list[Monitor]:
        import json

        bus = self._connect()
        snapshot = json.loads(bus.call(shell_extension(bus), "GetWindows")[0])
        return monitors_from_snapshot(snapshot)

    def grab(self, monitor: Monitor) -> Frame:
        with self._lock:
            image = self._screenshot()
        rect = monitor.rect
        if image.shape[1] < rect.right or image.shape[0] < rect.bottom:
            raise PlatformError(
                f"the portal's screenshot is {image.shape[1]}x{image.shape[0]}, smaller than "
                f"the monitor at {rect}: GNOME's scaled (logical) layout is not supported yet, "
                "so nothing is captured"
            )
        if (rect.x, rect.y, rect.width, rect.height) == (0, 0, image.shape[1], image.shape[0]):
            return Frame(monitor, image)
        pixels = image[rect.y : rect.bottom, rect.x : rect.right].copy()
        image.fill(0)  # the other monitors' pixels do not linger in memory
        return Frame(monitor, pixels)

    def _screenshot(self) -> Pixels:
        if screenshot_permission(self._connect()) is not True:
            raise PlatformError(
                "GNOME has not allowed Jarvis to take screenshots (the portal would ask you "
                "now): run `jarvis setup gnome` and answer Allow"
            )
        file = _portal_screenshot(self._connect(), _RESPONSE_TIMEOUT)
        try:
            return _decode_png(file)
        finally:
            _delete(file)

    def release(self) -> None:
        """Nothing kept between grabs."""

    def close(self) -> None:
        if self._bus is not None:
            self._bus.close()
            self._bus = None


def _portal_screenshot(bus: Bus, timeout: float) -> Path:
    """One Screenshot(interactive=false) call: the file the portal wrote."""
    token = "jarvis" + secrets.token_hex(8)
    sender = bus.unique_name.lstrip(":").replace(".", "_")
    path = f"/org/freedesktop/portal/desktop/request/{sender}/{token}"
    rule = MatchRule(
        type="signal", interface="org.freedesktop.portal.Request", member="Response", path=path
    )
    conn = bus.conn
    conn.send_and_get_reply(message_bus.AddMatch(rule))
    try:
        with conn.filter(rule) as queue:
            options: dict[str, Any] = {
                "handle_token": ("s", token),
                "interactive": ("b", False),
                "modal": ("b", False),
            }
            bus.call(PORTAL_SCREENSHOT, "Screenshot", "sa{sv}", ("", options))
            try:
                reply = conn.recv_until_filtered(queue, timeout=timeout)
            except TimeoutError as exc:
                raise PlatformError(
                    f"the screenshot portal did not answer within {timeout:.0f} s"
                ) from exc
    finally:
        with contextlib.suppress(Exception):
            conn.send_and_get_reply(message_bus.RemoveMatch(rule))
    response, results = reply.body
    if response != 0:
        raise PlatformError(
            "the screenshot portal refused (the screenshot permission was denied or the "
            "request cancelled): run `jarvis setup gnome`"
        )
    uri = results.get("uri", ("s", ""))[1]
    parsed = urlparse(uri)
    if parsed.scheme != "file" or not parsed.path:
        raise PlatformError(f"the screenshot portal returned no file: {uri!r}")
    return Path(unquote(parsed.path))


def _delete(file: Path) -> None:
    """Remove the portal's unredacted PNG now; a copy left behind is a leak, so failing is loud."""
    try:
        os.unlink(file)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PlatformError(
            f"could not delete the portal's screenshot {file} ({exc.strerror}); it holds the "
            "unredacted screen: delete it, and check the folder's permissions"
        ) from exc


def ask_screenshot_permission(bus: Bus, *, reset: bool = False, timeout: float = 300.0) -> bool:
    """Make the portal ask the user its one-time question now (`jarvis setup gnome`, after the
    explanation); True when the answer was Allow. The screenshot it takes is deleted unread.
    `reset` first forgets an earlier Deny (the portal would otherwise refuse without asking)."""
    if reset:
        bus.call(PERMISSION_STORE, "DeletePermission", "sss", ("screenshot", "screenshot", ""))
    try:
        file = _portal_screenshot(bus, timeout)
    except PlatformError:
        return False
    _delete(file)
    return True
