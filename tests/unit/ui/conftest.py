"""Dialog and widget tests run on Qt's offscreen platform: real widgets, no display needed."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def qapp_args() -> list[str]:
    """pytest-qt builds its one QApplication with these arguments."""
    return ["jarvis-ui-tests", "-platform", "offscreen"]
