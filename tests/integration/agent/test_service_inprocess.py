"""AgentService in-process, as the tray app runs it: events, live settings, recent captures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from jarvis_agent.capture.pipeline import CapturePipeline, TickResult
from jarvis_agent.config import ConfigError, ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.pause import PauseReading, PauseStore
from jarvis_agent.runtime.service import AgentService, ServiceError
from jarvis_agent.runtime.state import AgentState, AgentStatus
from tests.integration.agent.conftest import HeadlessAgent, wait_for

pytestmark = [pytest.mark.x11, pytest.mark.keyring, pytest.mark.slow]


@pytest.fixture
def service(headless_agent: HeadlessAgent) -> Iterator[AgentService]:
    """A started in-process service using the headless agent's settings, server and keyring."""
    running = AgentService(ConfigStore(), paths=agent_paths(), configure_logs=False)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_events_pause_resume_and_capture(
    service: AgentService, headless_agent: HeadlessAgent
) -> None:
    """Subscribers hear every state change (from worker threads); capture_now reports and the
    capture shows in recent_captures and on the server."""
    seen: list[AgentStatus] = []
    lock = threading.Lock()

    def listen(status: AgentStatus) -> None:
        with lock:
            seen.append(status)

    unsubscribe = service.subscribe(listen)
    wait_for(lambda: service.status().reasons != ("starting",), "the first tick")
    until = datetime.now().astimezone() + timedelta(minutes=30)
    service.pause(until)
    assert service.status().state is AgentState.PAUSED
    assert service.status().paused_until == until
    outcome = service.capture_now(wait=30)
    assert outcome is not None
    assert outcome.captured == 0
    assert outcome.message.startswith("not captured: paused until")
    service.resume()
    outcome = service.capture_now(wait=30)
    assert outcome is not None
    assert outcome.captured == 1
    unsubscribe()
    with lock:
        states = [s.state for s in seen]
    assert AgentState.PAUSED in states
    assert states[-1] is AgentState.CAPTURING

    recent = service.recent_captures(10)
    assert len(recent) >= 1
    newest = {str(item.metadata.id) for item in recent}
    service.sync_now()
    on_server = wait_for(
        lambda: (found := headless_agent.stored()) and len(found) >= len(recent) and found,
        "the captures on the server",
    )
    assert newest <= {str(record.id) for record in on_server}


def test_apply_config_takes_effect_without_restart(service: AgentService) -> None:
    """Settings from the tray's dialog are saved and used at once (interval, rules)."""
    config = service.config
    changed = config.model_copy(
        update={"capture": config.capture.model_copy(update={"interval_seconds": 42.0})}
    )
    service.apply_config(changed)
    assert service.status().interval_seconds == 42
    assert ConfigStore().load().capture.interval_seconds == 42
    next_at = service.status().next_capture_at
    assert next_at is not None
    assert (next_at - datetime.now().astimezone()).total_seconds() <= 42


def test_bad_file_on_reload_keeps_last_good_settings(service: AgentService) -> None:
    """A reload of an invalid file raises with the key named; the service keeps capturing."""
    store = ConfigStore()
    store.path.write_text(store.path.read_text() + "\n[outbox]\nwhen_full = 'panic'\n")
    with pytest.raises(ConfigError, match=r"outbox\.when_full"):
        service.reload_config()
    assert "outbox.when_full" in (service.status().config_error or "")
    assert service.config.outbox.when_full == "evict_oldest"
    outcome = service.capture_now(wait=30)
    assert outcome is not None
    assert outcome.state is AgentState.CAPTURING


def test_a_timed_pause_ends_by_itself(service: AgentService) -> None:
    """`pause 2s` (as for `jarvis pause 15m`) lifts itself: the agent is capturing again after."""
    wait_for(lambda: service.status().reasons != ("starting",), "the first tick")
    service.pause(datetime.now().astimezone() + timedelta(seconds=2))
    assert service.status().state is AgentState.PAUSED
    status = wait_for(
        lambda: (s := service.status()).state is not AgentState.PAUSED and s, "the pause to end"
    )
    assert status.state is AgentState.CAPTURING
    assert status.paused_until is None


def test_pause_in_the_past_is_refused(service: AgentService) -> None:
    """A pause ending before now is refused with the time named."""
    with pytest.raises(ServiceError, match="would end in the past"):
        service.pause(datetime.now().astimezone() - timedelta(minutes=1))


def test_a_pause_during_a_capture_is_not_undone_by_it(
    service: AgentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pausing while a frame is being taken (the tray's button mid-capture) leaves the agent
    paused: the capture in progress finishes, but does not report "capturing" over the pause."""
    wait_for(lambda: service.status().reasons != ("starting",), "the first tick")
    real_capture = CapturePipeline.capture

    def capture_while_the_user_pauses(self: CapturePipeline, **kwargs: Any) -> TickResult:
        service.pause()
        return real_capture(self, **kwargs)

    monkeypatch.setattr(CapturePipeline, "capture", capture_while_the_user_pauses)
    outcome = service.capture_now(wait=30)
    assert outcome is not None
    assert outcome.captured == 1
    status = service.status()
    assert status.state is AgentState.PAUSED
    assert status.reasons == ("paused until resumed",)
    service.resume()


class _CountingPauseStore(PauseStore):
    """The real store, counting its reads."""

    reads = 0

    def read(self, now: datetime) -> PauseReading:
        self.reads += 1
        return super().read(now)


def test_a_tick_reads_the_pause_once(headless_agent: HeadlessAgent) -> None:
    """Each tick reads the pause once and passes it down, whether it captures or finds the agent
    paused (the interval is an hour and the window-change trigger off: only these ticks run)."""
    paths = agent_paths()
    store = _CountingPauseStore(paths.data_dir / "pause.json")
    service = AgentService(ConfigStore(), paths=paths, configure_logs=False, pause_store=store)
    service.start()
    try:
        wait_for(lambda: service.status().reasons != ("starting",), "the first tick")
        before = store.reads
        outcome = service.capture_now(wait=30)
        assert outcome is not None
        assert outcome.captured == 1
        assert store.reads == before + 1
        service.pause()
        outcome = service.capture_now(wait=30)
        assert outcome is not None
        assert outcome.message.startswith("not captured: paused")
        assert store.reads == before + 2
        service.resume()
    finally:
        service.stop()
