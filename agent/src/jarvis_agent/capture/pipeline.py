"""One capture: windows -> policy -> grab -> redact -> change check -> re-check -> encode.

The order is the privacy argument. The policy decides on the window list read *before* the grab;
the grabbed pixels of every excluded window are blacked out in memory; then the window list is read
again, and if any excluded pixel is now outside what was blacked out (a window appeared, moved, was
raised or retitled in between), the whole frame is wiped and dropped. Only then is anything encoded
and handed to the sink (the outbox), so no pixel of an excluded window is ever encoded or stored.

The global gates (paused, locked, idle, active hours) are the caller's: see gates.evaluate_gates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from jarvis_agent.capture.audit import AuditLog
from jarvis_agent.capture.change import ChangeDetector, ChangeVerdict, Sample, sample_pixels
from jarvis_agent.capture.encode import encode_frame, make_thumbnail
from jarvis_agent.capture.formats import ImageFormat
from jarvis_agent.capture.ids import new_capture_id
from jarvis_agent.capture.policy import FrameDecision, decide, exposure_grew
from jarvis_agent.capture.redact import redact
from jarvis_agent.capture.rules import ExclusionRule
from jarvis_agent.config import (
    AgentConfig,
    CaptureSettings,
    IgnoreRegion,
    PrivacySettings,
    validated,
)
from jarvis_contract import CaptureMetadata
from jarvis_platform.types import (
    DamageSource,
    Frame,
    FrameProvider,
    FrameSource,
    Monitor,
    Platform,
    Rect,
    WindowInfo,
)

__all__ = [
    "STAGES",
    "WINDOW_CHANGE_TRIGGER",
    "CapturePipeline",
    "CaptureSink",
    "PipelineOptions",
    "TickResult",
]

CaptureSink = Callable[[CaptureMetadata, bytes, bytes | None], None]
QUIET_REASON: Final = "unchanged: nothing was drawn on this monitor since the last check"
# The trigger of a capture asked for because the focus moved or the focused window's title changed:
# such a capture is stored whenever the windows differ from the last stored one, pixels or not.
WINDOW_CHANGE_TRIGGER: Final = "window-change"
STAGES: Final = ("windows", "policy", "grab", "redact", "change", "recheck", "encode", "enqueue")


def _agent_version() -> str:
    from jarvis_agent import __version__

    return __version__


_CAPTURE: Final = CaptureSettings.model_fields
_PRIVACY: Final = PrivacySettings.model_fields


@dataclass(frozen=True)
class PipelineOptions:
    """How frames are captured and encoded: the capture options of the config.

    The agent builds them with `from_config`. Defaults and bounds are the config's own
    (`CaptureSettings`); options made directly (tests, benchmarks) are checked against the same
    declaration. `monitors`: 0-based indices to capture (None = all). `change_threshold`: share of
    sampled pixels that must differ from the last captured frame (0.001 = 0.1 %).
    `max_gap_seconds`: capture an unchanged screen anyway after this long. `ignore_regions`: areas
    whose changes alone never count (see change.py). `image_format` "png" is lossless (tests use
    it).
    """

    image_format: ImageFormat = _CAPTURE["image_format"].default
    quality: int = _CAPTURE["quality"].default
    max_dimension: int | None = _CAPTURE["max_dimension"].default
    monitors: frozenset[int] | None = None
    omit_titles: bool = _PRIVACY["omit_titles"].default
    omit_app_names: bool = _PRIVACY["omit_app_names"].default
    change_threshold: float = _CAPTURE["change_threshold"].default
    max_gap_seconds: float = _CAPTURE["max_gap_seconds"].default
    ignore_regions: tuple[IgnoreRegion, ...] = ()
    agent_version: str = field(default_factory=_agent_version)
    thumbnails: bool = True

    def __post_init__(self) -> None:
        validated(
            CaptureSettings,
            {
                "image_format": self.image_format,
                "quality": self.quality,
                "max_dimension": self.max_dimension,
                "monitors": None if self.monitors is None else sorted(self.monitors),
                "change_threshold": self.change_threshold,
                "max_gap_seconds": self.max_gap_seconds,
                "ignore_regions": [region.model_dump() for region in self.ignore_regions],
            },
            "pipeline options",
            section="capture",
        )
        if not self.agent_version:
            raise ValueError("agent_version must not be empty")

    @classmethod
    def from_config(cls, config: AgentConfig) -> PipelineOptions:
        """The capture pipeline's options from the config."""
        capture, privacy = config.capture, config.privacy
        return cls(
            image_format=capture.image_format,
            quality=capture.quality,
            max_dimension=capture.max_dimension,
            monitors=frozenset(capture.monitors) if capture.monitors is not None else None,
            omit_titles=privacy.omit_titles,
            omit_app_names=privacy.omit_app_names,
            change_threshold=capture.change_threshold,
            max_gap_seconds=capture.max_gap_seconds,
            ignore_regions=tuple(capture.ignore_regions),
        )


