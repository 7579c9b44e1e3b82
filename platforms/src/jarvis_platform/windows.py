"""Windows through user32/dwmapi (ctypes), behind the same Protocol as X11.

EnumWindows lists top-level windows in Z order, top first. For each one an `EnumRecord` is read:
title (GetWindowTextW), class (GetClassNameW), visible bounds (DWMWA_EXTENDED_FRAME_BOUNDS, falling
back to GetWindowRect), owning process (GetWindowThreadProcessId + QueryFullProcessImageNameW),
IsWindowVisible, IsIconic and DWMWA_CLOAKED (windows on other virtual desktops, suspended UWP apps).
`windows_from_enum` turns records into WindowInfo and is what the replay tests drive with recorded
lists. Idle time is GetTickCount64 - GetLastInputInfo; "locked" means the input desktop is not
"Default" (the Winlogon desktop shows while locked) or cannot be opened at all.

Why the DWM bounds: on Windows 10/11 GetWindowRect includes an invisible resize border of ~7 px.
Treating that border as covering an excluded window below would leave a 7 px strip of it unredacted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import PureWindowsPath
from typing import NamedTuple

from jarvis_platform.errors import PlatformError, UnsupportedSessionError
from jarvis_platform.types import Rect, WindowInfo

__all__ = ["EnumRecord", "WindowsPlatform", "locked_from_desktop", "windows_from_enum"]


class EnumRecord(NamedTuple):
    """What the Win32 API says about one top-level window (bounds as left, top, right, bottom)."""

    hwnd: int
    title: str
    class_name: str
    bounds: tuple[int, int, int, int]
    pid: int
    exe: str
    visible: bool
    iconic: bool
    cloaked: int


def app_name_of(exe: str) -> str | None:
    """'C:\\Program Files\\Mozilla Firefox\\firefox.exe' -> 'firefox'."""
    stem = PureWindowsPath(exe).stem if exe else ""
    return stem or None


def windows_from_enum(records: Sequence[EnumRecord], *, foreground: int | None) -> list[WindowInfo]:
    """WindowInfo (bottom to top) from EnumWindows' top-to-bottom records."""
    total = len(records)
    found: list[WindowInfo] = []
    for position, record in enumerate(records):
        left, top, right, bottom = record.bounds
        found.append(
            WindowInfo(
                id=record.hwnd,
                app_name=app_name_of(record.exe),
                title=record.title.strip() or None,
                rect=Rect(left, top, right - left, bottom - top),
                pid=record.pid or None,
                active=record.hwnd == foreground,
                hidden=not record.visible or record.iconic or record.cloaked != 0,
                stacking=total - 1 - position,
            )
        )
    found.reverse()
    return found


def locked_from_desktop(input_desktop: str | None) -> bool:
    """Locked unless the input desktop could be opened and is the user's "Default" desktop."""
    return input_desktop is None or input_desktop.lower() != "default"


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _user32 = ctypes.WinDLL("user32", use_last_error=True)
    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _dwmapi = ctypes.WinDLL("dwmapi")
    _DWMWA_EXTENDED_FRAME_BOUNDS = 9
    _DWMWA_CLOAKED = 14
    _PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
    _UOI_NAME = 2
    _DESKTOP_READOBJECTS = 0x0001
    _ENUMPROC = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.HWND, wintypes.LPARAM)

    class _LASTINPUTINFO(ctypes.Structure):
        _fields_ = [("cbSize", wintypes.UINT), ("dwTime", wintypes.DWORD)]

    def _exe(pid: int) -> str:
        handle = _kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            return ""
        try:
            size = wintypes.DWORD(1024)
            buffer = ctypes.create_unicode_buffer(size.value)
            ok = _kernel32.QueryFullProcessImageNameW(handle, 0, buffer, ctypes.byref(size))
            return buffer.value if ok else ""
        finally:
            _kernel32.CloseHandle(handle)

    def _record(hwnd: int) -> EnumRecord:
        length = _user32.GetWindowTextLengthW(hwnd)
        title = ctypes.create_unicode_buffer(length + 1)
        _user32.GetWindowTextW(hwnd, title, length + 1)
        klass = ctypes.create_unicode_buffer(256)
        _user32.GetClassNameW(hwnd, klass, 256)
        rect = wintypes.RECT()
        if _dwmapi.DwmGetWindowAttribute(
            hwnd, _DWMWA_EXTENDED_FRAME_BOUNDS, ctypes.byref(rect), ctypes.sizeof(rect)
        ):
            _user32.GetWindowRect(hwnd, ctypes.byref(rect))
        cloaked = wintypes.DWORD(0)
        _dwmapi.DwmGetWindowAttribute(
            hwnd, _DWMWA_CLOAKED, ctypes.byref(cloaked), ctypes.sizeof(cloaked)
        )
        pid = wintypes.DWORD(0)
        _user32.GetWindowThreadProcessId(hwnd, ctypes.byref(pid))
        return EnumRecord(
            hwnd=int(hwnd),
            title=title.value,
            class_name=klass.value,
            bounds=(rect.left, rect.top, rect.right, rect.bottom),
            pid=int(pid.value),
            exe=_exe(int(pid.value)),
            visible=bool(_user32.IsWindowVisible(hwnd)),
            iconic=bool(_user32.IsIconic(hwnd)),
            cloaked=int(cloaked.value),
        )

    def _enum_records() -> list[EnumRecord]:
        handles: list[int] = []

        def collect(hwnd: int, _param: int) -> bool:
            handles.append(hwnd)
            return True

        if not _user32.EnumWindows(_ENUMPROC(collect), 0):
            raise PlatformError(f"EnumWindows failed (error {ctypes.get_last_error()})")
        return [_record(hwnd) for hwnd in handles]

    def _foreground() -> int | None:
        return int(_user32.GetForegroundWindow() or 0) or None

    def _idle_seconds() -> float | None:
        info = _LASTINPUTINFO(cbSize=ctypes.sizeof(_LASTINPUTINFO))
        if not _user32.GetLastInputInfo(ctypes.byref(info)):
            return None
        # dwTime is a 32-bit tick count; compare within 32 bits so the 49.7-day wrap is harmless.
        now = _kernel32.GetTickCount64() & 0xFFFFFFFF
        return ((now - info.dwTime) & 0xFFFFFFFF) / 1000.0

    def _input_desktop() -> str | None:
        desktop = _user32.OpenInputDesktop(0, False, _DESKTOP_READOBJECTS)
        if not desktop:
            return None
        try:
            name = ctypes.create_unicode_buffer(256)
            needed = wintypes.DWORD(0)
            ok = _user32.GetUserObjectInformationW(
                desktop, _UOI_NAME, name, ctypes.sizeof(name), ctypes.byref(needed)
            )
            return name.value if ok else None
        finally:
            _user32.CloseDesktop(desktop)


class WindowsPlatform:
    """The Windows window system (user32/dwmapi through ctypes)."""

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise UnsupportedSessionError("the Windows platform only runs on Windows")

    def windows(self) -> list[WindowInfo]:
        if sys.platform == "win32":
            return windows_from_enum(_enum_records(), foreground=_foreground())
        return []

    def active_window(self) -> WindowInfo | None:
        return next((w for w in self.windows() if w.active), None)

    def idle_seconds(self) -> float | None:
        if sys.platform == "win32":
            return _idle_seconds()
        return None

    def is_locked(self) -> bool:
        if sys.platform == "win32":
            return locked_from_desktop(_input_desktop())
        return False

    def close(self) -> None:
        return None
