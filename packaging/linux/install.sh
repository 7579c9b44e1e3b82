#!/usr/bin/env bash
# Installs the Jarvis bundle for the current user under ~/.local (no root needed):
#
#   ~/.local/lib/jarvis/                      the bundle (and uninstall.sh, and the install manifest)
#   ~/.local/bin/jarvis                       a link to the bundle's program
#   ~/.local/share/applications/jarvis.desktop, ~/.local/share/icons/hicolor/*/apps/jarvis.*
#   ~/.config/autostart/jarvis.desktop        with --autostart (start the tray at login)
#   ~/.config/systemd/user/jarvis-agent.service   with --systemd (the headless agent as a service)
#
# Upgrading (running a newer install.sh) keeps the start-at-login choices of the earlier install.
# Usage: install.sh [--autostart] [--headless] [--systemd] [--prefix DIR] [--bundle DIR] [--quiet]
#   --autostart  start Jarvis at login (the tray; with --headless the agent without a UI)
#   --systemd    install a systemd --user unit for `jarvis run --headless` (enable it yourself)
#   --prefix     install under DIR instead of ~/.local
#   --bundle     the PyInstaller bundle directory to install (default: ./jarvis or dist/jarvis)
# Every file and directory it creates is listed in ~/.local/lib/jarvis/install-manifest.txt;
# ~/.local/lib/jarvis/uninstall.sh removes exactly those and keeps your captures and settings.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
prefix="$HOME/.local"
prefix_given=0
bundle=""
autostart=0
headless=0
systemd=0
quiet=0
while [ $# -gt 0 ]; do
    case "$1" in
        --autostart) autostart=1; shift ;;
        --headless) headless=1; shift ;;
        --systemd) systemd=1; shift ;;
        --prefix) prefix="$2"; prefix_given=1; shift 2 ;;
        --bundle) bundle="$2"; shift 2 ;;
        --quiet) quiet=1; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
say() { if [ "$quiet" = 0 ]; then echo "$@"; fi; }
die() { echo "install.sh: $*" >&2; exit 1; }

# Where the pieces come from: an unpacked release archive (jarvis/, share/) or the source tree.
if [ -z "$bundle" ]; then
    if [ -x "$here/jarvis/jarvis" ]; then bundle="$here/jarvis"; else bundle="$here/../../dist/jarvis"; fi
fi
[ -x "$bundle/jarvis" ] || die "no bundle at $bundle (build it with scripts/build-bundles.sh, or pass --bundle DIR)"
bundle="$(cd "$bundle" && pwd)"
if [ -d "$here/share" ]; then
    templates="$here/share"; icons="$here/share"
else
    templates="$here"; icons="$here/../icons"
fi
[ -f "$templates/jarvis.desktop" ] || die "missing $templates/jarvis.desktop"
[ -d "$icons/hicolor" ] || die "missing $icons/hicolor"

case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
if [ "$prefix_given" = 1 ]; then datadir="$prefix/share"; else datadir="${XDG_DATA_HOME:-$HOME/.local/share}"; fi
confdir="${XDG_CONFIG_HOME:-$HOME/.config}"
case "$confdir" in /*) ;; *) confdir="$HOME/.config" ;; esac
libdir="$prefix/lib/jarvis"
bindir="$prefix/bin"
program="$libdir/jarvis"
manifest="$libdir/install-manifest.txt"
case "$prefix$datadir$confdir" in *$'\n'*) die "paths with a newline are not supported" ;; esac

# An earlier install is removed first (keeping the user's data), so an upgrade leaves no stale file.
if [ -f "$manifest" ] && [ -f "$libdir/uninstall.sh" ]; then
    say "replacing the installed Jarvis in $libdir"
    # Keep the start-at-login choices the earlier install made.
    if grep -qxF "$confdir/autostart/jarvis.desktop" "$manifest"; then
        autostart=1
        if grep -q '^Exec=.* run --headless$' "$confdir/autostart/jarvis.desktop" 2>/dev/null; then headless=1; fi
    fi
    if grep -qxF "$confdir/systemd/user/jarvis-agent.service" "$manifest"; then systemd=1; fi
    bash "$libdir/uninstall.sh" --prefix "$prefix" --quiet
fi
[ ! -e "$libdir" ] || die "$libdir exists but was not made by install.sh; move it away first"

# Check every target before writing anything, so a refusal leaves no half install behind.
targets=("$bindir/jarvis" "$datadir/applications/jarvis.desktop" \
    "$datadir/icons/hicolor/scalable/apps/jarvis.svg")
for png in "$icons"/hicolor/*/apps/jarvis.png; do
    targets+=("$datadir/icons/hicolor/$(basename "$(dirname "$(dirname "$png")")")/apps/jarvis.png")