@dataclass(frozen=True)
class TickResult:
    """What one capture attempt did.

    `captured`: metadata of each frame handed to the sink. `skipped`: (monitor or None for the whole
    frame, reason). `dropped`: the exposure changed between policy and grab, nothing was kept.
    `timings`: wall-clock seconds per stage (see STAGES); `cpu_timings`: this thread's CPU
    seconds per stage, so compute can be told apart from waits (fsync, the X server).
    """

    captured: tuple[CaptureMetadata, ...] = ()
    skipped: tuple[tuple[int | None, str], ...] = ()
    redacted_regions: int = 0
    dropped: bool = False
    reasons: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)


def _frame_source(platform: Platform) -> FrameSource:
    """The platform's own frames where it has them (Wayland), else mss (X11, macOS, Windows)."""
    if isinstance(platform, FrameProvider):
        return platform.frame_source()
    from jarvis_platform.grab import Grabber

    return Grabber()


def _ignored_on(options: PipelineOptions, monitor: int) -> tuple[Rect, ...]:
    return tuple(
        Rect(r.x, r.y, r.width, r.height) for r in options.ignore_regions if r.monitor == monitor
    )


def _lists_popups(platform: Platform) -> bool:
    return bool(getattr(platform, "lists_popups", True))


def _now_utc() -> datetime:
    return datetime.now(UTC)


class _Stopwatch:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.cpu_timings: dict[str, float] = {}
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()

    def lap(self, stage: str) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.timings[stage] = self.timings.get(stage, 0.0) + (now - self._last)
        self.cpu_timings[stage] = self.cpu_timings.get(stage, 0.0) + (cpu - self._last_cpu)
        self._last, self._last_cpu = now, cpu


_WindowsSeen = tuple[frozenset[int], int | None, str | None]


def _windows_seen(windows: Sequence[WindowInfo], monitor: Monitor) -> _WindowsSeen:
    """The shown windows on this monitor, and the focused window and its title."""
    shown = frozenset(
        w.id
        for w in windows
        if not w.popup and not w.hidden and w.rect.intersect(monitor.rect) is not None
    )
    active = next((w for w in windows if w.active and not w.popup), None)
    return shown, active.id if active else None, active.title if active else None


