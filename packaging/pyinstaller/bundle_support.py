"""Shared facts for the PyInstaller specs: the project root, the one version, hidden imports.

The specs (`jarvis.spec`, `jarvis-server.spec`) import this module from their own directory. It
only computes lists; PyInstaller does the collecting.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import version as installed_version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION_FILE = ROOT / "VERSION"

# The distributions whose metadata must ship in the bundles: `--version` reads the version from
# it (importlib.metadata), and `jarvis` finds the tray app's commands through the `jarvis.commands`
# entry-point group declared in jarvis-ui's metadata.
AGENT_DISTRIBUTIONS = (
    "jarvis-agent",
    "jarvis-contract",
    "jarvis-platform",
    "jarvis-sync",
    "jarvis-ui",
)
SERVER_DISTRIBUTIONS = ("jarvis-server", "jarvis-contract")


class StaleVersionError(RuntimeError):
    """The installed packages carry another version than the VERSION file."""


def project_version() -> str:
    """The version from the VERSION file, checked against the installed distributions.

    A bundle built from a stale editable install would print an old `--version`; refuse to build.
    """
    wanted = VERSION_FILE.read_text(encoding="utf-8").strip()
    for dist in {*AGENT_DISTRIBUTIONS, *SERVER_DISTRIBUTIONS}:
        found = installed_version(dist)
        if found != wanted:
            raise StaleVersionError(
                f"{dist} is installed as {found} but VERSION says {wanted}; "
                f"run `uv sync --reinstall-package {dist}` and build again"
            )
    return wanted


def pynput_backends(platform: str = sys.platform) -> list[str]:
    """pynput picks its backend at run time by platform; name the ones this platform needs."""
    if platform.startswith("linux"):
        names = ["keyboard._xorg", "mouse._xorg", "_util.xorg", "_util.xorg_keysyms"]
    elif platform == "win32":
        names = ["keyboard._win32", "mouse._win32", "_util.win32", "_util.win32_vks"]
    elif platform == "darwin":
        names = ["keyboard._darwin", "mouse._darwin", "_util.darwin", "_util.darwin_vks"]
    else:
        names = []
    return [f"pynput.{name}" for name in names]


def keyring_backends(platform: str = sys.platform) -> list[str]:
    """keyring chooses among backends found through entry points and imports them lazily."""
    names = ["keyring.backends.fail", "keyring.backends.null", "keyring.backends.chainer"]
    if platform.startswith("linux"):
        names += ["keyring.backends.SecretService", "keyring.backends.kwallet"]
        names += ["secretstorage", "jeepney", "jeepney.io.blocking"]
    elif platform == "win32":
        names += ["keyring.backends.Windows"]
    elif platform == "darwin":
        names += ["keyring.backends.macOS"]
    return names


def mss_backends(platform: str = sys.platform) -> list[str]:
    """mss imports its platform module by name inside `mss.MSS()`."""
    if platform.startswith("linux"):
        return ["mss.linux"]
    if platform == "win32":
        return ["mss.windows"]
    if platform == "darwin":
        return ["mss.darwin"]
    return []


# APScheduler 3 loads triggers, executors and job stores through entry points (the contrib hook
# ships its metadata and every submodule). The agent only uses the in-memory job store and thread
# pool, so the stores and executors needing other databases or event loops stay out.
APSCHEDULER_EXCLUDES = [
    "apscheduler.jobstores.sqlalchemy",
    "apscheduler.jobstores.mongodb",
    "apscheduler.jobstores.redis",
    "apscheduler.jobstores.rethinkdb",
    "apscheduler.jobstores.zookeeper",
    "apscheduler.jobstores.etcd",
    "apscheduler.executors.gevent",
    "apscheduler.executors.tornado",
    "apscheduler.executors.twisted",
    "apscheduler.schedulers.gevent",
    "apscheduler.schedulers.tornado",
    "apscheduler.schedulers.twisted",
    "apscheduler.schedulers.qt",
]

APSCHEDULER_IMPORTS = [
    "apscheduler.schedulers.background",
    "apscheduler.triggers.interval",
    "apscheduler.triggers.date",
    "apscheduler.triggers.cron",
    "apscheduler.executors.pool",
    "apscheduler.jobstores.memory",
]

# The server: uvicorn picks its event loop, HTTP and WebSocket implementations by name; the
# database URL picks the SQLAlchemy dialect and driver by name (sqlite+aiosqlite,
# postgresql+asyncpg).
SERVER_IMPORTS = [
    "uvicorn.loops.auto",
    "uvicorn.loops.asyncio",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
    "aiosqlite",
    "asyncpg",
    "asyncpg.pgproto.pgproto",
    "sqlalchemy.dialects.sqlite.aiosqlite",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "alembic",
    "alembic.runtime.migration",
    "alembic.ddl.sqlite",
    "alembic.ddl.postgresql",
    "multipart",
    "python_multipart",
]

# The tray app is not imported by the agent (it adds itself through an entry point), so nothing
# in the import graph leads PyInstaller to it or to Qt: name the Qt modules the tray uses.
QT_IMPORTS = [
    "PySide6.QtCore",
    "PySide6.QtGui",
    "PySide6.QtWidgets",
    "PySide6.QtSvg",
    "PySide6.QtNetwork",
]


# Development tools present in the build environment that libraries import only optionally
# (pydantic's mypy plugin, numpy's and hypothesis' test helpers): never ship them.
DEV_EXCLUDES = [
    "tkinter",
    "hypothesis",
    "mypy",
    "mypyc",
    "ast_serialize",
    "pydantic.mypy",
    "pytest",
    "_pytest",
    "schemathesis",
    "IPython",
]


# Optional accelerators the agent never uses (anyio would use uvloop only if asked to; numpy's
# build-info printer imports yaml) and the server's frameworks, which the agent must not import.
AGENT_EXCLUDES = ["uvloop", "yaml", "fastapi", "uvicorn", "sqlalchemy", "alembic", "asyncpg"]


def is_windowed(platform: str = sys.platform) -> bool:
    """The tray bundle has no console on Windows and macOS; Linux keeps stdout for the CLI."""
    return platform in {"win32", "darwin"}


def windows_version_file(version: str, *, program: str, description: str) -> str:
    """The version resource of a Windows .exe (PyInstaller's VSVersionInfo text for
    `EXE(version=...)`), so Explorer's Properties > Details shows the project version."""
    release = re.match(r"\d+(?:\.\d+)*", version)  # 1.2.3rc1 -> 1.2.3
    numbers = [int(n) for n in release.group(0).split(".")[:4]] if release else []
    quad = tuple(numbers + [0] * (4 - len(numbers)))
    strings = {
        "CompanyName": "Jarvis",
        "FileDescription": description,
        "FileVersion": version,
        "InternalName": program,
        "OriginalFilename": f"{program}.exe",
        "ProductName": "Jarvis",
        "ProductVersion": version,
    }
    table = ",\n          ".join(f"StringStruct({k!r}, {v!r})" for k, v in strings.items())
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={quad}, prodvers={quad}, mask=0x3F, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
          {table}])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])]),
  ],
)
"""
