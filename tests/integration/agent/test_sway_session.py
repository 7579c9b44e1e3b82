"""A real headless agent inside a real headless sway: idle time from the compositor's idle
notifications (org_kde_kwin_idle) and the pause hotkey as a sway binding.
"""

from __future__ import annotations

import pytest

from tests.integration.agent.conftest import HeadlessAgent, jarvis, wait_for
from tests.support.wayland import Sway

pytestmark = pytest.mark.wayland


@pytest.fixture
def sway_agent(
    headless_agent: HeadlessAgent, sway: Sway, monkeypatch: pytest.MonkeyPatch
) -> HeadlessAgent:
    """The headless agent, started from sway's environment (so it uses the sway backend)."""
    for name, value in sway.env.items():
        monkeypatch.setenv(name, value)
    return headless_agent


def test_no_input_on_sway_skips_capture_as_idle_and_pointer_motion_resumes(
    sway_agent: HeadlessAgent, sway: Sway
) -> None:
    """Past the idle threshold with no input on sway's seat, capture-now is refused as idle and
    the agent reports idle; moving sway's pointer brings capture back."""
    agent = sway_agent
    agent.configure(**{"privacy.idle_threshold_seconds": "2"})
    agent.start()
    # The compositor counts from when the agent registered its idle timeout: wait past 2 s.
    done = wait_for(
        lambda: (d := jarvis("capture-now", check=True)).stdout.startswith("Not captured") and d,
        "capture-now refused as idle",
    )
    assert done.stdout.startswith("Not captured: no input for 0:00:0")
    assert "(idle threshold 0:00:02)" in done.stdout
    assert agent.status()["state"] == "idle"

    sway.msg("seat seat0 cursor move 5 5")  # real pointer motion on sway's seat
    done = jarvis("capture-now", check=True)
    assert done.stdout.startswith("Captured 1 frame"), done.stdout
    assert agent.status()["state"] == "capturing"
