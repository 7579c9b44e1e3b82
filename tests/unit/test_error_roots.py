"""Each package has one exception root, as httpx does: everything it raises of its own derives
from it, so a caller can catch the package's failures in one clause."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

ROOTS = {
    "jarvis_agent": "jarvis_agent.errors.AgentError",
    "jarvis_platform": "jarvis_platform.errors.PlatformError",
    "jarvis_sync": "jarvis_sync.errors.SyncError",
    "jarvis_ui": "jarvis_ui.errors.UIError",
    "jarvis_server": "jarvis_server.errors.JarvisServerError",
}
# Modules that do work when imported (Alembic's migration environment, `python -m`) are skipped.
SKIP = ("jarvis_server.migrations", "jarvis_server.__main__", "jarvis_agent.__main__")
# Exceptions that belong to another tree on purpose.
OUTSIDE = {
    "jarvis_server.cli.StartupError",  # click's: printed as one line, exit 1
    "jarvis_sync._outbox_db.QuickCheckFailed",  # stays inside the outbox; SQLite damage as its own
}


def _load(dotted: str) -> type[BaseException]:
    module, _, name = dotted.rpartition(".")
    root = getattr(importlib.import_module(module), name)
    assert issubclass(root, BaseException)
    return root


def _own_exceptions(package: str) -> list[type[BaseException]]:
    top = importlib.import_module(package)
    found: list[type[BaseException]] = []
    for info in pkgutil.walk_packages(top.__path__, prefix=f"{package}."):
        if info.name.startswith(SKIP) or info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == info.name:
                found.append(value)
    return found


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_every_exception_derives_from_the_package_root(package: str) -> None:
    """No exception class defined in the package stands outside its root."""
    root = _load(ROOTS[package])
    strays = {
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _own_exceptions(package)
        if not issubclass(cls, root)
    } - OUTSIDE
    assert strays == set()
