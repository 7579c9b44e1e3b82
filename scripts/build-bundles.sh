#!/usr/bin/env bash
# Builds the two one-folder PyInstaller bundles, dist/jarvis/ and dist/jarvis-server/, and on Linux
# the installable archive dist/jarvis-VERSION-linux-ARCH.tar.gz (bundle + install.sh + desktop files).
#
#   bash scripts/build-bundles.sh [--dist DIR] [--work DIR] [--only jarvis|jarvis-server]
#                                 [--no-archive] [--no-sync]
#
# Takes a few minutes on two cores; the bundles embed the version from the VERSION file.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never

dist=dist
work=build/pyinstaller
only=""
archive=1
sync=1
while [ $# -gt 0 ]; do
    case "$1" in
        --dist) dist="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --no-archive) archive=0; shift ;;
        --no-sync) sync=0; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "build-bundles.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

version="$(tr -d '[:space:]' < VERSION)"
# An editable install built before a VERSION bump still carries the old version: refresh it
# (the specs refuse to build from a stale one). --no-sync when the environment is known fresh.
no_sync=()
if [ "$sync" = 0 ]; then no_sync=(--no-sync); fi
if [ "$sync" = 1 ]; then
    uv sync --frozen --quiet --reinstall-package jarvis-agent --reinstall-package jarvis-contract \
        --reinstall-package jarvis-platform --reinstall-package jarvis-sync \
        --reinstall-package jarvis-ui --reinstall-package jarvis-server
fi

for name in jarvis jarvis-server; do
    if [ -n "$only" ] && [ "$only" != "$name" ]; then continue; fi
    start=$(date +%s)
    uv run --frozen "${no_sync[@]}" pyinstaller --noconfirm --clean --log-level WARN \
        --distpath "$dist" --workpath "$work/$name" "packaging/pyinstaller/$name.spec"
    echo "built $dist/$name (version $version) in $(( $(date +%s) - start ))s, $(du -sh "$dist/$name" | cut -f1)"
done

if [ "$archive" = 1 ] && [ "$(uname -s)" = Linux ] && [ "$only" != jarvis-server ]; then
    arch="$(uname -m)"
    stage="$work/jarvis-$version-linux-$arch"
    rm -rf "$stage"
    mkdir -p "$stage"
    cp -a "$dist/jarvis" "$stage/jarvis"
    cp -a packaging/linux/install.sh packaging/linux/uninstall.sh "$stage/"
    mkdir -p "$stage/share"
    cp -a packaging/linux/jarvis.desktop packaging/linux/jarvis-autostart.desktop \
        packaging/linux/jarvis-agent.service "$stage/share/"
    cp -a packaging/icons/hicolor packaging/icons/jarvis.svg "$stage/share/"
    tar -C "$work" -czf "$dist/jarvis-$version-linux-$arch.tar.gz" "jarvis-$version-linux-$arch"
    echo "archived $dist/jarvis-$version-linux-$arch.tar.gz ($(du -sh "$dist/jarvis-$version-linux-$arch.tar.gz" | cut -f1))"
fi
