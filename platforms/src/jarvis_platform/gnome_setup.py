"""Installing and enabling Jarvis's GNOME Shell extension (what `jarvis setup gnome` does).

The extension ships as package data in one source, gnome_extension/*.in, made into one of two
variants with the same D-Bus interface and behaviour: for GNOME Shell 43/44 a script using
`imports`, for 45-49 an ES module (their extensions are ES modules; a 43/44 extension does not
load there). A template line marked `//@script` is only in the script, one marked `//@module`
only in the module, one marked `//@` in neither (a note on the template); every other line is in
both. The variant for `gnome-shell --version` is written into the user's
~/.local/share/gnome-shell/extensions and added to org.gnome.shell enabled-extensions with
gsettings, which works whether or not GNOME Shell runs yet. On Wayland, GNOME Shell loads a new
extension only when it starts: the user logs out and back in once.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

from jarvis_platform.errors import PlatformError

__all__ = [
    "EXTENSION_UUID",
    "enable_extension",
    "extension_files",
    "extension_variant",
    "install_extension",
    "shell_major_version",
    "user_extensions_dir",
]

EXTENSION_UUID = "jarvis@jarvis.local"
_SCHEMA, _KEY = "org.gnome.shell", "enabled-extensions"


SCRIPT_VERSIONS = range(43, 45)  # extensions are scripts using `imports`
MODULE_VERSIONS = range(45, 50)  # extensions are ES modules
_VARIANTS = ("script", "module")
_TEMPLATES = Path(__file__).with_name("gnome_extension")
_MARKER = re.compile(r"//@(\w*)(?: (.*))?")


def shell_major_version() -> int:
    """GNOME Shell's major version, from `gnome-shell --version` ("GNOME Shell 49.1")."""
    if shutil.which("gnome-shell") is None:
        raise PlatformError("gnome-shell is not installed here: run this inside your GNOME session")
    done = subprocess.run(
        ["gnome-shell", "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    found = re.search(r"GNOME Shell (\d+)", done.stdout)
    if done.returncode != 0 or found is None:
        raise PlatformError(
            f"could not tell GNOME Shell's version from `gnome-shell --version` "
            f"({(done.stdout or done.stderr).strip()[:200]!r})"
        )
    return int(found.group(1))


def extension_variant(shell_version: int | None = None) -> str:
    """Which extension this GNOME Shell loads: "script" (43/44) or "module" (45-49); the running
    shell's when no version is given."""
    version = shell_major_version() if shell_version is None else shell_version
    if version in SCRIPT_VERSIONS:
        return "script"
    if version in MODULE_VERSIONS:
        return "module"
    raise PlatformError(
        f"GNOME Shell {version} is not one Jarvis's extension is made for (43 to 49), so "
        "Jarvis cannot see GNOME's windows: install a Jarvis release that supports it"
    )


def _render(text: str, variant: str) -> str:
    """The lines of a template for `variant`: unmarked lines, and marked ones for it without
    their marker."""
    kept: list[str] = []
    for line in text.splitlines(keepends=True):
        marked = _MARKER.fullmatch(line.rstrip("\n"))
        if marked is None:
            kept.append(line)
            continue
        name, rest = marked.group(1), marked.group(2) or ""
        if name not in ("", *_VARIANTS):
            raise ValueError(f"unknown template marker //@{name} in line {line!r}")
        if name == variant:
            kept.append(rest + "\n")
    return "".join(kept)


def extension_files(shell_version: int | None = None) -> dict[str, str]:
    """The extension's files (name: text) for this GNOME Shell, made from the templates shipped
    with Jarvis."""
    variant = extension_variant(shell_version)
    return {
        template.name.removesuffix(".in"): _render(template.read_text("utf-8"), variant)
        for template in sorted(_TEMPLATES.glob("*.in"))
    }


def user_extensions_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    data = env.get("XDG_DATA_HOME", "").strip() or str(Path.home() / ".local/share")
    return Path(data) / "gnome-shell" / "extensions"


def install_extension(extensions_dir: Path | None = None, shell_version: int | None = None) -> Path:
    """Write the extension for this GNOME Shell into `extensions_dir` (the user's by default),
    replacing any older one."""
    files = extension_files(shell_version)
    target = (extensions_dir or user_extensions_dir()) / EXTENSION_UUID
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(EXTENSION_UUID + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name, text in files.items():
        (staging / name).write_text(text, "utf-8")
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
