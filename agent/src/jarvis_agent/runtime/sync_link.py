"""The agent's side of syncing: the encrypted outbox captures go to, and the sync worker.

jarvis_sync is imported when the link opens, so a CLI command that never syncs does not load it.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from jarvis_agent.config import AgentConfig
from jarvis_agent.paths import AgentPaths
from jarvis_agent.runtime.errors import ServiceError
from jarvis_agent.runtime.state import StatusBoard, SyncSummary
from jarvis_contract import CaptureMetadata

if TYPE_CHECKING:
    from jarvis_sync import Outbox, RecentCapture, SyncStatus, SyncWorker

__all__ = ["SyncLink"]

log = logging.getLogger("jarvis.service")


def _max_age(config: AgentConfig) -> timedelta | None:
    days = config.outbox.max_age_days
    return timedelta(days=days) if days else None


class SyncLink:
    """Opens the outbox, runs the sync worker, and sums both up for the status board."""

    def __init__(self, paths: AgentPaths, board: StatusBoard) -> None:
        self._paths = paths
        self._board = board
        self._config: AgentConfig | None = None
        self._outbox: Outbox | None = None
        self._worker: SyncWorker | None = None
        self._status: SyncStatus | None = None

    @property
    def open(self) -> bool:
        return self._outbox is not None

    @property
    def syncing(self) -> bool:
        return self._worker is not None

    def open_outbox(self, config: AgentConfig) -> None:
        from jarvis_sync.credentials import outbox_key
        from jarvis_sync.errors import CredentialsError
        from jarvis_sync.outbox import Outbox

        self._config = config
        try:
            key = outbox_key()
        except CredentialsError as exc:
            raise ServiceError(f"cannot get the outbox key from the keyring: {exc}") from exc
        self._outbox = Outbox.open(
            self._paths.outbox_dir,
            key=key,
            max_bytes=config.outbox.max_bytes,
            max_age=_max_age(config),
            when_full=config.outbox.when_full,
        )

    def start_worker(self, config: AgentConfig) -> None:
        from jarvis_sync.credentials import load_token
        from jarvis_sync.worker import SyncWorker

        assert self._outbox is not None
        self._worker = SyncWorker(
            self._outbox,
            server_url=config.server.url,
            token_provider=load_token,
            on_status=self._on_status,
            timeout=config.server.timeout_seconds,
            connect_timeout=config.server.connect_timeout_seconds,
            allow_insecure_http=config.server.allow_insecure_http,
            identity_key=self._identity_key(),
        )
        self._worker.start()

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

    def configure(self, config: AgentConfig) -> None:
        """Use new outbox limits and server settings (the worker is started by the caller)."""
        self._config = config
        if self._outbox is not None:
            self._outbox.max_bytes = config.outbox.max_bytes
            self._outbox.when_full = config.outbox.when_full
            self._outbox.max_age = _max_age(config)
        if self._worker is not None:
            self._worker.configure(
                server_url=config.server.url,
                timeout=config.server.timeout_seconds,
                connect_timeout=config.server.connect_timeout_seconds,
                allow_insecure_http=config.server.allow_insecure_http,
            )

    def _on_status(self, status: SyncStatus) -> None:
        self._status = status
        self._board.update(sync=self.summary())

    def summary(self) -> SyncSummary:
        fields: dict[str, Any] = {}
        status = self._status
        if status is not None:
            fields["state"] = str(status.state)
            if status.last_success_at is not None:
                fields["last_success_at"] = status.last_success_at
            if status.last_error is not None:
                fields["last_error"] = status.last_error
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

    def sink(self, metadata: CaptureMetadata, data: bytes, thumbnail: bytes | None) -> None:
        """Where the pipeline puts a capture: the outbox, then a nudge to the worker."""
        assert self._outbox is not None
        self._outbox.put(metadata, data, thumbnail=thumbnail)
        if self._worker is not None:
            self._worker.notify()

    def sync_now(self) -> str:
        """Ask the worker to upload now; ServiceError when there is none."""
        if self._worker is None:
            config = self._config
            raise ServiceError(
                "syncing is off: no server is configured; run `jarvis login --server URL`"
                if config is not None and config.server.url is None
                else "syncing is not running; see the agent's log"
            )
        self._worker.sync_now()
        return f"sync requested: {self.summary().queued} capture(s) queued"

    def recent(self, limit: int) -> list[RecentCapture]:
        return [] if self._outbox is None else self._outbox.recent(limit)

    def image(self, capture_id: UUID) -> bytes:
        """The decrypted full-size image of a capture still in the outbox (in memory only)."""
        from jarvis_sync.errors import OutboxError

        if self._outbox is None:
            raise ServiceError("the outbox is not open; see the agent's log")
        try:
            return self._outbox.read(capture_id)
        except OutboxError as exc:
            raise ServiceError(str(exc)) from exc

    def close(self, *, timeout: float, idle: bool) -> None:
        """Stop the worker within `timeout` s; close the outbox unless a capture still uses it."""
        if self._worker is not None:
            with contextlib.suppress(Exception):
                self._worker.stop(timeout=timeout)
            self._worker = None
        if self._outbox is not None and idle:
            with contextlib.suppress(Exception):
                self._outbox.close()
        self._outbox = None
