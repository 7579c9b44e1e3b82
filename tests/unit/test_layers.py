"""Imports point one way: ui -> agent -> (sync -> contract, platform); server -> contract."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[2]
PACKAGES = {
    "jarvis_contract": ROOT / "contract" / "src" / "jarvis_contract",
    "jarvis_platform": ROOT / "platforms" / "src" / "jarvis_platform",
    "jarvis_sync": ROOT / "sync" / "src" / "jarvis_sync",
    "jarvis_agent": ROOT / "agent" / "src" / "jarvis_agent",
    "jarvis_ui": ROOT / "ui" / "src" / "jarvis_ui",
    "jarvis_server": ROOT / "server" / "src" / "jarvis_server",
}
ALLOWED = {
    "jarvis_contract": set(),
    "jarvis_platform": set(),
    "jarvis_sync": {"jarvis_contract"},
    "jarvis_agent": {"jarvis_contract", "jarvis_platform", "jarvis_sync"},
    "jarvis_ui": {"jarvis_contract", "jarvis_platform", "jarvis_sync", "jarvis_agent"},
    "jarvis_server": {"jarvis_contract"},
}


def _imported_packages(source: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_imports_only_what_lies_below_it(package: str) -> None:
    """No module of a package imports a package above it or beside it (lazy imports included)."""
    wrong = {
        f"{path.relative_to(ROOT)} imports {other}"
        for path in sorted(PACKAGES[package].rglob("*.py"))
        for other in _imported_packages(path) - ALLOWED[package] - {package}
    }
    assert wrong == set()


MEMBERS = {
    "jarvis_contract": ROOT / "contract",
    "jarvis_platform": ROOT / "platforms",
    "jarvis_sync": ROOT / "sync",
    "jarvis_agent": ROOT / "agent",
    "jarvis_ui": ROOT / "ui",
    "jarvis_server": ROOT / "server",
}


# Modules imported only on another OS, so not installed here: their distributions by name.
OTHER_OS = {"AppKit": ["pyobjc-framework-Cocoa"], "Quartz": ["pyobjc-framework-Quartz"]}


def _third_party_imports(package: str) -> set[str]:
    found: set[str] = set()
    for source in PACKAGES[package].rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != package}


def _declared(package: str) -> set[str]:
    project = tomllib.loads((MEMBERS[package] / "pyproject.toml").read_text(encoding="utf-8"))
    names = {Requirement(spec).name for spec in project["project"]["dependencies"]}
    return {canonicalize_name(name) for name in names}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_declares_what_it_imports(package: str) -> None:
    """Every distribution a member imports is a dependency in its own pyproject, so installing
    that member alone (the server image, a bundle) never misses a module."""
    providers = packages_distributions() | OTHER_OS | {n: [n.replace("_", "-")] for n in PACKAGES}
    missing = {
        f"{module} (from {', '.join(sorted(providers.get(module, ['?'])))})"
        for module in _third_party_imports(package)
        if not {canonicalize_name(d) for d in providers.get(module, [module])} & _declared(package)
    }
    assert missing == set()


# Only these talk HTTP to the server: jarvis_sync's client, and the server itself.
HTTP_OWNERS = {"jarvis_sync", "jarvis_server"}
HTTP_MODULES = {"httpx", "urllib.request", "requests", "http.client", "aiohttp"}
HEALTH_OWNERS = {"jarvis_contract", "jarvis_server"}


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _http_imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        else:
            continue
        found |= {n for n in names for m in HTTP_MODULES if n == m or n.startswith(f"{m}.")}
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_only_the_sync_client_talks_http_to_the_server(package: str) -> None:
    """Outside jarvis_sync and jarvis_server no module imports an HTTP client (httpx,
    urllib.request, ...) or spells the health path: they call jarvis_sync's ServerClient, and
    the paths come from jarvis_contract."""
    wrong: set[str] = set()
    for path in sorted(PACKAGES[package].rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT)
        if package not in HTTP_OWNERS:
            wrong |= {f"{where} imports {name}" for name in _http_imports(tree)}
        if package not in HEALTH_OWNERS:
            skip = _docstrings(tree)
            wrong |= {
                f"{where}:{node.lineno} spells {node.value!r}"
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "/health" in node.value
                and id(node) not in skip
            }
    assert wrong == set()
