"""KWin's outputs with their scales, read from Wayland (wl_output + xdg-output, pywayland).

KWin 5.27's scripting API gives windows in logical coordinates but no output scale, so the scale
comes from the compositor's Wayland globals: xdg-output gives each output's logical position and
size, wl_output's current mode its size in device pixels (what ScreenShot2 captures with
`native-resolution`); their ratio is the scale (2, or 1.5). The result is the shape of sway's
GET_OUTPUTS, so sway_layout.layout_outputs places the monitors the same way.

One connection, kept: each `read()` is a roundtrip, after which every change KWin announced
before it (an output added, removed, moved or rescaled) has been applied.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from pywayland.client.display import Display
from pywayland.protocol.wayland import WlOutput
from pywayland.protocol.xdg_output_unstable_v1 import ZxdgOutputManagerV1

from jarvis_platform.errors import PlatformError, UnsupportedSessionError

__all__ = ["WaylandOutputs", "read_outputs"]

_NORMAL = 0  # wl_output.transform.normal


class WaylandOutputs:
    """KWin's outputs, kept current over one Wayland connection (one thread at a time)."""

    def __init__(self, wayland_display: str) -> None:
        display = Display(wayland_display)
        try:
            display.connect()
        except Exception as exc:
            raise PlatformError(
                f"cannot connect to KWin's Wayland socket at {wayland_display}: {exc}"
            ) from exc
        self._display = display
        self._outputs: dict[int, tuple[dict[str, Any], Any, Any]] = {}
        self._manager: Any = None
        try:
            self._start()
        except BaseException:
            display.disconnect()
            raise

    def _start(self) -> None:
        globals_: dict[str, list[tuple[int, int]]] = {}
        registry = self._display.get_registry()

        def on_global(_: Any, name: int, interface: str, version: int) -> None:
            globals_.setdefault(interface, []).append((name, version))
            if interface == "wl_output" and self._manager is not None:
                self._bind(name, version)

        def on_remove(_: Any, name: int) -> None:
            self._outputs.pop(name, None)

        registry.dispatcher["global"] = on_global
        registry.dispatcher["global_remove"] = on_remove
        self._registry = registry
        self._display.roundtrip()
        if "zxdg_output_manager_v1" not in globals_:
            raise UnsupportedSessionError(
                "KWin offers no xdg-output (zxdg_output_manager_v1), so Jarvis cannot tell where "
                "its outputs are and at which scale; it needs KWin 5.27 or later"
            )
        name, version = globals_["zxdg_output_manager_v1"][0]
        self._manager = registry.bind(name, ZxdgOutputManagerV1, min(version, 3))
        for name, version in globals_.get("wl_output", []):
            self._bind(name, version)

    def _bind(self, name: int, version: int) -> None:
        output = self._registry.bind(name, WlOutput, min(version, 4))
        xdg = self._manager.get_xdg_output(output)
        # The proxies are kept with the dict: a collected proxy loses its handlers.
        self._outputs[name] = (_describe(output, xdg), output, xdg)

    def read(self) -> list[dict[str, Any]]:
        """Every output: name, rect (logical), scale, current_mode (device pixels), transform."""
        try:
            self._display.roundtrip()
            if any(not _complete(raw) for raw, _, _ in self._outputs.values()):
                self._display.roundtrip()  # an output bound just now: its events come next
        except Exception as exc:
            raise PlatformError(f"lost the Wayland connection to KWin ({exc})") from exc
        outputs: list[dict[str, Any]] = []
        for raw, _, _ in self._outputs.values():
            info = copy.deepcopy(raw)
            if not _complete(info):
                raise PlatformError(
                    f"KWin did not describe one of its outputs (xdg-output, wl_output): {info}"
                )
            (x, y), (width, height) = info.pop("position", (0, 0)), info.pop("size")
            info["rect"] = {"x": x, "y": y, "width": width, "height": height}
            mode = info["current_mode"]
            info["scale"] = scale = mode["width"] / width if width > 0 else 1.0
            if info["transform"] == "normal" and abs(mode["height"] / height - scale) > 0.01:
                raise PlatformError(f"KWin's output {info['name']} has no single scale ({info})")
            outputs.append(info)
        return outputs

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._display.disconnect()


def _complete(info: dict[str, Any]) -> bool:
    return "size" in info and "current_mode" in info and "name" in info


def _describe(output: Any, xdg: Any) -> dict[str, Any]:
    """The dict the output's events fill in (after a roundtrip or two)."""
    info: dict[str, Any] = {"active": True, "transform": "normal"}

    def on_mode(_: Any, flags: int, width: int, height: int, refresh: int) -> None:
        if flags & 1:  # the current mode
            info["current_mode"] = {"width": width, "height": height}

    def on_geometry(_: Any, *args: Any) -> None:
        info["transform"] = "normal" if args[-1] == _NORMAL else f"transform {args[-1]}"

    output.dispatcher["mode"] = on_mode
    output.dispatcher["geometry"] = on_geometry
    xdg.dispatcher["name"] = lambda _, text: info.__setitem__("name", text)
    xdg.dispatcher["logical_position"] = lambda _, x, y: info.__setitem__("position", (x, y))
    xdg.dispatcher["logical_size"] = lambda _, w, h: info.__setitem__("size", (w, h))
    return info


def read_outputs(wayland_display: str) -> list[dict[str, Any]]:
    """The outputs now, over a connection of its own."""
    outputs = WaylandOutputs(wayland_display)
    try:
        return outputs.read()
    finally:
        outputs.close()
