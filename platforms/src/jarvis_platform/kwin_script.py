"""The KWin scripts Jarvis loads over D-Bus: a one-shot window report and a focus/title watch.

KWin 5.27's scripting API has no way to answer a D-Bus call, but a script can make one
(`callDBus`): each script is written with the caller's own unique bus name (":1.42", never a
well-known name) as its destination, and Jarvis checks that every call it accepts comes from the
owner of org.kde.KWin.

The report lists every window KWin manages (`workspace.clientList()`, which in 5.27 includes
Wayland popups, menus and tooltips, each with `transientFor` naming its parent) with its own
`stackingOrder`, and the screens' logical rectangles. Xwayland override-redirect windows (X11
menus) are not in that list: see kwin.py.
"""

from __future__ import annotations

import json

__all__ = ["INTERFACE", "REPORT_PATH", "WATCH_PATH", "report_script", "watch_script"]

INTERFACE = "org.jarvis.KWin"
REPORT_PATH = "/org/jarvis/KWin/Report"
WATCH_PATH = "/org/jarvis/KWin/Watch"

_REPORT = """\
(function () {
    var out = {screens: [], windows: [], desktop: workspace.currentDesktop};
    for (var s = 0; s < workspace.numScreens; s++) {
        var a = workspace.clientArea(KWin.ScreenArea, s, workspace.currentDesktop);
        out.screens.push({x: a.x, y: a.y, width: a.width, height: a.height});
    }
    var list = workspace.clientList();
    for (var i = 0; i < list.length; i++) {
        var c = list[i];
        var g = c.frameGeometry;
        out.windows.push({
            id: String(c.internalId),
            caption: String(c.caption),
            resourceClass: String(c.resourceClass),
            x: g.x, y: g.y, width: g.width, height: g.height,
            pid: c.pid,
            active: Boolean(c.active),
            minimized: Boolean(c.minimized),
            hidden: Boolean(c.hidden),
            desktop: c.desktop,
            popup: Boolean(c.popupWindow),
            x11: Boolean(c.windowId),
            transientFor: c.transientFor ? String(c.transientFor.internalId) : null,
            stacking: c.stackingOrder
        });
    }
    callDBus(%(dest)s, %(path)s, %(iface)s, "report", JSON.stringify(out));
})();
"""

_WATCH = """\
(function () {
    function report() {
        var c = workspace.activeClient;
        callDBus(%(dest)s, %(path)s, %(iface)s, "changed",
                 c ? String(c.internalId) : "", c ? String(c.caption) : "");
    }
    function watch(c) {
        if (c) {
            c.captionChanged.connect(function () { if (c.active) { report(); } });
        }
    }
    var list = workspace.clientList();
    for (var i = 0; i < list.length; i++) {
        watch(list[i]);
    }
    workspace.clientAdded.connect(watch);
    workspace.clientActivated.connect(report);
    report();
})();
"""


def _fill(template: str, destination: str, path: str) -> str:
    return template % {
        "dest": json.dumps(destination),
        "path": json.dumps(path),
        "iface": json.dumps(INTERFACE),
    }


def report_script(destination: str) -> str:
    """The one-shot script that sends the window report to `destination` (a unique bus name)."""
    return _fill(_REPORT, destination, REPORT_PATH)


def watch_script(destination: str) -> str:
    """The resident script that sends (id, caption) of the active window on each change."""
    return _fill(_WATCH, destination, WATCH_PATH)
