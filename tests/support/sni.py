"""A real StatusNotifierItem host on Wayland: waybar's tray module on the test's sway
(GNOME Shell's AppIndicator extension is the other host tested, in test_tray_gnome.py).

waybar (Debian's 0.9.17) serves org.kde.StatusNotifierWatcher itself and registers as its host,
which is what Qt 6 waits for before QSystemTrayIcon registers an item (instead of reporting no
tray). The readers below look at the watcher and the items over D-Bus, as a panel does.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, Properties  # type: ignore[import-untyped]
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

from tests.support.session_bus import SessionBus, stop
from tests.support.wayland import Sway, wait_for

WATCHER = DBusAddress(
    "/StatusNotifierWatcher",
    bus_name="org.kde.StatusNotifierWatcher",
    interface="org.kde.StatusNotifierWatcher",
)


def start_waybar(sway: Sway, bus: SessionBus, workdir: Path) -> subprocess.Popen[bytes]:
    """waybar with only its tray module, on sway, its watcher and host on `bus`."""
    config = workdir / "waybar.json"
    config.write_text(json.dumps({"layer": "top", "modules-right": ["tray"]}))
    runtime = workdir / "waybar-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    process = subprocess.Popen(
        ["waybar", "-c", str(config)],
        env={
            **sway.env,
            "DBUS_SESSION_BUS_ADDRESS": bus.address,
            "XDG_RUNTIME_DIR": str(runtime),
        },
        stdin=subprocess.DEVNULL,
        stdout=(workdir / "waybar.log").open("wb"),
        stderr=subprocess.STDOUT,
    )

    def ready() -> bool:
        if process.poll() is not None:
            log = (workdir / "waybar.log").read_text(errors="replace")
            raise RuntimeError(f"waybar exited with {process.returncode}: {log[-2000:]}")
        return bus.has_owner(WATCHER.bus_name)

    try:
        wait_for(ready, "waybar's StatusNotifierWatcher")
    except BaseException:
        stop(process)
        raise
    return process


def _get(bus: str, address: DBusAddress, name: str | None) -> Any:
    with contextlib.closing(open_dbus_connection(bus=bus)) as conn:
        message = Properties(address).get_all() if name is None else Properties(address).get(name)
        reply = conn.send_and_get_reply(message, timeout=10)
    if reply.header.message_type.name == "error":
        raise LookupError(f"{address.bus_name}{address.object_path}: {reply.body}")
    value = reply.body[0]
    if name is None:
        return {key: variant[1] for key, variant in value.items()}
    return value[1]


def has_watcher(bus: str) -> bool:
    """Whether a StatusNotifierWatcher holds its name on the bus at address `bus`."""
    with contextlib.closing(open_dbus_connection(bus=bus)) as conn:
        reply = conn.send_and_get_reply(message_bus.NameHasOwner(WATCHER.bus_name), timeout=10)
    return bool(reply.body[0])


def registered_items(bus: str) -> list[str]:
    """The items the watcher on the bus at address `bus` holds (as it names them), or [] when
    there is no watcher."""
    if not has_watcher(bus):
        return []
    return list(_get(bus, WATCHER, "RegisteredStatusNotifierItems"))


def item_properties(bus: str, item: str) -> dict[str, Any]:
    """Every org.kde.StatusNotifierItem property of `item` ("service/path") on the bus at
    address `bus`; GNOME's AppIndicator extension lists it as "service@/path"."""
    service, at, path = item.partition("@/")
    if not at:
        service, _, path = item.partition("/")
    address = DBusAddress("/" + path, bus_name=service, interface="org.kde.StatusNotifierItem")
    return dict(_get(bus, address, None))


def jarvis_item(bus: str) -> tuple[str, dict[str, Any]]:
    """The one registered item once it has drawn its icon, and its properties."""
    (item,) = wait_for(lambda: registered_items(bus), "the Jarvis item")
    props = wait_for(
        lambda: (p := item_properties(bus, item))["IconPixmap"] and p, "the item's icon"
    )
    return item, props


def largest_pixmap_rgb(pixmaps: list[tuple[int, int, bytes]]) -> list[tuple[int, int, int]]:
    """The opaque pixels of the largest IconPixmap (ARGB32, network byte order) as RGB."""
    width, height, data = max(pixmaps, key=lambda p: p[0] * p[1])
    pixels = []
    for i in range(0, width * height * 4, 4):
        alpha, red, green, blue = data[i : i + 4]
        if alpha > 200:
            pixels.append((red, green, blue))
    return pixels


def count_near(pixels: list[tuple[int, int, int]], rgb: tuple[int, int, int], tol: int = 40) -> int:
    return sum(1 for p in pixels if all(abs(a - b) <= tol for a, b in zip(p, rgb, strict=True)))