done
if [ "$autostart" = 1 ]; then targets+=("$confdir/autostart/jarvis.desktop"); fi
if [ "$systemd" = 1 ]; then targets+=("$confdir/systemd/user/jarvis-agent.service"); fi
for target in "${targets[@]}"; do
    if [ -e "$target" ] || [ -L "$target" ]; then
        die "$target exists and was not installed by Jarvis; remove it first"
    fi
done

created=()     # files and directories this run created, in creation order
mkdirs() {     # mkdir -p that remembers which directories it made
    local dir="$1" missing=()
    while [ ! -d "$dir" ]; do missing=("$dir" "${missing[@]}"); dir="$(dirname "$dir")"; done
    local d
    for d in "${missing[@]}"; do mkdir "$d"; created+=("$d"); done
}
put() {        # put SOURCE TARGET MODE: copy a file, remembering it
    mkdirs "$(dirname "$2")"
    [ ! -e "$2" ] || [ -L "$2" ] || die "$2 exists and was not installed by Jarvis; remove it first"
    install -m "$3" "$1" "$2"
    created+=("$2")
}
render() {     # render TEMPLATE TARGET VALUE: a template with @EXEC@/@TRYEXEC@ filled in
    local text
    text="$(cat "$1")"
    text="${text//@EXEC@/"$3"}"
    text="${text//@TRYEXEC@/"$4"}"
    mkdirs "$(dirname "$2")"
    [ ! -e "$2" ] || die "$2 exists and was not installed by Jarvis; remove it first"
    printf '%s\n' "$text" > "$2"
    chmod 644 "$2"
    created+=("$2")
}
desktop_quote() {  # a path as one argument of a desktop entry's Exec key (always quoted)
    local a="$1"
    a="${a//\\/\\\\}"; a="${a//\"/\\\"}"; a="${a//\`/\\\`}"; a="${a//\$/\\\$}"
    a="\"$a\""
    a="${a//\\/\\\\}"   # the Desktop Entry string escaping, applied after the quoting
    printf '%s' "${a//%/%%}"
}
desktop_string() {  # a path as a plain string value (TryExec)
    local a="$1"
    printf '%s' "${a//\\/\\\\}"
}
systemd_quote() {  # a path as one word of a systemd ExecStart line
    local a="$1"
    a="${a//\\/\\\\}"; a="${a//\"/\\\"}"; a="${a//%/%%}"; a="${a//\$/\$\$}"
    printf '"%s"' "$a"
}

mkdirs "$(dirname "$libdir")"
cp -a "$bundle" "$libdir"
created+=("$libdir")
install -m 755 "$here/uninstall.sh" "$libdir/uninstall.sh"

mkdirs "$bindir"
if [ -e "$bindir/jarvis" ] || [ -L "$bindir/jarvis" ]; then
    die "$bindir/jarvis exists and was not installed by Jarvis; remove it first"
fi
ln -s "$program" "$bindir/jarvis"
created+=("$bindir/jarvis")

render "$templates/jarvis.desktop" "$datadir/applications/jarvis.desktop" \
    "$(desktop_quote "$program")" "$(desktop_string "$program")"
for png in "$icons"/hicolor/*/apps/jarvis.png; do
    size="$(basename "$(dirname "$(dirname "$png")")")"
    put "$png" "$datadir/icons/hicolor/$size/apps/jarvis.png" 644
done
put "$icons/jarvis.svg" "$datadir/icons/hicolor/scalable/apps/jarvis.svg" 644

if [ "$autostart" = 1 ]; then
    command="$(desktop_quote "$program")"
    if [ "$headless" = 1 ]; then command="$command run --headless"; fi
    render "$templates/jarvis-autostart.desktop" "$confdir/autostart/jarvis.desktop" "$command" ""
fi
if [ "$systemd" = 1 ]; then
    render "$templates/jarvis-agent.service" "$confdir/systemd/user/jarvis-agent.service" \
        "$(systemd_quote "$program")" ""
fi

# Refresh the desktop's caches only where they already exist (a new cache file would outlive us).
if [ -f "$datadir/icons/hicolor/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null; then
    gtk-update-icon-cache -q -t "$datadir/icons/hicolor" || true
fi
if [ -f "$datadir/applications/mimeinfo.cache" ] && command -v update-desktop-database >/dev/null; then
    update-desktop-database -q "$datadir/applications" || true
fi
if [ "$systemd" = 1 ] && command -v systemctl >/dev/null && systemctl --user show-environment >/dev/null 2>&1; then
    systemctl --user daemon-reload || true
fi

printf '%s\n' "${created[@]}" > "$manifest"

say "installed $("$program" --version 2>/dev/null || echo Jarvis) into $libdir"
say "run it with: $bindir/jarvis   (or from your desktop's application menu)"
case ":$PATH:" in *":$bindir:"*) ;; *) say "note: $bindir is not on your PATH" ;; esac
if [ "$systemd" = 1 ]; then say "start the headless agent with: systemctl --user enable --now jarvis-agent.service"; fi
say "uninstall with: $libdir/uninstall.sh"
