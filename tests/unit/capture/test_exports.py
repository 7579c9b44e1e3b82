"""The capture engine's public names are declared in __all__ and importable."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "jarvis_agent.platform",
    "jarvis_agent.platform.types",
    "jarvis_agent.platform.errors",
    "jarvis_agent.platform.lock",
    "jarvis_agent.platform.ctext",
    "jarvis_agent.platform.x11",
    "jarvis_agent.platform.macos",
    "jarvis_agent.platform.windows",
    "jarvis_agent.rules",
    "jarvis_agent.policy",
    "jarvis_agent.redact",
    "jarvis_agent.change",
    "jarvis_agent.encode",
    "jarvis_agent.grab",
    "jarvis_agent.pipeline",
    "jarvis_agent.ids",
    "jarvis_agent.audit",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_declared_public_name_exists(name: str) -> None:
    """Each module lists its public names in __all__, and each of them can be imported."""
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported, f"{name} declares no public names"
    missing = [item for item in exported if not hasattr(module, item)]
    assert missing == []
