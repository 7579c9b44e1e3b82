#!/usr/bin/env bash
# Removes what install.sh added, and nothing else: every file and directory listed in
# ~/.local/lib/jarvis/install-manifest.txt. Your settings, captures, outbox and logs stay unless
# you pass --purge (run `jarvis logout` first to remove the device token from the keyring).
#
# Usage: uninstall.sh [--prefix DIR] [--purge] [--quiet]
set -euo pipefail

prefix=""
purge=0
quiet=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --purge) purge=1; shift ;;
        --quiet) quiet=1; shift ;;
        -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
say() { if [ "$quiet" = 0 ]; then echo "$@"; fi; }

if [ -z "$prefix" ]; then
    here="$(cd "$(dirname "$0")" && pwd)"
    if [ -f "$here/install-manifest.txt" ]; then prefix="$(dirname "$(dirname "$here")")"; else prefix="$HOME/.local"; fi
fi
libdir="$prefix/lib/jarvis"
manifest="$libdir/install-manifest.txt"
if [ ! -f "$manifest" ]; then
    echo "uninstall.sh: Jarvis is not installed under $prefix (no $manifest)" >&2
    exit 1
fi

mapfile -t entries < "$manifest"

unit=""
for entry in "${entries[@]}"; do
    case "$entry" in */systemd/user/jarvis-agent.service) unit="$entry" ;; esac
done
if [ -n "$unit" ] && command -v systemctl >/dev/null && systemctl --user show-environment >/dev/null 2>&1; then
    systemctl --user disable --now jarvis-agent.service >/dev/null 2>&1 || true
fi

# Files first, then the directories install.sh created, deepest first, only if now empty.
for (( i=${#entries[@]}-1; i>=0; i-- )); do
    entry="${entries[$i]}"
    if [ "$entry" = "$libdir" ]; then
        rm -rf -- "$libdir"
    elif [ -L "$entry" ] || [ -f "$entry" ]; then
        rm -f -- "$entry"
    elif [ -d "$entry" ]; then
        rmdir -- "$entry" 2>/dev/null || true
    fi
done

if [ -n "$unit" ] && command -v systemctl >/dev/null && systemctl --user show-environment >/dev/null 2>&1; then
    systemctl --user daemon-reload || true
fi

if [ "$purge" = 1 ]; then
    # The agent's own files (platformdirs' locations on Linux; JARVIS_HOME if set).
    for dir in "${JARVIS_HOME:-}" "${XDG_CONFIG_HOME:-$HOME/.config}/jarvis" \
        "${XDG_DATA_HOME:-$HOME/.local/share}/jarvis" "${XDG_STATE_HOME:-$HOME/.local/state}/jarvis" \
        "${XDG_CACHE_HOME:-$HOME/.cache}/jarvis"; do
        if [ -n "$dir" ] && [ -d "$dir" ]; then rm -rf -- "$dir"; say "removed $dir"; fi
    done
fi

say "Jarvis is uninstalled from $prefix"
if [ "$purge" = 0 ]; then say "your settings and captures were kept (uninstall.sh --purge removes them)"; fi
