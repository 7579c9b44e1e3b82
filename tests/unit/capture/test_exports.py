"""The capture engine's public names are declared in __all__ and importable."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "jarvis_platform",
    "jarvis_platform.types",
    "jarvis_platform.errors",
    "jarvis_platform.screen_lock",
    "jarvis_platform.ctext",
    "jarvis_platform.x11",
    "jarvis_platform.macos",
    "jarvis_platform.windows",
    "jarvis_agent.capture.rules",
    "jarvis_agent.capture.gates",
    "jarvis_agent.capture.policy",
    "jarvis_agent.capture.redact",
    "jarvis_agent.capture.change",
    "jarvis_agent.capture.encode",
    "jarvis_platform.backends",
    "jarvis_platform.sway",
    "jarvis_platform.sway_ipc",
    "jarvis_platform.sway_layout",
    "jarvis_platform.wlr_screencopy",
    "jarvis_platform.grab",
    "jarvis_agent.capture.pipeline",
    "jarvis_agent.capture.ids",
    "jarvis_agent.capture.audit",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_declared_public_name_exists(name: str) -> None:
    """Each module lists its public names in __all__, and each of them can be imported."""
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported, f"{name} declares no public names"
    missing = [item for item in exported if not hasattr(module, item)]
    assert missing == []