class CapturePipeline:
    """Captures privacy-filtered frames and hands them to `sink(metadata, image, thumbnail)`.

    `capture()` runs on the calling thread; calls are serialised. Frames come from `frames`, else
    the platform's own frame source, else mss (per thread, created lazily on first use).
    `platform` is used from whichever thread captures, one at a time.
    """

    def __init__(
        self,
        platform: Platform,
        sink: CaptureSink,
        *,
        rules: Sequence[ExclusionRule],
        options: PipelineOptions,
        audit: AuditLog | None = None,
        clock: Callable[[], datetime] = _now_utc,
        monitors_provider: Callable[[], list[Monitor]] | None = None,
        frames: FrameSource | None = None,
    ) -> None:
        self._platform = platform
        self._sink = sink
        self._rules: tuple[ExclusionRule, ...] = tuple(rules)
        self._options = options
        self._audit = audit
        self._clock = clock
        self._monitors_provider = monitors_provider
        self._frames = frames if frames is not None else _frame_source(platform)
        self._changes = ChangeDetector()
        self._settings_lock = threading.Lock()
        self._capture_lock = threading.Lock()
        # Per monitor: geometry and redaction at its last final check, and "drawn on since".
        self._settled: dict[int, tuple[Rect, tuple[Rect, ...]]] = {}
        self._drawn: set[int] = set()
        # Per monitor: the windows on it and the focused window's title at its last stored capture.
        self._stored_windows: dict[int, _WindowsSeen] = {}

    @property
    def rules(self) -> tuple[ExclusionRule, ...]:
        with self._settings_lock:
            return self._rules

    @property
    def options(self) -> PipelineOptions:
        with self._settings_lock:
            return self._options

    def update(
        self,
        *,
        rules: Sequence[ExclusionRule] | None = None,
        options: PipelineOptions | None = None,
    ) -> None:
        """Swap rules and/or options; the next capture uses them. Thread-safe."""
        with self._settings_lock:
            self._settled.clear()  # new rules or options: look at every monitor again
            if rules is not None:
                self._rules = tuple(rules)
            if options is not None:
                if options.monitors != self._options.monitors:
                    self._changes.reset()
                self._options = options
        if self._audit is not None and options is not None:
            self._audit.configure(
                include_titles=not options.omit_titles,
                include_app_names=not options.omit_app_names,
            )

    def monitors(self) -> list[Monitor]:
        """The monitors as the pipeline sees them (injected, or from the frame source)."""
        if self._monitors_provider is not None:
            return list(self._monitors_provider())
        return self._frames.monitors()

    def release_memory(self) -> None:
        """Free the frame buffers until the next capture (between the agent's ticks)."""
        with self._capture_lock:
            self._frames.release()

    def close(self) -> None:
        """Release this pipeline's screen connections (the platform is the caller's to close)."""
        with self._capture_lock:
            self._frames.close()

    # -- the capture ------------------------------------------------------------------------

    def capture(self, *, force: bool = False, reason: str = "schedule") -> TickResult:
        """Capture every enabled monitor once, or explain why not. `force` skips the change check.

        Exceptions from the platform, mss or the sink propagate (nothing was stored in that case).
        """
        with self._capture_lock:
            return self._capture(force=force, trigger=reason)

    def _capture(self, *, force: bool, trigger: str) -> TickResult:
        with self._settings_lock:
            rules, options = self._rules, self._options
        watch = _Stopwatch()
        now = self._clock()

        windows = self._platform.windows()
        monitors = self.monitors()
        selected = [m for m in monitors if options.monitors is None or m.index in options.monitors]
        watch.lap("windows")
        if not selected:
            why = "no enabled monitor is connected" + (
                f" (enabled: {sorted(options.monitors)}, connected: {[m.index for m in monitors]})"
                if options.monitors is not None
                else ""
            )
            return self._skip_all(why, now, trigger, watch)

        popups = _lists_popups(self._platform)
        decision = decide(windows, selected, rules, lists_popups=popups)
        watch.lap("policy")
        if decision.skip:
            return self._skip_all("; ".join(decision.reasons), now, trigger, watch, decision)

        skipped: list[tuple[int | None, str]] = []
        seen = {m.index: _windows_seen(windows, m) for m in selected}
        windows_changed = (
            {i for i, s in seen.items() if self._stored_windows.get(i) != s}
            if trigger == WINDOW_CHANGE_TRIGGER
            else set()
        )
        to_grab = (
            selected
            if force
            else self._needs_grab(selected, decision, now, options, windows_changed)
        )
        for monitor in selected:
            if monitor not in to_grab:
                skipped.append((monitor.index, QUIET_REASON))
            else:
                # Damage reported so far is in this grab; until its outcome is final, re-grab.
                self._settled.pop(monitor.index, None)
                self._drawn.discard(monitor.index)
        watch.lap("change")
        if not to_grab:
            for index, why_quiet in skipped:
                self._record("skipped", (why_quiet,), now, trigger, None, options, monitor=index)
            return TickResult(
                skipped=tuple(skipped),
                reasons=decision.reasons,
                timings=watch.timings,
                cpu_timings=watch.cpu_timings,
            )

        frames = [self._frames.grab(monitor) for monitor in to_grab]
        watch.lap("grab")
        regions = sum(redact(f.pixels, decision.regions_on(f.monitor.index)) for f in frames)
        watch.lap("redact")

        # The change check comes before the re-read: a frame skipped as unchanged is never encoded,
        # so it needs no second look at the windows, and an idle desktop costs one read per tick.
        wanted: list[tuple[Frame, str, Sample]] = []
        samples: list[Sample] = []
        for frame in frames:
            verdict, sample = self._changes.check(
                frame.monitor.index,
                frame.pixels,
                now,
                threshold=options.change_threshold,
                max_gap_seconds=options.max_gap_seconds,
                force=force,
                ignore=_ignored_on(options, frame.monitor.index),
            )
            samples.append(sample)
            if not verdict.capture and frame.monitor.index in windows_changed:
                verdict = ChangeVerdict(
                    True, verdict.changed, "the windows or the focused title changed"
                )
            if verdict.capture:
                wanted.append((frame, verdict.reason, sample))
            else:
                skipped.append((frame.monitor.index, verdict.reason))
                self._settle(frame.monitor, decision)
        watch.lap("change")

        if wanted:
            after = decide(self._platform.windows(), selected, rules, lists_popups=popups)
            unsafe = exposure_grew(decision, after)
            watch.lap("recheck")
            if unsafe is not None:
                for frame in frames:
                    frame.wipe()
                for sample in samples:
                    sample.fill(0)  # a sample is a (thumbnail-sized) copy of the frame's pixels
                self._record("dropped", (unsafe,), now, trigger, decision, options)
                return TickResult(
                    dropped=True,
                    reasons=(unsafe,),
                    timings=watch.timings,
                    cpu_timings=watch.cpu_timings,
                )

        captured: list[CaptureMetadata] = []
        owner = self._title_monitor(decision, selected)
        for frame, why_changed, sample in wanted:
            index = frame.monitor.index
            metadata, image, thumbnail = self._encode(
                frame, sample, decision, options, now, index == owner
            )
            watch.lap("encode")
            self._sink(metadata, image, thumbnail)
            self._changes.accept(index, sample, now)
            self._stored_windows[index] = seen[index]
            self._settle(frame.monitor, decision)
            watch.lap("enqueue")
            captured.append(metadata)
            self._record(
                "captured",
                (why_changed, *decision.reasons),
                now,
                trigger,
                decision,
                options,
                capture_id=str(metadata.id),
                monitor=index,
                redacted_regions=metadata.redacted_regions,
                byte_size=metadata.byte_size,
            )
        for skipped_monitor, why_skipped in skipped:
            self._record(
                "skipped", (why_skipped,), now, trigger, None, options, monitor=skipped_monitor
            )
        return TickResult(
            captured=tuple(captured),
            skipped=tuple(skipped),
            redacted_regions=regions,
            reasons=decision.reasons,
            timings=watch.timings,
            cpu_timings=watch.cpu_timings,
        )

    def _needs_grab(
        self,
        selected: Sequence[Monitor],
        decision: FrameDecision,
        now: datetime,
        options: PipelineOptions,
        windows_changed: set[int],
    ) -> list[Monitor]:
        """The monitors whose pixels may differ from their last final check (all when unsure).

        A monitor is left alone only when the platform reports that nothing was drawn on it since
        its last grab whose outcome was final (captured, or skipped as unchanged), with the same
        monitor geometry and the same redaction, the maximum gap has not run out, and (for a
        window-change capture) its windows are those of its last stored capture.
        """
        if not isinstance(self._platform, DamageSource):
            return list(selected)
        drawn = self._platform.damaged()
        if drawn is None:
            self._settled.clear()
            return list(selected)
        for monitor in selected:
            if any(rect.intersect(monitor.rect) is not None for rect in drawn):
                self._drawn.add(monitor.index)
        return [
            monitor
            for monitor in selected
            if monitor.index in self._drawn
            or monitor.index in windows_changed
            or self._settled.get(monitor.index)
            != (monitor.rect, decision.regions_on(monitor.index))
            or self._changes.due(monitor.index, now, options.max_gap_seconds)
        ]

    def _settle(self, monitor: Monitor, decision: FrameDecision) -> None:
        self._settled[monitor.index] = (monitor.rect, decision.regions_on(monitor.index))

    def _encode(
        self,
        frame: Frame,
        sample: Sample,
        decision: FrameDecision,
        options: PipelineOptions,
        now: datetime,
        owns_title: bool,
    ) -> tuple[CaptureMetadata, bytes, bytes | None]:
        encoded = encode_frame(
            frame.pixels,
            options.image_format,
            quality=options.quality,
            max_dimension=options.max_dimension,
        )
        # The change check's sample is the redacted frame already cut down to ~640 px: the
        # thumbnail starts from it instead of reading the whole frame a second time.
        thumbnail = make_thumbnail(sample_pixels(sample)) if options.thumbnails else None
        app_name = decision.app_name if owns_title and not options.omit_app_names else None
        title = decision.window_title if owns_title and not options.omit_titles else None
        metadata = CaptureMetadata(
            id=new_capture_id(),
            captured_at=now if now.tzinfo is not None else now.astimezone(),
            monitor=frame.monitor.index,
            width=encoded.width,
            height=encoded.height,
            mime_type=encoded.mime_type,
            byte_size=encoded.byte_size,
            sha256=encoded.sha256,
            app_name=app_name[:512] if app_name else None,
            window_title=title[:2048] if title else None,
            redacted_regions=len(decision.regions_on(frame.monitor.index)),
            agent_version=options.agent_version,
        )
        return metadata, encoded.data, thumbnail

    @staticmethod
    def _title_monitor(decision: FrameDecision, monitors: Sequence[Monitor]) -> int | None:
        """The monitor showing most of the focused window: only its capture names that window."""
        if decision.active_rect is None:
            return None
        best, best_area = None, 0
        for monitor in monitors:
            cut: Rect | None = decision.active_rect.intersect(monitor.rect)
            if cut is not None and cut.area > best_area:
                best, best_area = monitor.index, cut.area
        return best

    def _skip_all(
        self,
        why: str,
        now: datetime,
        trigger: str,
        watch: _Stopwatch,
        decision: FrameDecision | None = None,
    ) -> TickResult:
        options = self.options
        self._record("skipped", (why,), now, trigger, None, options)
        reasons = decision.reasons if decision is not None else (why,)
        return TickResult(
            skipped=((None, why),),
            reasons=reasons,
            timings=watch.timings,
            cpu_timings=watch.cpu_timings,
        )

    def _record(
        self,
        event: str,
        reasons: Sequence[str],
        now: datetime,
        trigger: str,
        decision: FrameDecision | None,
        options: PipelineOptions,
        **fields: object,
    ) -> None:
        if self._audit is None:
            return
        rules = sorted({item.rule.name for item in decision.excluded}) if decision else []
        self._audit.record(
            event,
            reasons,
            at=now,
            trigger=trigger,
            rules=rules or None,
            app_name=decision.app_name if decision and not options.omit_app_names else None,
            window_title=decision.window_title if decision and not options.omit_titles else None,
            **fields,
        )
