"""The agent service: scheduler, gates, capture pipeline, outbox, sync worker and control socket.

The tray app runs it in-process and `jarvis run --headless` runs it without Qt. All captures and
the platform connection live on the scheduler's single worker thread; the control socket and the
sync worker have their own threads and only touch the status board, the outbox and the pause
(under a lock). The window-change trigger listens to the platform's active-window events where it
has them (X11: a watch thread with its own X connection, which only notes the change and asks the
scheduler for a "window-change" job) and otherwise polls on the worker once a second. A lost
connection of that watch fails like any platform error (state "error"), and the watch is re-opened
with a growing delay until the window system is back.

A pause survives restarts (it is written to `pause.json` in the data directory): an agent that
restarts at login while the user had paused it for an hour stays paused.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from jarvis_agent.capture.audit import AuditLog
from jarvis_agent.capture.gates import evaluate_gates
from jarvis_agent.capture.pipeline import CapturePipeline, PipelineOptions, TickResult
from jarvis_agent.config import AgentConfig, ConfigError, ConfigPatch, ConfigStore
from jarvis_agent.control import (
    ControlError,
    ControlReply,
    ControlRequest,
    ControlServer,
    socket_path,
)
from jarvis_agent.durations import format_duration
from jarvis_agent.errors import AgentError
from jarvis_agent.logs import configure_logging
from jarvis_agent.paths import AgentPaths
from jarvis_agent.runtime.instance_lock import AgentLock
from jarvis_agent.runtime.scheduler import CaptureScheduler, WindowChangeGate, WindowWatcher
from jarvis_agent.runtime.state import (
    AgentState,
    AgentStatus,
    StatusBoard,
    SyncSummary,
    status_to_json,
)
from jarvis_contract import CaptureMetadata
from jarvis_platform import (
    ActiveWindow,
    ActiveWindowEvents,
    Platform,
    PlatformError,
    UnsupportedSessionError,
    WindowWatch,
    check_session,
    get_platform,
)
from jarvis_sync.errors import SyncError

__all__ = ["STOP_TIMEOUT", "AgentService", "ServiceError", "TickOutcome", "limit_malloc_arenas"]

log = logging.getLogger("jarvis.service")

Clock = Callable[[], datetime]
_FOREVER: Literal["indefinitely"] = "indefinitely"
CAPTURE_NOW = "capture-now"
WINDOW_CHANGE = "window-change"
_WINDOW_CHANGE_JOB = "window-change"
_REWATCH_JOB = "window-rewatch"
# A window-change capture waits this long after the change: the window manager's focus hand-over
# (two _NET_ACTIVE_WINDOW changes) and the new window's repaint are over by then.
_WINDOW_SETTLE = 0.25
_REWATCH_FIRST, _REWATCH_MAX = 1.0, 60.0  # seconds between attempts to re-open a lost watch
# How long stop() may take: within the promise that SIGTERM or Quit ends the agent in 5 s, with
# room for the interpreter's own exit.
STOP_TIMEOUT = 3.0


class ServiceError(AgentError, RuntimeError):
    """The agent could not start or do what was asked; the message says what to do."""


@dataclass(frozen=True, slots=True)
class TickOutcome:
    """What one tick did, in words for `jarvis capture-now` and the tray."""

    captured: int
    message: str
    state: AgentState


_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _libc()


def limit_malloc_arenas(arenas: int = 1) -> None:
    """Keep glibc from giving each capture/sync thread its own malloc arena.

    A 1080p frame is ~8 MB; with one arena per thread, freed frames stay resident in every arena
    that ever held one, which measured ~20 MB extra RSS for an agent that should stay under 100 MB.
    Call before the agent's threads start. No effect off glibc.
    """
    if _LIBC is not None:
        _LIBC.mallopt(_M_ARENA_MAX, arenas)


def _release_free_memory() -> None:
    # Frames are large and short-lived: hand their pages back to the OS after each capture.
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


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
    ) -> None:
        self._store = config_store
        self._paths = paths
        self._own_platform = platform is None
        self._platform = platform
        self._clock = clock
        self._use_control = control
        self._use_sync = sync
        self._configure_logs = configure_logs
        self._board = StatusBoard()
        self._lock = threading.Lock()
        self._config: AgentConfig | None = None
        self._paused_until: datetime | Literal["indefinitely"] | None = None
        self._agent_lock = AgentLock(paths.lock_file)
        self._scheduler: CaptureScheduler | None = None
        self._pipeline: CapturePipeline | None = None
        self._gate: WindowChangeGate | None = None
        self._watcher: WindowWatcher | None = None  # the poll, where there are no window events
        self._window_watch: WindowWatch | None = None
        self._watch_generation = 0
        self._rewatch_delay = 0.0
        self._audit: AuditLog | None = None
        self._outbox: Any = None
        self._sync: Any = None
        self._sync_status: Any = None
        self._control: ControlServer | None = None
        self._started = False

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def config(self) -> AgentConfig:
        if self._config is None:
            raise ServiceError("the agent service has not been started")
        return self._config

    @property
    def pause_file(self) -> Path:
        return self._paths.data_dir / "pause.json"

    def start(self) -> None:
        """Take the per-user lock, open the outbox, start syncing, scheduling and the socket.

        Raises AlreadyRunningError, ConfigError or ServiceError with a message for the user.
        """
        config = self._store.load()
        if self._platform is None:
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
        self._config = config
        if self._configure_logs:
            configure_logging(self._paths.agent_log, config.logging)
        self._audit = AuditLog(
            self._paths.audit_log,
            include_titles=not config.privacy.omit_titles,
            include_app_names=not config.privacy.omit_app_names,
        )
        self._outbox = self._open_outbox(config)
        self._paused_until = self._read_pause()
        self._board.update(
            state=AgentState.CAPTURING,
            reasons=("starting",),
            pid=os.getpid(),
            started_at=self._clock(),
            interval_seconds=config.capture.interval_seconds,
            paused_until=self._paused_until if isinstance(self._paused_until, datetime) else None,
        )
        if self._use_sync:
            self._start_sync(config)
        self._scheduler = CaptureScheduler(
            self._tick_safely,
            interval_seconds=config.capture.interval_seconds,
            jitter_seconds=config.capture.jitter_seconds,
            misfire_grace_seconds=config.capture.misfire_grace_seconds,
        )
        self._scheduler.start()
        if isinstance(self._paused_until, datetime):
            self._scheduler.wake_at(self._paused_until, self._pause_ended)
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
        self._scheduler.trigger("start")
        self._scheduler.run_soon(self._sync_window_trigger)
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
        watch, self._window_watch = self._window_watch, None
        if watch is not None:
            watch.stop()
        self._gate = self._watcher = None
        if not idle:
            log.warning("stopping without waiting for the capture in progress; it is not kept")
        if self._pipeline is not None and idle:
            with contextlib.suppress(Exception):
                self._pipeline.close()
        self._pipeline = None
        if self._own_platform and self._platform is not None and idle:
            with contextlib.suppress(Exception):
                self._platform.close()
        self._platform = None
        if self._sync is not None:
            with contextlib.suppress(Exception):
                self._sync.stop(timeout=left())
            self._sync = None
        if self._outbox is not None and idle:
            with contextlib.suppress(Exception):
                self._outbox.close()
        self._outbox = None
        if self._audit is not None:
            self._audit.close()
            self._audit = None
        self._agent_lock.release()
        self._board.update(state=AgentState.STOPPED, reasons=("stopped",), next_capture_at=None)

    # -- outbox and sync ----------------------------------------------------------------------

    def _open_outbox(self, config: AgentConfig) -> Any:
        from jarvis_sync.credentials import outbox_key
        from jarvis_sync.errors import CredentialsError
        from jarvis_sync.outbox import Outbox

        try:
            key = outbox_key()
        except CredentialsError as exc:
            raise ServiceError(f"cannot get the outbox key from the keyring: {exc}") from exc
        max_age = timedelta(days=config.outbox.max_age_days) if config.outbox.max_age_days else None
        return Outbox.open(
            self._paths.outbox_dir,
            key=key,
            max_bytes=config.outbox.max_bytes,
            max_age=max_age,
            when_full=config.outbox.when_full,
        )

    def _start_sync(self, config: AgentConfig) -> None:
        from jarvis_sync.credentials import load_token
        from jarvis_sync.worker import SyncWorker

        self._sync = SyncWorker(
            self._outbox,
            server_url=config.server.url,
            token_provider=load_token,
            on_status=self._on_sync_status,
            timeout=config.server.timeout_seconds,
            connect_timeout=config.server.connect_timeout_seconds,
            allow_insecure_http=config.server.allow_insecure_http,
            identity_key=self._identity_key(),
        )
        self._sync.start()

    def _identity_key(self) -> bytes | None:
        """The key a server `jarvis up` started proves itself with, where there is one."""
        from jarvis_sync.errors import CredentialsError
        from jarvis_sync.trust import load_identity_key

        path = self._paths.server_identity_key
        if not path.exists():
            return None
        try:
            return load_identity_key(path)
        except CredentialsError as exc:
            log.warning("The local server identity key is not used: %s", exc)
            return None

    def _on_sync_status(self, status: Any) -> None:
        self._sync_status = status
        self._board.update(sync=self._sync_summary())

    def _sync_summary(self) -> SyncSummary:
        fields: dict[str, Any] = {}
        status = self._sync_status
        if status is not None:
            for name in ("state", "last_success_at", "last_error"):
                value = getattr(status, name, None)
                if value is not None:
                    fields[name] = str(value) if name == "state" else value
        if self._outbox is not None:
            with contextlib.suppress(Exception):
                stats = self._outbox.stats()
                fields.update(
                    queued=stats.queued,
                    queued_bytes=stats.queued_bytes,
                    dead=stats.dead,
                    evicted=stats.evicted_total,
                )
        config = self._config
        fields["server_url"] = config.server.url if config is not None else None
        if config is not None and config.server.url is None and "state" not in fields:
            fields["state"] = "not_configured"
        return SyncSummary(**fields)

    def _sink(self, metadata: CaptureMetadata, data: bytes, thumbnail: bytes | None) -> None:
        self._outbox.put(metadata, data, thumbnail=thumbnail)
        if self._sync is not None:
            self._sync.notify()

    # -- ticks (scheduler worker thread) --------------------------------------------------------

    def _ensure_platform(self) -> Platform:
        if self._platform is None:
            self._platform = get_platform()
        return self._platform

    def _ensure_pipeline(self) -> CapturePipeline:
        platform = self._ensure_platform()
        if self._pipeline is None:
            config = self.config
            self._pipeline = CapturePipeline(
                platform,
                self._sink,
                rules=config.privacy.rules,
                options=PipelineOptions.from_config(config),
                audit=self._audit,
            )
        return self._pipeline

    def _current_pause(self, now: datetime) -> datetime | Literal["indefinitely"] | None:
        with self._lock:
            until = self._paused_until
            if isinstance(until, datetime) and now >= until:
                self._paused_until = until = None
                self._write_pause(None)
        return until

    def _tick_safely(self, reason: str) -> None:
        self._tick(reason)

    def _tick(self, reason: str) -> TickOutcome:
        now = self._clock()
        config = self.config
        try:
            outcome = self._tick_inner(reason, now, config)
        except PlatformError as exc:
            outcome = self._fail(f"the window system: {exc}", reset_platform=True)
        except SyncError as exc:  # the outbox refused the frame (full, disk error): no traceback
            outcome = self._fail(f"the outbox: {exc}", reset_platform=False)
        except Exception as exc:
            log.exception("capture (%s) failed", reason)
            outcome = self._fail(f"{type(exc).__name__}: {exc}", reset_platform=False)
        self._publish_next_tick()
        return outcome

    def _fail(self, message: str, *, reset_platform: bool) -> TickOutcome:
        log.error("capture failed: %s", message)
        if reset_platform and self._own_platform:
            # A lost X connection is re-opened on the next tick.
            if self._pipeline is not None:
                with contextlib.suppress(Exception):
                    self._pipeline.close()
            if self._platform is not None:
                with contextlib.suppress(Exception):
                    self._platform.close()
            self._pipeline = self._platform = None
        self._board.update(state=AgentState.ERROR, reasons=(message,))
        return TickOutcome(0, f"capture failed: {message}", AgentState.ERROR)

    def _tick_inner(self, reason: str, now: datetime, config: AgentConfig) -> TickOutcome:
        paused = self._current_pause(now)
        pipeline: CapturePipeline | None = None
        if paused is not None:
            gate = evaluate_gates(
                now,
                paused_until=paused,
                locked=False,
                idle_seconds=None,
                idle_threshold=0,
                active_hours=None,
            )
        else:
            pipeline = self._ensure_pipeline()
            platform = self._platform
            assert platform is not None
            gate = evaluate_gates(
                now,
                paused_until=None,
                locked=platform.is_locked(),
                idle_seconds=platform.idle_seconds(),
                idle_threshold=config.privacy.idle_threshold_seconds,
                active_hours=config.privacy.active_hours,
            )
        if not gate.allowed:
            assert gate.state is not None
            state = AgentState(gate.state.value)
            self._publish_tick(
                state=state,
                reasons=(gate.reason,),
                paused_until=paused if isinstance(paused, datetime) else None,
                from_pause=paused is not None,
            )
            self._board.count(skipped=1)
            if self._audit is not None:
                # A stable reason lets the audit log fold a long idle spell into one line.
                why = "idle past the threshold" if state is AgentState.IDLE else gate.reason
                self._audit.record("skipped", (why,), at=now, trigger=reason)
            return TickOutcome(0, f"not captured: {gate.reason}", state)

        assert pipeline is not None
        started = time.monotonic()  # the gate's clock
        try:
            result = pipeline.capture(force=reason == CAPTURE_NOW, reason=reason)
        finally:
            pipeline.release_memory()
            _release_free_memory()
        window_gate = self._gate
        if window_gate is not None:
            window_gate.note_capture(started)
        return self._record_result(result, now)

    def _record_result(self, result: TickResult, now: datetime) -> TickOutcome:
        captured = len(result.captured)
        unchanged = sum(1 for monitor, _ in result.skipped if monitor is not None)
        self._board.count(
            captured=captured,
            redacted=result.redacted_regions if captured else 0,
            dropped=1 if result.dropped else 0,
            skipped=1 if not captured and not result.dropped else 0,
            unchanged=unchanged if not captured else 0,
        )
        if captured:
            message = f"captured {captured} frame{'s' if captured != 1 else ''}"
            if result.redacted_regions:
                message += f", {result.redacted_regions} excluded region(s) blacked out"
        elif result.dropped:
            message = "frame dropped: " + "; ".join(result.reasons)
        else:
            message = "not captured: " + "; ".join(why for _, why in result.skipped)
        changes: dict[str, Any] = {
            "state": AgentState.CAPTURING,
            "reasons": (message,),
            "paused_until": None,
            "sync": self._sync_summary(),
        }
        if captured:
            changes["last_capture_at"] = now
        self._publish_tick(**changes)
        return TickOutcome(captured, message, AgentState.CAPTURING)

    def _publish_tick(self, *, from_pause: bool = False, **changes: Any) -> None:
        """Publish what a tick found, unless the user paused while it ran (and it did not see
        the pause): then the pause's state and reason stand, only the other figures change."""
        if not from_pause and self._current_pause(self._clock()) is not None:
            for key in ("state", "reasons", "paused_until"):
                changes.pop(key, None)
        if changes:
            self._board.update(**changes)

    # -- the window-change trigger (worker thread, except where noted) ---------------------------

    def _sync_window_trigger(self) -> None:
        """Start or stop following the active window to match the config (and re-open it)."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        capture = self.config.capture
        if not (self._started and capture.window_change_trigger):
            self._stop_window_trigger()
            return
        if self._gate is None:
            self._gate = WindowChangeGate(
                min_gap=capture.window_change_min_gap_seconds, settle=_WINDOW_SETTLE
            )
        watch = self._window_watch
        if (watch is not None and watch.alive) or scheduler.polling:
            return
        self._watch_generation += 1
        generation = self._watch_generation
        try:
            platform = self._ensure_platform()
            watch = (
                platform.watch_active_window(
                    self._window_seen,
                    on_error=lambda error: self._window_watch_lost(generation, error),
                )
                if isinstance(platform, ActiveWindowEvents)
                else None
            )
        except PlatformError as exc:
            self._fail(f"the window system: {exc}", reset_platform=True)
            self._retry_window_watch()
            return
        if watch is None:
            self._gate.settle = 0.0  # a poll a second apart is settle enough
            scheduler.poll(self._poll_window, seconds=1.0)
            self._poll_window()  # learn the window now: a change within the first second counts
            log.info("window-change trigger on: polling the active window once a second")
        else:
            self._window_watch = watch
            log.info("window-change trigger on: following active-window events")

    def _stop_window_trigger(self) -> None:
        watch, self._window_watch = self._window_watch, None
        if watch is not None:
            watch.stop()
            log.info("window-change trigger off")
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.stop_poll()
            scheduler.cancel(_WINDOW_CHANGE_JOB)
            scheduler.cancel(_REWATCH_JOB)
        # Turned on again later, the trigger learns the window anew instead of firing for it.
        self._gate = self._watcher = None
        self._rewatch_delay = 0.0

    def _window_seen(self, window: ActiveWindow) -> None:
        """The active window is now `window` (called on the watch thread: only schedules)."""
        gate, scheduler = self._gate, self._scheduler
        if gate is None or scheduler is None:
            return
        wait = gate.observe(window)
        if wait is not None:
            scheduler.run_later(_WINDOW_CHANGE_JOB, wait, self._window_change_due)

    def _window_change_due(self) -> None:
        gate, scheduler = self._gate, self._scheduler
        if gate is None or scheduler is None or not self.config.capture.window_change_trigger:
            return
        wait = gate.take()
        if wait is None:
            return  # a capture in between already showed the change
        if wait > 0:
            scheduler.run_later(_WINDOW_CHANGE_JOB, wait, self._window_change_due)
            return
        # Paused (or locked, idle...): the tick records a skip and captures nothing.
        self._tick(WINDOW_CHANGE)

    def _poll_window(self) -> None:
        """Once a second on platforms without active-window events."""
        gate = self._gate
        if gate is None:
            return
        try:
            if self._watcher is None:
                platform = self._ensure_platform()

                def probe() -> ActiveWindow:
                    window = platform.active_window()
                    return (
                        ActiveWindow(None, None)
                        if window is None
                        else ActiveWindow(window.id, window.title)
                    )

                self._watcher = WindowWatcher(probe, gate=gate)
            changed = self._watcher.changed()
        except PlatformError as exc:
            self._watcher = None
            self._fail(f"the window system: {exc}", reset_platform=True)
            return
        if changed:
            self._tick(WINDOW_CHANGE)

    def _window_watch_lost(self, generation: int, error: PlatformError) -> None:
        """The watch's connection is gone (called on the watch thread, as it ends)."""
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.run_soon(self._window_watch_failed, generation, error)

    def _window_watch_failed(self, generation: int, error: PlatformError) -> None:
        if generation != self._watch_generation:
            return  # an older watch, already replaced
        watch, self._window_watch = self._window_watch, None
        if watch is not None:
            watch.stop()
        self._fail(f"the window system: {error}", reset_platform=True)
        self._retry_window_watch()

    def _retry_window_watch(self) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        delay = self._rewatch_delay
        self._rewatch_delay = min(_REWATCH_MAX, delay * 2) if delay else _REWATCH_FIRST
        scheduler.run_later(_REWATCH_JOB, self._rewatch_delay, self._rewatch)

    def _rewatch(self) -> None:
        self._sync_window_trigger()
        scheduler = self._scheduler
        back = self._window_watch is not None or (scheduler is not None and scheduler.polling)
        if back and self._rewatch_delay:
            self._rewatch_delay = 0.0
            log.info("the window system is back: following the active window again")
            self._tick("reconnected")  # leaves the error state now rather than at the next tick

    def _publish_next_tick(self) -> None:
        scheduler = self._scheduler
        self._board.update(next_capture_at=scheduler.next_tick_at() if scheduler else None)

    # -- commands (any thread) ----------------------------------------------------------------

    def status(self) -> AgentStatus:
        """The current status, with fresh outbox figures."""
        if self._outbox is not None:
            return self._board.update(sync=self._sync_summary())
        return self._board.snapshot()

    def subscribe(self, callback: Callable[[AgentStatus], None]) -> Callable[[], None]:
        """Call `callback(status)` on every change (from worker threads); returns unsubscribe."""
        return self._board.subscribe(callback)

    def pause(self, until: datetime | None = None) -> AgentStatus:
        """Stop capturing until `until` (aware datetime), or until `resume()` when None."""
        now = self._clock()
        if until is not None:
            if until.tzinfo is None:
                until = until.astimezone()
            if until <= now:
                raise ServiceError(f"the pause would end in the past ({until:%Y-%m-%d %H:%M})")
        with self._lock:
            self._paused_until = until if until is not None else _FOREVER
            self._write_pause(until)
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
        log.info("%s", reason)
        return self._board.update(state=AgentState.PAUSED, reasons=(reason,), paused_until=until)

    def resume(self) -> AgentStatus:
        """End a pause; the next capture happens right away (if nothing else stops it)."""
        with self._lock:
            was = self._paused_until
            self._paused_until = None
            self._write_pause(None)
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.cancel_wake()
            if was is not None:
                scheduler.trigger("resume")
        if was is not None:
            log.info("resumed")
        return self._board.update(
            state=AgentState.CAPTURING, reasons=("resumed",), paused_until=None
        )

    def _pause_ended(self) -> None:
        self._tick("pause ended")

    def capture_now(self, *, wait: float | None = None) -> TickOutcome | None:
        """Capture as soon as the worker is free, whether or not the screen changed.

        The gates still apply: nothing is captured while paused, locked, idle or outside hours.
        With `wait`, block up to that many seconds and return what happened.
        """
        scheduler = self._require_scheduler()
        future: concurrent.futures.Future[TickOutcome] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(self._tick(CAPTURE_NOW))
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
        if self._sync is None:
            raise ServiceError(
                "syncing is off: no server is configured; run `jarvis login --server URL`"
                if self.config.server.url is None
                else "syncing is not running; see the agent's log"
            )
        self._sync.sync_now()
        summary = self._sync_summary()
        return f"sync requested: {summary.queued} capture(s) queued"

    def recent_captures(self, limit: int = 50) -> list[Any]:
        """The latest captures from the outbox (queued, sent or dead), newest first."""
        if self._outbox is None:
            return []
        result: list[Any] = self._outbox.recent(limit)
        return result

    def apply_config(self, config: AgentConfig) -> None:
        """Save what `config` changes from the settings in use, and use the result at once.

        Only the changed keys are written, on top of the file as it is now, so what another
        writer saved since this agent read the file (a new exclusion rule) is kept and used.
        """
        self._apply(self._store.update(ConfigPatch.between(self.config, config)))

    def reload_config(self) -> AgentConfig:
        """Re-read the file; on an invalid file keep the last good config and raise ConfigError."""
        try:
            config = self._store.load()
        except ConfigError as exc:
            log.error("config not reloaded, still using the last good one: %s", exc)
            self._board.update(config_error=str(exc))
            raise
        self._apply(config)
        return config

    def _apply(self, config: AgentConfig) -> None:
        self._config = config
        if self._configure_logs:
            for name in ("jarvis", "jarvis_agent", "jarvis_sync"):
                logging.getLogger(name).setLevel(config.logging.level)
        if self._scheduler is not None:
            self._scheduler.reschedule(
                interval_seconds=config.capture.interval_seconds,
                jitter_seconds=config.capture.jitter_seconds,
                misfire_grace_seconds=config.capture.misfire_grace_seconds,
            )
        gate, scheduler = self._gate, self._scheduler
        if gate is not None and gate.min_gap != config.capture.window_change_min_gap_seconds:
            gate.min_gap = config.capture.window_change_min_gap_seconds
            if scheduler is not None:  # a change waiting out the old gap gets the new one
                scheduler.run_later(_WINDOW_CHANGE_JOB, 0, self._window_change_due)
        if scheduler is not None and self._started:
            scheduler.run_soon(self._sync_window_trigger)  # on or off, on the worker
        if self._pipeline is not None:
            options = PipelineOptions.from_config(config)
            self._pipeline.update(rules=config.privacy.rules, options=options)
        if self._audit is not None:
            self._audit.configure(
                include_titles=not config.privacy.omit_titles,
                include_app_names=not config.privacy.omit_app_names,
            )
        if self._outbox is not None:
            self._outbox.max_bytes = config.outbox.max_bytes
            self._outbox.when_full = config.outbox.when_full
            days = config.outbox.max_age_days
            self._outbox.max_age = timedelta(days=days) if days else None
        if self._sync is not None:
            self._sync.configure(
                server_url=config.server.url,
                timeout=config.server.timeout_seconds,
                connect_timeout=config.server.connect_timeout_seconds,
                allow_insecure_http=config.server.allow_insecure_http,
            )
        elif self._use_sync and self._started and config.server.url is not None:
            self._start_sync(config)
        self._board.update(
            config_error=None,
            interval_seconds=config.capture.interval_seconds,
            sync=self._sync_summary(),
        )
        self._publish_next_tick()
        log.info("settings applied")

    def _require_scheduler(self) -> CaptureScheduler:
        if self._scheduler is None:
            raise ServiceError("the agent service is not running")
        return self._scheduler

    # -- the pause on disk --------------------------------------------------------------------

    def _read_pause(self) -> datetime | Literal["indefinitely"] | None:
        try:
            data = json.loads(self.pause_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("ignoring an unreadable %s", self.pause_file)
            return None
        if data.get("indefinitely"):
            return _FOREVER
        try:
            until = datetime.fromisoformat(str(data.get("until")))
        except ValueError:
            return None
        return until if until > self._clock() else None

    def _write_pause(self, until: datetime | None) -> None:
        paused = self._paused_until
        try:
            if paused is None:
                self.pause_file.unlink(missing_ok=True)
                return
            body = {
                "indefinitely": paused == _FOREVER,
                "until": until.isoformat() if until else None,
            }
            tmp = self.pause_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(body), encoding="utf-8")
            os.replace(tmp, self.pause_file)
        except OSError as exc:
            log.warning("could not remember the pause across restarts: %s", exc)

    # -- the control socket -------------------------------------------------------------------

    def handle_request(self, request: ControlRequest) -> ControlReply:
        """Answer one control-socket request."""
        command = request.command
        message = ""
        try:
            if command == "pause":
                self.pause(request.until)
                message = self._board.snapshot().reasons[0]
            elif command == "resume":
                self.resume()
                message = "resumed"
            elif command == "capture-now":
                outcome = self.capture_now(wait=60)
                assert outcome is not None
                ok = outcome.state is not AgentState.ERROR
                return ControlReply(ok=ok, message=outcome.message, status=self._status_json())
            elif command == "sync-now":
                message = self.sync_now()
            elif command == "reload-config":
                self.reload_config()
                message = "settings reloaded"
        except (ServiceError, ConfigError) as exc:
            return ControlReply(ok=False, message=str(exc), status=self._status_json())
        return ControlReply(ok=True, message=message, status=self._status_json())

    def _status_json(self) -> dict[str, Any]:
        return status_to_json(self.status())
