/* Jarvis window list: the windows GNOME Shell draws, for the Jarvis capture agent, over D-Bus.
 * GNOME Shell 45-49 (extensions are ES modules there); gnome_extension/ holds the same for 43/44,
 * with the same interface, byte for byte (a test compares them).
 *
 * Owns the session-bus name local.jarvis.Shell (Jarvis's own) and exports
 * /local/jarvis/Shell with interface local.jarvis.Shell1:
 *   GetWindows() -> s   JSON: {"stage": [w, h], "monitors": [[x, y, w, h, scale], ...],
 *                        "windows": [...bottom to top...], "focus": id or null}
 *   GetFocus() -> s     JSON: {"id": id or null, "title": title or null}
 *   signal FocusChanged(s)  the same JSON as GetFocus, on a change of focus or of its title
 * Read-only: it moves, shows or captures nothing, and takes no name that is not Jarvis's.
 */
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Meta from 'gi://Meta';

import * as Main from 'resource:///org/gnome/shell/ui/main.js';
import {Extension} from 'resource:///org/gnome/shell/extensions/extension.js';

const BUS_NAME = 'local.jarvis.Shell';
const OBJECT_PATH = '/local/jarvis/Shell';
const IFACE = `<node>
  <interface name="local.jarvis.Shell1">
    <method name="GetWindows"><arg type="s" direction="out" name="json"/></method>
    <method name="GetFocus"><arg type="s" direction="out" name="json"/></method>
    <signal name="FocusChanged"><arg type="s" name="json"/></signal>
    <property name="Version" type="u" access="read"/>
  </interface>
</node>`;

// Window types that are menus, tooltips and other popups: drawn above their owner, never managed.
const POPUP_TYPES = new Set([
    Meta.WindowType.DROPDOWN_MENU, Meta.WindowType.POPUP_MENU, Meta.WindowType.TOOLTIP,
    Meta.WindowType.COMBO, Meta.WindowType.NOTIFICATION, Meta.WindowType.DND,
    Meta.WindowType.OVERRIDE_OTHER, Meta.WindowType.MENU,
]);

function windowId(w) {
    return Number(w.get_id());
}

function describe(w) {
    const r = w.get_frame_rect();
    const owner = w.get_transient_for();
    const type = w.get_window_type();
    const popup = POPUP_TYPES.has(type) || w.is_override_redirect();
    return {
        id: windowId(w),
        app_id: w.get_gtk_application_id() || w.get_sandboxed_app_id() || null,
        wm_class: w.get_wm_class() || null,
        wm_class_instance: w.get_wm_class_instance() || null,
        title: w.get_title() || null,
        rect: [r.x, r.y, r.width, r.height],
        pid: w.get_pid() > 0 ? w.get_pid() : null,
        focused: w.has_focus(),
        minimized: w.minimized,
        shown: w.showing_on_its_workspace() && !w.minimized,
        on_workspace: w.located_on_workspace(global.workspace_manager.get_active_workspace()),
        popup,
        type,
        owner: owner ? windowId(owner) : null,
        xwayland: w.get_client_type() === Meta.WindowClientType.X11,
    };
}

function snapshot() {
    const windows = [];
    for (const actor of global.get_window_actors()) {  // stacking order, bottom to top
        const w = actor.get_meta_window();
        if (!w)
            continue;
        const info = describe(w);
        info.mapped = actor.visible;
        windows.push(info);
    }
    const monitors = [];
    const n = global.display.get_n_monitors();
    for (let i = 0; i < n; i++) {
        const g = global.display.get_monitor_geometry(i);
        monitors.push([g.x, g.y, g.width, g.height, global.display.get_monitor_scale(i)]);
    }
    const focus = global.display.get_focus_window();
    return {
        stage: [global.stage.width, global.stage.height],
        monitors,
        windows,
        focus: focus ? windowId(focus) : null,
        overview: Main.overview.visible,
        // The lock screen, or the screensaver's curtain before it (what org.gnome.ScreenSaver
        // reports when GNOME runs it; without logind there is no ScreenSaver service).
        locked: Main.sessionMode.isLocked ||
            Boolean(Main.screenShield && (Main.screenShield.locked || Main.screenShield.active)),
    };
}

function focusJson() {
    const w = global.display.get_focus_window();
    return JSON.stringify({ id: w ? windowId(w) : null, title: w ? (w.get_title() || null) : null });
}

class JarvisService {
    GetWindows() {
        return JSON.stringify(snapshot());
    }

    GetFocus() {
        return focusJson();
    }

    get Version() {
        return 1;
    }
}

export default class JarvisExtension extends Extension {
    constructor(metadata) {
        super(metadata);
        this._exported = null;
        this._nameId = 0;
        this._focusId = 0;
        this._titleId = 0;
        this._titleWindow = null;
        this._last = null;
    }

    enable() {
        this._exported = Gio.DBusExportedObject.wrapJSObject(IFACE, new JarvisService());
        this._exported.export(Gio.DBus.session, OBJECT_PATH);
        this._nameId = Gio.bus_own_name_on_connection(
            Gio.DBus.session, BUS_NAME, Gio.BusNameOwnerFlags.NONE, null, null);
        this._focusId = global.display.connect('notify::focus-window', () => this._onFocus());
        this._onFocus();
    }

    _onFocus() {
        if (this._titleWindow) {
            this._titleWindow.disconnect(this._titleId);
            this._titleWindow = null;
        }
        const w = global.display.get_focus_window();
        if (w) {
            this._titleWindow = w;
            this._titleId = w.connect('notify::title', () => this._emit());
        }
        this._emit();
    }

    _emit() {
        const json = focusJson();
        if (json === this._last || !this._exported)
            return;
        this._last = json;
        this._exported.emit_signal('FocusChanged', new GLib.Variant('(s)', [json]));
    }

    disable() {
        if (this._titleWindow) {
            this._titleWindow.disconnect(this._titleId);
            this._titleWindow = null;
        }
        if (this._focusId) {
            global.display.disconnect(this._focusId);
            this._focusId = 0;
        }
        if (this._nameId) {
            Gio.bus_unown_name(this._nameId);
            this._nameId = 0;
        }
        if (this._exported) {
            this._exported.unexport();
            this._exported = null;
        }
        this._last = null;
    }
}
