"""The KWin scripts Jarvis loads over D-Bus: a resident window report and a focus/title watch.

KWin 5.27's scripting API has no way to answer a D-Bus call, but a script can make one
(`callDBus`, with a callback that gets the reply: the report script asks Jarvis "next" and sends
a report when the answer says so, so it is loaded once, not once per list). Each script is
written with the caller's own unique bus name (":1.42", never a well-known name) as its
destination, and Jarvis checks that every call it accepts comes from the owner of org.kde.KWin.

The report lists every window KWin manages (`workspace.clientList()`, `windowList()` in KWin 6,
which include Wayland popups, menus and tooltips, each with `transientFor` naming its parent)
with its own `stackingOrder`, in logical coordinates (the outputs come from Wayland:
kwin_outputs.py). Xwayland override-redirect windows (X11 menus) are not in that list: see
kwin.py.
"""

from __future__ import annotations

import json

__all__ = ["INTERFACE", "REPORT_PATH", "WATCH_PATH", "report_script", "watch_script"]

INTERFACE = "org.jarvis.KWin"
REPORT_PATH = "/org/jarvis/KWin/Report"
WATCH_PATH = "/org/jarvis/KWin/Watch"

# KWin 6 renamed the scripting API (windowList, activeWindow, windowActivated, windowAdded,
# desktops as objects); each script feature-detects, so one text runs on KWin 5.27 and 6.
_COMPAT = """\
    var windows = function () {
        return workspace.windowList ? workspace.windowList() : workspace.clientList();
    };
    // Not on the current desktop only when that is certain: a window wrongly taken as hidden
    // would not be blacked out.
    var onCurrent = function (c) {
        if (c.onAllDesktops) { return true; }
        var now = workspace.currentVirtualDesktop || workspace.currentDesktop;
        if (c.desktops && c.desktops.length > 0 && now && now.id !== undefined) {
            for (var d = 0; d < c.desktops.length; d++) {
                if (c.desktops[d].id === now.id) { return true; }
            }
            return false;
        }
        if (typeof c.desktop === "number" && typeof workspace.currentDesktop === "number") {
            return c.desktop === -1 || c.desktop === workspace.currentDesktop;
        }
        return true;
    };
    var active = function () {
        var w = workspace.activeWindow;
        return w !== undefined ? w : workspace.activeClient;
    };
"""

_REPORT = """\
(function () {
%(compat)s
    function build() {
        var out = {windows: []};
        var list = windows();
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
                onCurrent: onCurrent(c),
                popup: Boolean(c.popupWindow),
                x11: Boolean(c.windowId),
                transientFor: c.transientFor ? String(c.transientFor.internalId) : null,
                stacking: c.stackingOrder
            });
        }
        return JSON.stringify(out);
    }
    // Resident: ask Jarvis what to do; it answers when it wants a list ("report"), or "stop".
    // KWin gives up on an unanswered call after 25 s and the chain ends; Jarvis then loads
    // the script again (kwin_report.py).
    function ask() {
        callDBus(%(dest)s, %(path)s, %(iface)s, "next", String(Date.now()), function (what) {
            if (what === "report") {
                callDBus(%(dest)s, %(path)s, %(iface)s, "report", build());
            }
            if (what !== "stop") { ask(); }
        });
    }
    ask();
})();
"""

_WATCH = """\
(function () {
%(compat)s
    function report() {
        var c = active();
        callDBus(%(dest)s, %(path)s, %(iface)s, "changed",
                 c ? String(c.internalId) : "", c ? String(c.caption) : "");
    }
    function watch(c) {
        if (c) {
            c.captionChanged.connect(function () { if (c.active) { report(); } });
        }
    }
    var list = windows();
    for (var i = 0; i < list.length; i++) {
        watch(list[i]);
    }
    (workspace.windowAdded || workspace.clientAdded).connect(watch);
    (workspace.windowActivated || workspace.clientActivated).connect(report);
    report();
})();
"""


def _fill(template: str, destination: str, path: str) -> str:
    return template % {
        "dest": json.dumps(destination),
        "path": json.dumps(path),
        "iface": json.dumps(INTERFACE),
        "compat": _COMPAT,
    }


def report_script(destination: str) -> str:
    """The resident script that sends the window report to `destination` (a unique bus name)
    each time that connection answers its "next" call with "report"."""
    return _fill(_REPORT, destination, REPORT_PATH)


def watch_script(destination: str) -> str:
    """The resident script that sends (id, caption) of the active window on each change."""
    return _fill(_WATCH, destination, WATCH_PATH)
