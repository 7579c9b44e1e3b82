"""Jarvis agent: capture engine, privacy policy, scheduling, agent service and CLI."""

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Read on first use, from the file the build writes (_version.py); importlib.metadata, the
    # fallback for a tree that was never built, costs more CPU than Python's start-up.
    if name == "__version__":
        try:
            from jarvis_agent._version import __version__

            return __version__
        except ImportError:
            from importlib.metadata import version

            return version("jarvis-agent")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
