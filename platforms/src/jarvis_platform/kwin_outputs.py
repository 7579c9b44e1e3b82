"""KWin's outputs with their scales, read from Wayland (wl_output + xdg-output, pywayland).

KWin 5.27's scripting API gives windows in logical coordinates but no output scale, so the scale
comes from the compositor's Wayland globals: xdg-output gives each output's logical position and
size, wl_output's current mode its size in device pixels (what ScreenShot2 captures with
`native-resolution`); their ratio is the scale (2, or 1.5). The result is the shape of sway's
GET_OUTPUTS, so sway_layout.layout_outputs places the monitors the same way.

One connection per read: each call sees the outputs as they are then (a few milliseconds).
"""

from __future__ import annotations

from typing import Any

from pywayland.client.display import Display
from pywayland.protocol.wayland import WlOutput
from pywayland.protocol.xdg_output_unstable_v1 import ZxdgOutputManagerV1

from jarvis_platform.errors import PlatformError, UnsupportedSessionError

__all__ = ["read_outputs"]

_NORMAL = 0  # wl_output.transform.normal


def read_outputs(wayland_display: str) -> list[dict[str, Any]]:
    """Every output: name, rect (logical), scale, current_mode (device pixels), transform."""
    display = Display(wayland_display)
    try:
        display.connect()
    except Exception as exc:
        raise PlatformError(
            f"cannot connect to KWin's Wayland socket at {wayland_display}: {exc}"
        ) from exc
    try:
        return _read(display)
    finally:
        display.disconnect()


def _describe(output: Any, xdg: Any) -> dict[str, Any]:
    """The dict the output's events fill in (after a roundtrip or two)."""
    info: dict[str, Any] = {"active": True, "transform": "normal"}

    def on_mode(_: Any, flags: int, width: int, height: int, refresh: int) -> None:
        if flags & 1:  # the current mode
            info["current_mode"] = {"width": width, "height": height}

    def on_geometry(_: Any, *args: Any) -> None:
        if args[-1] != _NORMAL:
            info["transform"] = f"transform {args[-1]}"

    output.dispatcher["mode"] = on_mode
    output.dispatcher["geometry"] = on_geometry
    xdg.dispatcher["name"] = lambda _, text: info.__setitem__("name", text)
    xdg.dispatcher["logical_position"] = lambda _, x, y: info.__setitem__("position", (x, y))
    xdg.dispatcher["logical_size"] = lambda _, w, h: info.__setitem__("size", (w, h))
    return info


def _read(display: Any) -> list[dict[str, Any]]:
    globals_: dict[str, list[tuple[int, int]]] = {}
    registry = display.get_registry()
    registry.dispatcher["global"] = lambda _, name, interface, version: globals_.setdefault(
        interface, []
    ).append((name, version))
    display.roundtrip()
    if "zxdg_output_manager_v1" not in globals_:
        raise UnsupportedSessionError(
            "KWin offers no xdg-output (zxdg_output_manager_v1), so Jarvis cannot tell where its "
            "outputs are and at which scale; it needs KWin 5.27 or later"
        )
    name, version = globals_["zxdg_output_manager_v1"][0]
    manager = registry.bind(name, ZxdgOutputManagerV1, min(version, 3))
    found: list[dict[str, Any]] = []
    proxies: list[Any] = []  # held until the events came: a collected proxy loses its handlers
    for name, version in globals_.get("wl_output", []):
        output = registry.bind(name, WlOutput, min(version, 4))
        xdg = manager.get_xdg_output(output)
        proxies += [output, xdg]
        found.append(_describe(output, xdg))
    display.roundtrip()
    display.roundtrip()
    outputs: list[dict[str, Any]] = []
    for info in found:
        if "size" not in info or "current_mode" not in info or "name" not in info:
            raise PlatformError(
                f"KWin did not describe one of its outputs (xdg-output, wl_output): {info}"
            )
        (x, y), (width, height) = info.pop("position", (0, 0)), info.pop("size")
        info["rect"] = {"x": x, "y": y, "width": width, "height": height}
        mode = info["current_mode"]
        info["scale"] = mode["width"] / width if width > 0 else 1.0
        if info["transform"] == "normal" and abs(mode["height"] / height - info["scale"]) > 0.01:
            raise PlatformError(f"KWin's output {info['name']} has no single scale ({info})")
        outputs.append(info)
    del proxies
    return outputs
