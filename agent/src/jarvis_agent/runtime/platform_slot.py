"""The platform connection and the capture pipeline on it, opened on first use (on the worker).

After a lost connection the slot drops both, if it opened the platform itself, and the next use
opens them again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from jarvis_agent.capture.pipeline import CapturePipeline, PipelineOptions
from jarvis_agent.config import AgentConfig
from jarvis_platform import Platform, get_platform

__all__ = ["PlatformSlot"]


class PlatformSlot:
    """Holds the platform (given, or opened here) and the pipeline `make_pipeline` builds on it."""

    def __init__(
        self,
        platform: Platform | None,
        make_pipeline: Callable[[Platform], CapturePipeline],
    ) -> None:
        self._own = platform is None
        self._platform = platform
        self._make_pipeline = make_pipeline
        self._pipeline: CapturePipeline | None = None

    def platform(self) -> Platform:
        if self._platform is None:
            self._platform = get_platform()
        return self._platform

    def pipeline(self) -> CapturePipeline:
        platform = self.platform()
        if self._pipeline is None:
            self._pipeline = self._make_pipeline(platform)
        return self._pipeline

    def configure(self, config: AgentConfig) -> None:
        """Give the open pipeline the new rules and options."""
        if self._pipeline is not None:
            options = PipelineOptions.from_config(config)
            self._pipeline.update(rules=config.privacy.effective_rules(), options=options)

    def reset(self) -> None:
        """The connection is lost: close what this slot opened, to be re-opened on next use."""
        if not self._own:
            return
        if self._pipeline is not None:
            with contextlib.suppress(Exception):
                self._pipeline.close()
        if self._platform is not None:
            with contextlib.suppress(Exception):
                self._platform.close()
        self._pipeline = self._platform = None

    def close(self, *, idle: bool) -> None:
        """Close for good; with `idle` False a capture still uses them, so they are left open."""
        if self._pipeline is not None and idle:
            with contextlib.suppress(Exception):
                self._pipeline.close()
        self._pipeline = None
        if self._own and self._platform is not None and idle:
            with contextlib.suppress(Exception):
                self._platform.close()
        self._platform = None
