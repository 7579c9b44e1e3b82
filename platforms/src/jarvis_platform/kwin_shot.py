"""Frames from KWin through org.kde.KWin.ScreenShot2: each output into a pipe, at native size.

CaptureScreen writes one raw frame (QImage ARGB32, bytes B, G, R, A) of the named output to the
write end of a pipe Jarvis passes over D-Bus (Unix fd passing), after its reply. With
`native-resolution` the frame has the output's device pixels (3840x2160 for a 1920x1080 logical
output at scale 2), the size of its monitor in kwin_layout's pixel space; monitors and their
scales come from Wayland (kwin_outputs.py), as for the window list. One call per output is also
cheaper than the whole workspace once per output, and a scale-1.5 output beside a scale-2 one
keeps its own resolution (the workspace would be drawn at the largest scale).

KWin answers only callers it authorized: a .desktop file whose Exec= is the caller's executable
and X-KDE-DBUS-Restricted-Interfaces=org.kde.KWin.ScreenShot2 (`jarvis setup kde` writes it).
Without it the reply is the error NoAuthorized, turned into a message saying that step.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
from jeepney import DBusAddress, HeaderFields, MessageType  # type: ignore[import-untyped]

from jarvis_platform.errors import PlatformError, UnsupportedSessionError
from jarvis_platform.kwin_bus import KWIN, KWinBus
from jarvis_platform.kwin_outputs import WaylandOutputs
from jarvis_platform.sway_layout import Output, layout_outputs
from jarvis_platform.types import Frame, Monitor

__all__ = ["NOT_AUTHORIZED", "KWinFrames", "authorization_file", "authorize", "executable"]

DESKTOP_FILE = "jarvis-kwin.desktop"

_SHOT = DBusAddress(
    "/org/kde/KWin/ScreenShot2", bus_name=KWIN, interface="org.kde.KWin.ScreenShot2"
)
_NATIVE = {"native-resolution": ("b", True)}  # device pixels, not the logical size
_RAW_FORMATS = {4, 5, 6}  # QImage RGB32, ARGB32, ARGB32_Premultiplied: B, G, R, A/X bytes

NOT_AUTHORIZED = (
    "KWin refuses Jarvis its screenshots (org.kde.KWin.ScreenShot2 answered {error}): KWin lets "
    "only programs it was told about take them, and this one ({executable}) has no authorization "
    "file yet. Run `jarvis setup kde` once (it writes "
    "~/.local/share/applications/jarvis-kwin.desktop naming this program), then capture "
    "again. "
    "Nothing is captured until then."
)


def executable() -> str:
    """The program KWin sees calling (what /proc/PID/exe of this process points at)."""
    with contextlib.suppress(OSError):
        return os.readlink("/proc/self/exe")
    return os.path.realpath(sys.executable)


def authorization_file() -> Path:
    """Where KWin looks for the authorization: $XDG_DATA_HOME/applications (~/.local/share)."""
    data_home = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(data_home) if data_home else Path.home() / ".local" / "share"
    return base / "applications" / DESKTOP_FILE


def authorize(program: str | None = None) -> Path:
    """Write the .desktop file that lets `program` (this executable) use ScreenShot2."""
    exe = program or executable()
    if any(c in exe for c in "\n\r"):
        raise PlatformError(f"the program path {exe!r} cannot be written in a .desktop file")
    quoted = (
        exe
        if not any(c in exe for c in " \"'\\$`")
        else '"' + re.sub(r'(["`$\\])', r"\\\1", exe) + '"'
    )
    text = (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Jarvis screen capture\n"
        "Comment=Lets Jarvis take screenshots through KWin (written by `jarvis setup kde`)\n"
        f"Exec={quoted}\n"
        "NoDisplay=true\n"
        "X-KDE-DBUS-Restricted-Interfaces=org.kde.KWin.ScreenShot2\n"
    )
    path = authorization_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)
    return path


class KWinFrames:
    """A FrameSource for KWin: monitors from Wayland's outputs, pixels by ScreenShot2."""

    def __init__(
        self, bus_address: str | None = None, *, wayland_display: str | None = None
    ) -> None:
        from jarvis_platform.kwin import wayland_path

        self._address = bus_address
        self._wayland = wayland_display or wayland_path()
        self._lock = threading.Lock()
        self._bus: KWinBus | None = None
        self._outputs: list[Output] = []
        self._wayland_outputs: WaylandOutputs | None = None

    def _connection(self) -> KWinBus:
        if self._bus is None:
            self._bus = KWinBus(enable_fds=True, address=self._address)
        return self._bus

    def monitors(self) -> list[Monitor]:
        with self._lock:
            if self._wayland_outputs is None:
                self._wayland_outputs = WaylandOutputs(self._wayland)
            self._outputs = layout_outputs(self._wayland_outputs.read())
            return [o.monitor for o in self._outputs]

    def grab(self, monitor: Monitor) -> Frame:
        with self._lock:
            output = next((o for o in self._outputs if o.monitor == monitor), None)
            if output is None:
                raise PlatformError(f"monitor {monitor.index} is not an output KWin reports now")
            image = self._screen(output.name)
        height, width = image.shape[:2]
        if (width, height) != (monitor.rect.width, monitor.rect.height):
            raise PlatformError(
                f"KWin's frame of {output.name} is {width}x{height}, not the "
                f"{monitor.rect.width}x{monitor.rect.height} of its monitor: the outputs changed; "
                "the next tick reads them again"
            )
        return Frame(monitor, image if image.flags.c_contiguous else np.ascontiguousarray(image))

    def _screen(self, name: str) -> np.ndarray[Any, np.dtype[np.uint8]]:
        bus = self._connection()
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                reply = bus.call(_SHOT, "CaptureScreen", "sa{sv}h", (name, _NATIVE, write_end))
            finally:
                os.close(write_end)  # KWin holds its own copy; EOF comes when it is done
            if reply.header.message_type is MessageType.error:
                error = str(reply.header.fields.get(HeaderFields.error_name, "an error"))
                if error.endswith("NoAuthorized"):
                    raise UnsupportedSessionError(
                        NOT_AUTHORIZED.format(error=error, executable=executable())
                    )
                detail = reply.body[0] if reply.body else ""
                raise PlatformError(f"KWin could not take a screenshot: {error} {detail}".strip())
            info = {key: value[1] for key, value in reply.body[0].items()}
            width, height = int(info["width"]), int(info["height"])
            stride, fmt = int(info["stride"]), int(info["format"])
            if info.get("type", "raw") != "raw" or fmt not in _RAW_FORMATS:
                raise PlatformError(f"KWin sent a frame Jarvis cannot read ({info})")
            data = self._read(read_end, stride * height)
        finally:
            os.close(read_end)
        pixels = np.frombuffer(data, dtype=np.uint8).reshape(height, stride // 4, 4)
        return pixels[:, :width]

    @staticmethod
    def _read(fd: int, size: int) -> bytearray:
        # A fresh buffer per grab: the frame must outlive the next monitor's grab.
        data = bytearray(size)
        view = memoryview(data)
        done = 0
        while done < size:
            count = os.readv(fd, [view[done:]])
            if count == 0:
                raise PlatformError(
                    f"KWin's screenshot ended after {done} of {size} bytes; the next tick retries"
                )
            done += count
        return data

    def release(self) -> None:
        """Nothing is kept between grabs."""

    def close(self) -> None:
        with self._lock:
            if self._bus is not None:
                self._bus.close()
                self._bus = None
            if self._wayland_outputs is not None:
                self._wayland_outputs.close()
                self._wayland_outputs = None
