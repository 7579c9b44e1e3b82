"""The runtime modules say what they offer: every public class and function is in `__all__`."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "jarvis_agent.config",
    "jarvis_agent.control",
    "jarvis_agent.doctor",
    "jarvis_agent.durations",
    "jarvis_agent.runtime.commands",
    "jarvis_agent.runtime.errors",
    "jarvis_agent.runtime.instance_lock",
    "jarvis_agent.runtime.live_config",
    "jarvis_agent.runtime.memory",
    "jarvis_agent.runtime.pause",
    "jarvis_agent.runtime.platform_slot",
    "jarvis_agent.logs",
    "jarvis_agent.runtime.scheduler",
    "jarvis_agent.runtime.service",
    "jarvis_agent.runtime.state",
    "jarvis_agent.runtime.sync_link",
    "jarvis_agent.runtime.tick",
    "jarvis_agent.runtime.window_trigger",
    "jarvis_agent.cli.runtime",
    "jarvis_agent.cli.settings",
]


@pytest.mark.parametrize("name", MODULES)
def test_public_names_are_exported(name: str) -> None:
    """Names in `__all__` exist, and public classes/functions defined here are all listed."""
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, item) for item in exported)
    defined = {
        item
        for item, value in vars(module).items()
        if not item.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == name
    }
    assert defined <= exported, f"{name} does not export {sorted(defined - exported)}"
