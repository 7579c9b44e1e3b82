"""Installing and enabling Jarvis's GNOME Shell extension (what `jarvis setup gnome` does).

The extension ships as package data (gnome_extension/jarvis@jarvis.local): it is copied into the
user's ~/.local/share/gnome-shell/extensions and added to org.gnome.shell enabled-extensions with
gsettings, which works whether or not GNOME Shell runs yet. On Wayland, GNOME Shell loads a new
extension only when it starts: the user logs out and back in once.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
from pathlib import Path

from jarvis_platform.errors import PlatformError

__all__ = [
    "EXTENSION_UUID",
    "enable_extension",
    "extension_source",
    "install_extension",
    "user_extensions_dir",
]

EXTENSION_UUID = "jarvis@jarvis.local"
_SCHEMA, _KEY = "org.gnome.shell", "enabled-extensions"


def extension_source() -> Path:
    """The extension's files as shipped with Jarvis."""
    return Path(__file__).with_name("gnome_extension") / EXTENSION_UUID


def user_extensions_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    data = env.get("XDG_DATA_HOME", "").strip() or str(Path.home() / ".local/share")
    return Path(data) / "gnome-shell" / "extensions"


def install_extension(extensions_dir: Path | None = None) -> Path:
    """Copy the extension into `extensions_dir` (the user's by default), replacing any older one."""
    target = (extensions_dir or user_extensions_dir()) / EXTENSION_UUID
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(EXTENSION_UUID + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(extension_source(), staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def _gsettings(*args: str) -> str:
    if shutil.which("gsettings") is None:
        raise PlatformError("gsettings is not installed (it comes with GLib: libglib2.0-bin)")
    done = subprocess.run(
        ["gsettings", *args], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        raise PlatformError(f"gsettings {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def enabled_extensions() -> list[str]:
    text = _gsettings("get", _SCHEMA, _KEY)
    if text.startswith("@as "):  # an empty list prints as "@as []"
        text = text[4:]
    value = ast.literal_eval(text)
    return [str(item) for item in value]


def enable_extension() -> bool:
    """Add the extension to enabled-extensions (and allow user extensions); True if it was not
    there yet."""
    current = enabled_extensions()
    _gsettings("set", _SCHEMA, "disable-user-extensions", "false")
    if EXTENSION_UUID in current:
        return False
    _gsettings("set", _SCHEMA, _KEY, str([*current, EXTENSION_UUID]))
    return True
