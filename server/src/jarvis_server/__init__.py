"""Jarvis ingest server."""

from importlib.metadata import version as _version

__version__ = _version("jarvis-server")

__all__ = ["__version__"]
