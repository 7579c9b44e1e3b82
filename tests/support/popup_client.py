"""A real override-redirect X client for tests: one filled popup window, as a menu or tooltip is.

    python tests/support/popup_client.py --geometry 200x300+450+350 --color ff0000 \
        [--wm-class KeePassXC] [--owner WINDOW_ID] [--pid]

Maps the window (the window manager never sees it: override-redirect), prints its id, and keeps
it open until stdin closes or the process is terminated.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from Xlib import X, Xatom, display


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geometry", required=True, help="WxH+X+Y")
    parser.add_argument("--color", default="ff0000", help="RRGGBB")
    parser.add_argument("--wm-class", help="WM_CLASS class (the instance is its lower case)")
    parser.add_argument("--owner", type=lambda v: int(v, 0), help="WM_TRANSIENT_FOR window id")
    parser.add_argument("--pid", action="store_true", help="set _NET_WM_PID to this process")
    args = parser.parse_args()
    match = re.fullmatch(r"(\d+)x(\d+)\+(\d+)\+(\d+)", args.geometry)
    if match is None:
        parser.error(f"--geometry must be WxH+X+Y, got {args.geometry!r}")
    width, height, x, y = (int(v) for v in match.groups())

    d = display.Display()
    screen = d.screen()
    window = screen.root.create_window(
        x,
        y,
        width,
        height,
        0,
        screen.root_depth,
        X.InputOutput,
        X.CopyFromParent,
        background_pixel=int(args.color, 16),
        override_redirect=True,
    )
    if args.wm_class:
        window.set_wm_class(args.wm_class.lower(), args.wm_class)
    if args.owner is not None:
        window.set_wm_transient_for(d.create_resource_object("window", args.owner))
    if args.pid:
        window.change_property(d.intern_atom("_NET_WM_PID"), Xatom.CARDINAL, 32, [os.getpid()])
    window.map()
    d.sync()
    print(window.id, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
