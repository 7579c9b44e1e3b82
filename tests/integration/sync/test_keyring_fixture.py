"""The test keyring is the real Secret Service."""

from __future__ import annotations

import subprocess
import sys

import keyring
import pytest

from tests.support.keyring import SecretService

pytestmark = pytest.mark.keyring

_READ_BACK = "import keyring; print(keyring.get_password('jarvis-fixture-check', 'probe'))"


def test_secret_round_trip_through_real_secret_service(secret_service: SecretService) -> None:
    """A secret stored through `keyring` is read back, also by a child process on the same bus."""
    keyring.set_password("jarvis-fixture-check", "probe", "s3cret-value")
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import keyring; print(keyring.get_password('jarvis-fixture-check', 'probe'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == "s3cret-value"
    keyring.delete_password("jarvis-fixture-check", "probe")
    assert keyring.get_password("jarvis-fixture-check", "probe") is None
