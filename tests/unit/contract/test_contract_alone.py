"""The wire contract stands alone: the server and anything that only speaks the protocol import
it without the agent's client side (outbox, keyring, cryptography, httpx)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import jarvis_contract

CLIENT_SIDE = ("jarvis_sync", "httpx", "keyring", "cryptography")


def _loaded_after(statement: str) -> set[str]:
    """Top-level packages and full module names loaded by `statement` in a fresh interpreter."""
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names = set(out.stdout.split())
    return names | {name.split(".")[0] for name in names}


def test_importing_the_contract_loads_no_client_side() -> None:
    """`import jarvis_contract` loads pydantic, not the outbox, keyring, cryptography or httpx."""
    assert _loaded_after("import jarvis_contract").isdisjoint(CLIENT_SIDE)


def test_the_server_app_loads_no_client_side() -> None:
    """Building the server's app imports the contract only, none of the agent's client side."""
    loaded = _loaded_after("import jarvis_server.app, jarvis_server.cli")
    assert "jarvis_contract" in loaded
    assert loaded.isdisjoint(CLIENT_SIDE)


def test_one_sync_name_loads_only_its_module() -> None:
    """jarvis_sync loads its names on first use: credentials do not pull in the outbox or httpx."""
    loaded = _loaded_after("from jarvis_sync import credentials")
    assert loaded.isdisjoint({"httpx", "jarvis_sync.outbox", "jarvis_sync.worker"})


def test_public_names_are_exported_and_documented() -> None:
    """Every name in `__all__` exists; classes carry a docstring; nothing else is public."""
    for name in jarvis_contract.__all__:
        value = getattr(jarvis_contract, name)
        if isinstance(value, type):
            assert value.__doc__, name
    public = {n for n in dir(jarvis_contract) if not n.startswith("_")}
    assert public == set(jarvis_contract.__all__) - {"__version__"}


def test_digested_bytes_carry_their_own_hash() -> None:
    """DigestedBytes equals its bytes and knows their SHA-256 without hashing again."""
    data = jarvis_contract.DigestedBytes(b"frame")
    assert data == b"frame"
    assert data.sha256 == hashlib.sha256(b"frame").hexdigest()
