"""Jarvis agent: capture engine, privacy policy, scheduling, agent service and CLI."""

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Read on first use: importlib.metadata alone costs more CPU than Python's start-up, and
    # every `jarvis` command imports this package.
    if name == "__version__":
        from importlib.metadata import version

        return version("jarvis-agent")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
