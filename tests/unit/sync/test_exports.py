"""The public API of jarvis_sync is exactly what `__all__` names."""

from __future__ import annotations

import jarvis_sync


def test_public_names_are_exported_and_documented() -> None:
    """Every name in `__all__` exists and has a docstring (or is a plain constant)."""
    for name in jarvis_sync.__all__:
        value = getattr(jarvis_sync, name)
        if isinstance(value, type) or type(value).__name__ == "function":
            assert value.__doc__, name
    expected = {"Outbox", "SyncWorker", "SyncStatus", "load_token", "store_token", "outbox_key"}
    assert expected <= set(jarvis_sync.__all__)
    public = {n for n in dir(jarvis_sync) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(jarvis_sync, n)).__name__ == "module"}
    assert public - modules == set(jarvis_sync.__all__) - {"__version__"}
