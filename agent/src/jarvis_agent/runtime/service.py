"""The agent service: starts and stops the agent's parts and wires them together.

The tray app runs it in-process and `jarvis run --headless` runs it without Qt. All captures and
the platform connection live on the scheduler's single worker thread (tick.py, and the
window-change trigger in window_trigger.py); the control channel (commands.py) and the sync worker
(sync_link.py) have their own threads and only touch the status board, the outbox and the pause
(pause.py, under its lock). Settings changed while running are applied by live_config.py.

A pause survives restarts (it is written to `pause.json` in the data directory): an agent that
restarts at login while the user had paused it for an hour stays paused.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from jarvis_agent.capture.audit import AuditLog
from jarvis_agent.capture.pipeline import CapturePipeline, PipelineOptions
from jarvis_agent.config import AgentConfig, ConfigStore
from jarvis_agent.control import (
    ControlError,
    ControlReply,
    ControlRequest,
    ControlServer,
    socket_path,
)
from jarvis_agent.durations import format_duration
from jarvis_agent.logs import configure_logging
from jarvis_agent.paths import AgentPaths
from jarvis_agent.runtime.commands import answer
from jarvis_agent.runtime.errors import ServiceError
from jarvis_agent.runtime.instance_lock import AgentLock
from jarvis_agent.runtime.live_config import LiveConfig
from jarvis_agent.runtime.memory import limit_malloc_arenas
from jarvis_agent.runtime.pause import INDEFINITELY, PauseStore
from jarvis_agent.runtime.platform_slot import PlatformSlot
from jarvis_agent.runtime.scheduler import CaptureScheduler
from jarvis_agent.runtime.state import AgentState, AgentStatus, StatusBoard
from jarvis_agent.runtime.sync_link import SyncLink
from jarvis_agent.runtime.tick import CAPTURE_NOW, TickOutcome, TickRunner
from jarvis_agent.runtime.window_trigger import WindowTrigger
from jarvis_platform import Platform, UnsupportedSessionError, check_session

if TYPE_CHECKING:
    from jarvis_sync import RecentCapture

__all__ = ["STOP_TIMEOUT", "AgentService", "ServiceError", "TickOutcome", "limit_malloc_arenas"]

log = logging.getLogger("jarvis.service")

Clock = Callable[[], datetime]
# How long stop() may take: within the promise that SIGTERM or Quit ends the agent in 5 s, with
# room for the interpreter's own exit.
STOP_TIMEOUT = 3.0


def _local_now() -> datetime:
    return datetime.now().astimezone()


class AgentService:
    """Runs the agent until `stop()`; see the module docstring for the threads involved."""

    def __init__(
        self,
        config_store: ConfigStore,
        *,
        paths: AgentPaths,
        platform: Platform | None = None,
        clock: Clock = _local_now,
        control: bool = True,
        sync: bool = True,
        configure_logs: bool = True,
        pause_store: PauseStore | None = None,
    ) -> None:
        self._paths = paths
        self._clock = clock
        self._use_control = control
        self._use_sync = sync
        self._configure_logs = configure_logs
        self._board = StatusBoard()
        self._settings = LiveConfig(
            config_store, self._board, use=self._use_settings, set_log_levels=configure_logs
        )
        self._pause = pause_store or PauseStore(paths.data_dir / "pause.json")
        self._agent_lock = AgentLock(paths.lock_file)
        self._sync = SyncLink(paths, self._board)
        self._slot = PlatformSlot(platform, self._make_pipeline)
        self._audit: AuditLog | None = None
        self._runner: TickRunner | None = None
        self._scheduler: CaptureScheduler | None = None
        self._trigger: WindowTrigger | None = None
        self._control: ControlServer | None = None
        self._started = False
        self._check_session = platform is None

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def config(self) -> AgentConfig:
        return self._settings.current

    @property
    def pause_file(self) -> Path:
        return self._pause.path

    def start(self) -> None:
        """Take the per-user lock, open the outbox, start syncing, scheduling and the socket.

        Raises AlreadyRunningError, ConfigError or ServiceError with a message for the user.
        """
        config = self._settings.load()
        if self._check_session:
            try:
                check_session()  # refuse Wayland or a missing display before anything starts
            except UnsupportedSessionError as exc:
                raise ServiceError(str(exc)) from exc
        self._paths.ensure()
        self._agent_lock.acquire()
        try:
            self._start(config)
        except BaseException:
            self.stop()
            raise

    def _start(self, config: AgentConfig) -> None:
        self._settings.take(config)
        if self._configure_logs:
            configure_logging(self._paths.agent_log, config.logging)
        self._audit = AuditLog(
            self._paths.audit_log,
            include_titles=not config.privacy.omit_titles,
            include_app_names=not config.privacy.omit_app_names,
        )
        self._sync.open_outbox(config)
        paused = self._pause.load(self._clock())
        self._board.update(
            state=AgentState.CAPTURING,
            reasons=("starting",),
            pid=os.getpid(),
            started_at=self._clock(),
            interval_seconds=config.capture.interval_seconds,
            paused_until=paused if isinstance(paused, datetime) else None,
        )
        if self._use_sync:
            self._sync.start_worker(config)
        runner = TickRunner(
            clock=self._clock,
            config=lambda: self.config,
            pause=self._pause,
            board=self._board,
            slot=self._slot,
            audit=lambda: self._audit,
            sync_summary=self._sync.summary,
            captured_at=self._captured_at,
            after_tick=self._publish_next_tick,
        )
        self._runner = runner
        scheduler = CaptureScheduler(
            runner.tick,
            interval_seconds=config.capture.interval_seconds,
            jitter_seconds=config.capture.jitter_seconds,
            misfire_grace_seconds=config.capture.misfire_grace_seconds,
        )
        self._scheduler = scheduler
        self._trigger = trigger = WindowTrigger(
            scheduler,
            self._slot,
            settings=lambda: self.config.capture,
            running=lambda: self._started,
            tick=runner.tick,
            fail=lambda message: runner.fail(message, reset_platform=True),
        )
        scheduler.start()
        if isinstance(paused, datetime):
            scheduler.wake_at(paused, self._pause_ended)
        if self._use_control:
            control = ControlServer(socket_path(self._paths), self.handle_request)
            try:
                control.start()
            except (ControlError, OSError) as exc:
                # On Windows `path` is the channel's key file; the error names the pipe itself.
                where = "channel" if sys.platform == "win32" else f"socket {control.path}"
                raise ServiceError(f"cannot open the control {where}: {exc}") from exc
            self._control = control
        self._started = True
        # The first tick decides the real state (paused, idle, ...) right away.
        scheduler.trigger("start")
        scheduler.run_soon(trigger.sync)
        self._publish_next_tick()
        log.info(
            "agent started (pid %d), capturing every %.0f s",
            os.getpid(),
            config.capture.interval_seconds,
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop everything started, within about `timeout` s whatever it is doing; safe to call
        more than once.

        Every wait has a deadline. A capture still running at its deadline is left to its daemon
        thread (the platform and the outbox it uses stay open: closing them under it could crash
        the process), and uploads still in flight are abandoned: the outbox accepted every
        capture durably and sends the unacknowledged ones again at the next start (the server
        stores each id once).
        """
        deadline = time.monotonic() + timeout

        def left(share: float = 1.0) -> float:
            return max(0.05, (deadline - time.monotonic()) * share)

        self._started = False
        if self._control is not None:
            self._control.stop()
            self._control = None
        idle = True
        if self._scheduler is not None:
            idle = self._scheduler.shutdown(wait=True, timeout=left(0.5))
            self._scheduler = None
        # After the worker has stopped, so nothing starts a new watch behind this.
        trigger, self._trigger = self._trigger, None
        if trigger is not None:
            trigger.close()
        self._runner = None
        if not idle:
            log.warning("stopping without waiting for the capture in progress; it is not kept")
        self._slot.close(idle=idle)
        self._sync.close(timeout=left(), idle=idle)
        if self._audit is not None:
            self._audit.close()
            self._audit = None
        self._agent_lock.release()
        self._board.update(state=AgentState.STOPPED, reasons=("stopped",), next_capture_at=None)
        log.info("agent stopped")

    # -- wiring -------------------------------------------------------------------------------

    def _make_pipeline(self, platform: Platform) -> CapturePipeline:
        config = self.config
        return CapturePipeline(
            platform,
            self._sync.sink,
            rules=config.privacy.effective_rules(),
            options=PipelineOptions.from_config(config),
            audit=self._audit,
        )

    def _use_settings(self, config: AgentConfig) -> None:
        """Hand new settings to every running part."""
        scheduler, trigger = self._scheduler, self._trigger
        if scheduler is not None:
            scheduler.reschedule(
                interval_seconds=config.capture.interval_seconds,
                jitter_seconds=config.capture.jitter_seconds,
                misfire_grace_seconds=config.capture.misfire_grace_seconds,
            )
        if trigger is not None:
            trigger.set_min_gap(config.capture.window_change_min_gap_seconds)
            if scheduler is not None and self._started:
                scheduler.run_soon(trigger.sync)  # on or off, on the worker
        self._slot.configure(config)
        if self._audit is not None:
            self._audit.configure(
                include_titles=not config.privacy.omit_titles,
                include_app_names=not config.privacy.omit_app_names,
            )
        self._sync.configure(config)
        if (
            not self._sync.syncing
            and self._use_sync
            and self._started
            and config.server.url is not None
        ):
            self._sync.start_worker(config)
        self._board.update(
            config_error=None,
            interval_seconds=config.capture.interval_seconds,
            sync=self._sync.summary(),
        )
        self._publish_next_tick()

    def _captured_at(self, started: float) -> None:
        trigger = self._trigger
        if trigger is not None:
            trigger.note_capture(started)

    def _pause_ended(self) -> None:
        # The timer of a timed pause fired; a pause set since (or a resume) cancels the timer,
        # so the pause is over unless the clock is early: then nothing is written.
        if self._pause.read(self._clock()).until is None:
            log.info("pause ended (timer): capturing resumed")
        runner = self._runner
        if runner is not None:
            runner.tick("pause ended")

    def _publish_next_tick(self) -> None:
        scheduler = self._scheduler
        self._board.update(next_capture_at=scheduler.next_tick_at() if scheduler else None)

    def _require_scheduler(self) -> tuple[CaptureScheduler, TickRunner]:
        scheduler, runner = self._scheduler, self._runner
        if scheduler is None or runner is None:
            raise ServiceError("the agent service is not running")
        return scheduler, runner

    # -- commands (any thread) ----------------------------------------------------------------

    def status(self) -> AgentStatus:
        """The current status, with fresh outbox figures."""
        if self._sync.open:
            return self._board.update(sync=self._sync.summary())
        return self._board.snapshot()

    def subscribe(self, callback: Callable[[AgentStatus], None]) -> Callable[[], None]:
        """Call `callback(status)` on every change (from worker threads); returns unsubscribe."""
        return self._board.subscribe(callback)

    def pause(self, until: datetime | None = None, *, cause: str = "") -> AgentStatus:
        """Stop capturing until `until` (aware datetime), or until `resume()` when None.

        `cause` (e.g. "the hotkey") goes into the log line, which every pause writes.
        """
        now = self._clock()
        if until is not None:
            if until.tzinfo is None:
                until = until.astimezone()
            if until <= now:
                raise ServiceError(f"the pause would end in the past ({until:%Y-%m-%d %H:%M})")
        self._pause.set(until if until is not None else INDEFINITELY, now)
        scheduler = self._scheduler
        if scheduler is not None:
            if until is not None:
                scheduler.wake_at(until, self._pause_ended)
            else:
                scheduler.cancel_wake()
        reason = (
            f"paused until {until:%Y-%m-%d %H:%M} ({format_duration(until - now)})"
            if until is not None
            else "paused until resumed"
        )
        log.info("%s%s", reason, _by(cause))
        return self._board.update(state=AgentState.PAUSED, reasons=(reason,), paused_until=until)

    def resume(self, *, cause: str = "") -> AgentStatus:
        """End a pause; the next capture happens right away (if nothing else stops it)."""
        was = self._pause.set(None, self._clock())
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.cancel_wake()
            if was is not None:
                scheduler.trigger("resume")
        if was is not None:
            log.info("resumed%s", _by(cause))
        return self._board.update(
            state=AgentState.CAPTURING, reasons=("resumed",), paused_until=None
        )

    def capture_now(self, *, wait: float | None = None) -> TickOutcome | None:
        """Capture as soon as the worker is free, whether or not the screen changed.

        The gates still apply: nothing is captured while paused, locked, idle or outside hours.
        With `wait`, block up to that many seconds and return what happened.
        """
        scheduler, runner = self._require_scheduler()
        future: concurrent.futures.Future[TickOutcome] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(runner.tick(CAPTURE_NOW))
            except BaseException as exc:
                future.set_exception(exc)

        scheduler.run_soon(run)
        if wait is None:
            return None
        try:
            return future.result(timeout=wait)
        except concurrent.futures.TimeoutError as exc:
            raise ServiceError(
                f"the capture did not finish within {wait:.0f} s; see the agent's log"
            ) from exc

    def sync_now(self) -> str:
        """Ask the sync worker to upload now."""
        return self._sync.sync_now()

    def recent_captures(self, limit: int = 50) -> list[RecentCapture]:
        """The latest captures from the outbox (queued, sent or dead), newest first."""
        return self._sync.recent(limit)

    def capture_image(self, capture_id: UUID) -> bytes:
        """The full-size image of a capture still in the outbox, decrypted in memory only.

        ServiceError once it has left (sent captures keep only their thumbnail here).
        """
        return self._sync.image(capture_id)

    def apply_config(self, config: AgentConfig) -> None:
        """Save what `config` changes from the settings in use, and use the result at once.

        Only the changed keys are written, on top of the file as it is now, so what another
        writer saved since this agent read the file (a new exclusion rule) is kept and used.
        """
        self._settings.apply(config)

    def reload_config(self) -> AgentConfig:
        """Re-read the file; on an invalid file keep the last good config and raise ConfigError."""
        return self._settings.reload()

    def handle_request(self, request: ControlRequest) -> ControlReply:
        """Answer one control-channel request."""
        return answer(self, request)


def _by(cause: str) -> str:
    return f" (by {cause})" if cause else ""
