"""Markers of the packaging tests (registered here, as --strict-markers requires)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bundle: builds the PyInstaller bundles (minutes) and runs them"
    )
