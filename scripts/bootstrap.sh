#!/usr/bin/env bash
# Installs what Jarvis and its tests need on a fresh Debian/Ubuntu machine: the system packages
# for a real desktop (X server, window manager, tray host, Qt's xcb libraries, Secret Service
# keyring, D-Bus) and PostgreSQL, then uv and the locked Python environment.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    xvfb openbox trayer xdotool x11-utils x11-apps xterm dbus dbus-x11 gnome-keyring
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
    libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0 libxcb-shm0
    libgl1 libegl1 libfontconfig1 libdbus-1-3 postgresql desktop-file-utils shellcheck
    sway xwayland foot weston haproxy nginx  # nginx: the scaled-out compose's config, tested
    kwin-wayland qdbus-qt5 libgl1-mesa-dri chromium chromium-l10n at-spi2-core
    libkf5globalaccel-bin xdg-desktop-portal waybar swaylock  # Wayland hotkey, tray (SNI), lock
    xdg-desktop-portal-kde  # the portal's GlobalShortcuts (KDE's backend) for the hotkey tests
    gnome-shell xdg-desktop-portal xdg-desktop-portal-gnome xdg-desktop-portal-gtk libglib2.0-bin
    gnome-shell-extension-appindicator  # GNOME's tray host (SNI) for the GNOME tray test
    tesseract-ocr tesseract-ocr-eng fonts-dejavu-core
    pipewire wireplumber gstreamer1.0-pipewire gstreamer1.0-tools  # GNOME frames: screen cast
    nodejs  # parses the GNOME 45+ extension (an ES module) in the tests; no gjs binary ships
)
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
export UV_PYTHON_DOWNLOADS=never
# Bytecode is compiled once here: the test processes (and many users' shells) run with
# PYTHONDONTWRITEBYTECODE=1, and a server started without cached bytecode takes ~10 s instead of ~2.
uv sync --frozen --compile-bytecode
uv run --frozen python -m compileall -q -j 0 agent/src contract/src platforms/src sync/src ui/src server/src tests benchmarks >/dev/null
