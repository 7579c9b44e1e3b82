"""Frames on GNOME through the xdg-desktop-portal ScreenCast call: pixels in memory, never a file.

The user answers GNOME's screen-sharing dialog once (`jarvis setup gnome`), choosing the
monitors, with "remember" asked by persist_mode=2. The portal then hands back a restore token,
which Jarvis keeps 0600 in its data directory; every later session presents it and GNOME starts
the cast without asking. The token is checked in the portal's PermissionStore, and the monitors
it names against mutter's current ones, before it is used: an unknown token or a changed set of
monitors would make GNOME show its dialog, and the agent never makes a dialog appear by itself.

A session is opened per tick: Start gives a pipewire node per monitor, gst-launch-1.0 takes one
frame of each (pipewiresrc on the portal's pipewire fd, converted to BGRx, written to a pipe this
process reads), and the session is closed at `release()`. No image file is written by anyone:
Jarvis does not use the Screenshot portal, which makes GNOME save the unredacted screen as a
PNG in the Pictures folder for the caller to read.

Per tick rather than a stream kept open: a running cast costs GNOME Shell ~65 ms of CPU for each
changed frame without a GPU, between captures too (benchmarks/gnome_screencast.py measures
both); GNOME shows its screen-sharing indicator only while a session is open.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from jeepney import DBusAddress, MatchRule  # type: ignore[import-untyped]
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]

from jarvis_platform.errors import PlatformError
from jarvis_platform.gnome_dbus import (
    DISPLAY_CONFIG,
    PERMISSION_STORE,
    PORTAL_SCREENCAST,
    Bus,
    DBusCallError,
    shell_extension,
)
from jarvis_platform.gnome_layout import outputs_from_state
from jarvis_platform.sway_layout import Output
from jarvis_platform.types import Frame, Monitor, Pixels

__all__ = [
    "ScreenCastFrames",
    "ask_screencast_permission",
    "screencast_readiness",
    "screencast_token_file",
]

_MONITOR, _HIDDEN_CURSOR, _PERSISTENT = 1, 1, 2
_RESPONSE_TIMEOUT = 30.0  # seconds for the portal to answer a request that shows no dialog
_FRAME_TIMEOUT = 30.0  # seconds for the first frame of a stream on a loaded machine
_TOKEN_NAME = "gnome-screencast.token"  # noqa: S105 - a file name, not a secret
_SETUP = "Jarvis captures nothing until you run `jarvis setup gnome` and share your screens once"


def screencast_token_file(environ: dict[str, str] | None = None) -> Path:
    """Where the restore token lives: the agent's data directory (jarvis_agent.paths rules:
    $JARVIS_HOME/data, else $XDG_DATA_HOME/jarvis or ~/.local/share/jarvis)."""
    env = os.environ if environ is None else environ
    home = env.get("JARVIS_HOME", "").strip()
    if home:
        return Path(home).expanduser().resolve() / "data" / _TOKEN_NAME
    data = env.get("XDG_DATA_HOME", "").strip() or str(Path.home() / ".local/share")
    return Path(data) / "jarvis" / _TOKEN_NAME


def _read_token(file: Path) -> str | None:
    try:
        text = file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlatformError(f"cannot read GNOME's screen-sharing token {file}: {exc}") from exc
    return text or None


def _write_token(file: Path, token: str) -> None:
    """Replace the token atomically, readable by the user only (it lets its holder cast the
    screen without asking)."""
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = file.with_name(f".{file.name}.{secrets.token_hex(4)}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(token + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(staging, file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise


@contextlib.contextmanager
def _token_held(file: Path) -> Iterator[None]:
    """Hold the token from its read to the write of its successor. GNOME's restore tokens are
    single-use (each cast hands back the next), so two Jarvis processes presenting the same one
    at once (the tray's tick and `jarvis doctor`) left the second waiting on a dialog GNOME
    raised for it. The lock is on the token's directory, so a cast writes no file at all, and
    belongs to the open descriptor: a holder killed mid-cast frees it."""
    import fcntl

    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(file.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held at most the three portal answers' timeouts
        yield
    finally:
        os.close(fd)


def _current_monitors(bus: Bus) -> set[str]:
    """mutter's monitors as the GNOME portal names them (vendor:product:serial)."""
    _, monitors, *_ = bus.call(DISPLAY_CONFIG, "GetCurrentState")
    return {f"{vendor}:{product}:{serial}" for (_, vendor, product, serial), *_ in monitors}


def _token_problem(bus: Bus, token: str | None) -> str | None:
    """Why presenting `token` would make GNOME ask (or refuse); None when it restores silently."""
    if token is None:
        return f"GNOME has not yet let Jarvis cast your screens: {_SETUP}"
    try:
        permissions, data = bus.call(PERMISSION_STORE, "Lookup", "ss", ("screencast", token))
    except DBusCallError as exc:
        if exc.name == "org.freedesktop.portal.Error.NotFound":
            return f"GNOME no longer knows Jarvis's screen-sharing permission: {_SETUP}"
        raise
    if permissions.get("") != ["yes"]:
        return f"GNOME's screen sharing was revoked for Jarvis: {_SETUP}"
    # The GNOME backend's restore data: ("GNOME", 1, <(created, used, [(id, type, <match>)])>).
    try:
        _, (provider, _version, (_, (_created, _used, streams))) = data
        wanted = {match for _id, kind, (_, match) in streams if kind == _MONITOR}
    except (TypeError, ValueError) as exc:
        raise PlatformError(
            f"GNOME's screen-sharing permission has an unknown form: {exc}"
        ) from exc
    if provider != "GNOME":
        return None  # another portal backend: it decides itself
    missing = wanted - _current_monitors(bus)
    if missing:
        return (
            "a monitor you shared with Jarvis is gone (GNOME would ask again): "
            f"{_SETUP} with the monitors you have now"
        )
    return None


def screencast_readiness(bus: Bus, token_file: Path | None = None) -> str | None:
    """None when a session will start without a dialog; otherwise what is wrong and the step."""
    return _token_problem(bus, _read_token(token_file or screencast_token_file()))


class _Portal:
    """Requests to the ScreenCast portal, each answered by a Response signal on its own path."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._sender = bus.unique_name.lstrip(":").replace(".", "_")

    def request(
        self, method: str, signature: str, args: tuple[Any, ...], timeout: float
    ) -> dict[str, Any]:
        token = "jarvis" + secrets.token_hex(8)
        path = f"/org/freedesktop/portal/desktop/request/{self._sender}/{token}"
        rule = MatchRule(
            type="signal", interface="org.freedesktop.portal.Request", member="Response", path=path
        )
        conn = self.bus.conn
        conn.send_and_get_reply(message_bus.AddMatch(rule))
        options = {**args[-1], "handle_token": ("s", token)}
        try:
            with conn.filter(rule) as queue:
                self.bus.call(PORTAL_SCREENCAST, method, signature, (*args[:-1], options))
                try:
                    reply = conn.recv_until_filtered(queue, timeout=timeout)
                except TimeoutError as exc:
                    # A dialog is up after all (GNOME did not restore): take it down again.
                    with contextlib.suppress(DBusCallError):
                        request = DBusAddress(
                            path, PORTAL_SCREENCAST.bus_name, "org.freedesktop.portal.Request"
                        )
                        self.bus.call(request, "Close")
                    raise PlatformError(
                        f"GNOME's screen-cast portal did not answer {method} within "
                        f"{timeout:.0f} s: {_SETUP}"
                    ) from exc
        finally:
            with contextlib.suppress(Exception):
                conn.send_and_get_reply(message_bus.RemoveMatch(rule))
        response, results = reply.body
        if response != 0:
            raise PlatformError(
                f"GNOME's screen-cast portal refused {method} (screen sharing was denied or "
                f"cancelled): {_SETUP}"
            )
        return {key: value[1] for key, value in results.items()}


class _Session:
    """One portal session: its streams (node id, rect in stage pixels) and the pipewire fd."""

    def __init__(
        self, bus: Bus, token: str | None, timeout: float, *, pipewire: bool = True
    ) -> None:
        self._portal = _Portal(bus)
        handle = "jarvis" + secrets.token_hex(8)
        created = self._portal.request(
            "CreateSession", "a{sv}", ({"session_handle_token": ("s", handle)},), _RESPONSE_TIMEOUT
        )
        self.handle = str(created["session_handle"])
        self.fd: int | None = None
        try:
            select: dict[str, Any] = {
                "types": ("u", _MONITOR),
                "multiple": ("b", True),
                "cursor_mode": ("u", _HIDDEN_CURSOR),
                "persist_mode": ("u", _PERSISTENT),
            }
            if token is not None:
                select["restore_token"] = ("s", token)
            self._portal.request("SelectSources", "oa{sv}", (self.handle, select), timeout)
            started = self._portal.request("Start", "osa{sv}", (self.handle, "", {}), timeout)
            self.token: str | None = started.get("restore_token")
            self.streams = [
                (int(node), _stream_rect(props)) for node, props in started.get("streams", [])
            ]
            if pipewire:
                (remote,) = bus.call(
                    PORTAL_SCREENCAST, "OpenPipeWireRemote", "oa{sv}", (self.handle, {})
                )
                self.fd = remote.to_raw_fd()
        except BaseException:
            self.close(bus)
            raise

    def close(self, bus: Bus) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        with contextlib.suppress(DBusCallError):
            session = DBusAddress(
                self.handle, PORTAL_SCREENCAST.bus_name, "org.freedesktop.portal.Session"
            )
            bus.call(session, "Close")


def _stream_rect(props: dict[str, Any]) -> tuple[int, int, int, int]:
    x, y = props.get("position", ("(ii)", (0, 0)))[1]
    width, height = props["size"][1]
    return int(x), int(y), int(width), int(height)


def _gst_launch() -> str:
    found = shutil.which("gst-launch-1.0")
    if found is None:
        raise PlatformError(
            "gst-launch-1.0 is not installed, so Jarvis cannot read GNOME's screen cast: install "
            "gstreamer1.0-tools and gstreamer1.0-pipewire"
        )
    return found


def _one_frame(fd: int, node: int, width: int, height: int, timeout: float) -> Pixels:
    """One BGRx frame of pipewire node `node`, through a pipe: nothing touches the disk."""
    command = [
        _gst_launch(),
        "-q",
        "pipewiresrc",
        f"fd={fd}",
        f"path={node}",
        "num-buffers=1",
        "always-copy=true",
        "!",
        "videoconvert",
        "!",
        f"video/x-raw,format=BGRx,width={width},height={height}",
        "!",
        "fdsink",
        "fd=1",
    ]
    try:
        done = subprocess.run(
            command,
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PlatformError(f"GNOME's screen cast sent no frame within {timeout:.0f} s") from exc
    expected = width * height * 4
    if done.returncode != 0 or len(done.stdout) != expected:
        why = done.stderr.decode(errors="replace").strip()[-300:] or f"exit {done.returncode}"
        raise PlatformError(
            f"could not read a {width}x{height} frame from GNOME's screen cast "
            f"({len(done.stdout)} of {expected} bytes: {why})"
        )
    pixels = np.frombuffer(bytearray(done.stdout), dtype=np.uint8).reshape(height, width, 4)
    pixels[..., 3] = 255
    return pixels


class ScreenCastFrames:
    """A FrameSource for GNOME: monitors from Jarvis's extension, pixels from the screen-cast
    portal, one session per tick (opened by the first grab, closed by `release`)."""

    def __init__(
        self,
        bus_address: str = "SESSION",
        token_file: Path | None = None,
        *,
        frame_timeout: float = _FRAME_TIMEOUT,
    ) -> None:
        self._address = bus_address
        self._token_file = token_file or screencast_token_file()
        self._frame_timeout = frame_timeout
        self._bus: Bus | None = None
        self._session: _Session | None = None
        self._outputs: dict[Monitor, Output] = {}
        self._lock = threading.Lock()

    def _connect(self) -> Bus:
        if self._bus is None:
            self._bus = Bus(self._address, fds=True)
        return self._bus

    def monitors(self) -> list[Monitor]:
        bus = self._connect()
        snapshot = json.loads(bus.call(shell_extension(bus), "GetWindows")[0])
        from jarvis_platform.gnome import display_state

        outputs = outputs_from_state(snapshot, display_state(bus))
        with self._lock:
            self._outputs = {output.monitor: output for output in outputs}
        return [output.monitor for output in outputs]

    def _open(self) -> _Session:
        if self._session is None:
            bus = self._connect()
            with _token_held(self._token_file):
                token = _read_token(self._token_file)
                problem = _token_problem(bus, token)
                if problem is not None:
                    raise PlatformError(problem)
                self._session = _Session(bus, token, _RESPONSE_TIMEOUT)
                if self._session.token and self._session.token != token:
                    _write_token(self._token_file, self._session.token)
        return self._session

    def grab(self, monitor: Monitor) -> Frame:
        with self._lock:
            output = self._outputs.get(monitor)
            if output is None:
                raise PlatformError(f"{monitor} is not one of GNOME's monitors now")
            session = self._open()
            # The portal places streams in stage coordinates; the frame has the monitor's pixels.
            rect, pixels = output.logical, monitor.rect
            wanted = (rect.x, rect.y, rect.width, rect.height)
            node = next((node for node, where in session.streams if where == wanted), None)
            if node is None or session.fd is None:
                raise PlatformError(
                    f"GNOME does not share the monitor at {rect} with Jarvis (shared: "
                    f"{[where for _, where in session.streams]}): {_SETUP} with all monitors"
                )
            frame = _one_frame(session.fd, node, pixels.width, pixels.height, self._frame_timeout)
        return Frame(monitor, frame)

    def release(self) -> None:
        """End this tick's session: GNOME stops casting until the next grab."""
        with self._lock:
            if self._session is not None and self._bus is not None:
                self._session.close(self._bus)
            self._session = None

    def close(self) -> None:
        self.release()
        if self._bus is not None:
            self._bus.close()
            self._bus = None


@contextlib.contextmanager
def _session_for_setup(bus: Bus, timeout: float) -> Iterator[_Session]:
    session = _Session(bus, None, timeout, pipewire=False)
    try:
        yield session
    finally:
        session.close(bus)


def ask_screencast_permission(
    bus: Bus, token_file: Path | None = None, *, timeout: float = 300.0
) -> bool:
    """Show GNOME's screen-sharing dialog now (`jarvis setup gnome`, after the explanation) and
    keep the restore token it gives; True when the user shared."""
    try:
        with _session_for_setup(bus, timeout) as session:
            token = session.token
    except PlatformError:
        return False
    if not token:
        return False
    file = token_file or screencast_token_file()
    with _token_held(file):  # after a tick's write, so the screens just shared are what stays
        _write_token(file, token)
    return True
