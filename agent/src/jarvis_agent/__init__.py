"""Jarvis agent: capture engine, privacy policy, scheduling, agent service and CLI."""

from importlib.metadata import version as _version

__version__ = _version("jarvis-agent")

__all__ = ["__version__"]
