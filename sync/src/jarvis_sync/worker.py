"""The sync worker: background threads that drain the outbox to the server, never giving up.

`concurrency` sender threads each claim one capture at a time, so after an outage the queue drains
at full speed with at most that many uploads in flight. Transport failures, 408, 429 and 5xx
close a shared gate for a backoff period (one backoff step per round of failures, not per
capture) so an outage costs one attempt per period, not one per queued capture. A server the
uploader will not trust (`jarvis_sync.trust`) closes the gate the same way: nothing is sent, the
capture stays queued, and the state is "untrusted" until it proves itself or the address changes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import httpx

from jarvis_sync.errors import CredentialsError, OutboxError
from jarvis_sync.logsummary import FailureLog
from jarvis_sync.outbox import Outbox
from jarvis_sync.outbox_models import OutboxEntry
from jarvis_sync.replies import UploadOutcome
from jarvis_sync.retry import RetryPolicy
from jarvis_sync.uploader import Uploader

log = logging.getLogger("jarvis.sync")

SyncState = Literal["idle", "syncing", "offline", "auth_required", "not_configured", "untrusted"]
_IDLE_CHECK: Final = 30.0  # seconds between age-cap checks while nothing happens
_STATUS_INTERVAL: Final = 0.25  # at most this often while draining, so the UI is not flooded


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the tray and `jarvis status` show about syncing."""

    state: SyncState
    queued: int
    queued_bytes: int
    dead: int
    evicted: int
    last_success_at: datetime | None
    last_error: str | None
    next_attempt_at: datetime | None
    quarantined: int = 0
    sent: int = 0


class SyncWorker:
    """Drains an outbox to the server in background threads; see the module docstring."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        server_url: str | None,
        token_provider: Callable[[], str | None],
        concurrency: int = 4,
        on_status: Callable[[SyncStatus], None] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        uploader_factory: Callable[[str, int], Uploader] | None = None,
        allow_insecure_http: bool = False,
        identity_key: bytes | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"sync concurrency must be at least 1, got {concurrency}")
        self._outbox = outbox
        self._token_provider = token_provider
        self._concurrency = concurrency
        self._on_status = on_status
        self._retry = retry or RetryPolicy()
        self._limits = httpx.Timeout(timeout, connect=connect_timeout)
        self._allow_insecure_http = allow_insecure_http
        self._make_uploader = uploader_factory or (
            lambda url, n: Uploader(
                url,
                max_connections=n,
                timeout=self._limits,
                allow_insecure_http=self._allow_insecure_http,
                identity_key=identity_key,
            )
        )
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._wakes = 0
        self._server_url = server_url
        self._uploader: Uploader | None = None
        self._retired: list[Uploader] = []
        self._token: str | None = None
        self._token_error: str | None = None
        self._auth_failed_for: str | None = None  # the token the server refused
        self._untrusted = False  # the last attempt found a server we may not send to
        self._gate_until = 0.0  # monotonic time before which nothing is sent
        self._gate_epoch = 0
        self._failures = 0  # rounds of retryable failures in a row
        self._in_flight = 0
        self._last_success: datetime | None = None
        self._last_error: str | None = None
        self._next_attempt: datetime | None = None
        self._failure_log = FailureLog(log)
        self._status: SyncStatus | None = None
        self._status_at = 0.0

    # ----------------------------------------------------------------- control

    def start(self) -> None:
        """Start the sender threads."""
        with self._cond:
            if self._threads:
                return
            self._stopping = False
            self._refresh_token()
            if self._server_url:
                self._uploader = self._make_uploader(self._server_url, self._concurrency)
            self._threads = [
                threading.Thread(target=self._run, name=f"jarvis-sync-{i}", daemon=True)
                for i in range(self._concurrency)
            ]
        for thread in self._threads:
            thread.start()
        self._publish(force=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sending; waits up to `timeout` s for uploads in progress (the rest resume later)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            uploaders = [u for u in (self._uploader, *self._retired) if u is not None]
            self._uploader, self._retired = None, []
        for uploader in uploaders:
            uploader.close()

    def notify(self) -> None:
        """A capture arrived: wake a sender now (a refused or missing token is re-read)."""
        with self._cond:
            if self._token is None or self._auth_failed_for is not None:
                self._refresh_token()
                if self._token != self._auth_failed_for:
                    self._auth_failed_for = None  # a new token: try it
            self._wakes += 1
            self._cond.notify_all()

    def sync_now(self) -> None:
        """Try now: skip the current backoff wait and re-read the token."""
        self._outbox.reschedule_all()
        with self._cond:
            self._refresh_token()
            self._auth_failed_for = None
            self._gate_until = 0.0
            self._gate_epoch += 1
            self._next_attempt = None
            self._wakes += 1
            self._cond.notify_all()
        self._publish(force=True)

    def configure(
        self,
        *,
        server_url: str | None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        """The server address, the time limits or the plain-http opt-in changed (or the address
        was cleared); the token is re-read too. A limit left None stays as it is."""
        with self._cond:
            limits = httpx.Timeout(
                self._limits.read if timeout is None else timeout,
                connect=self._limits.connect if connect_timeout is None else connect_timeout,
            )
            if (
                server_url != self._server_url
                or limits != self._limits
                or allow_insecure_http != self._allow_insecure_http
            ):
                self._limits = limits
                self._allow_insecure_http = allow_insecure_http
                if self._uploader is not None:
                    self._retired.append(self._uploader)  # closed at stop; may be mid-request
                self._server_url = server_url
                self._uploader = (
                    self._make_uploader(server_url, self._concurrency)
                    if server_url and self._threads
                    else None
                )
            self._refresh_token()
            self._auth_failed_for = None
            self._untrusted = False
            self._gate_until = 0.0
            self._gate_epoch += 1
            self._failures = 0
            self._wakes += 1
            self._cond.notify_all()
        self._publish(force=True)

    def status(self) -> SyncStatus:
        """The current status (also pushed to `on_status` when it changes)."""
        with self._cond:
            state = self._state_locked()
            last_success, last_error, next_at = (
                self._last_success,
                self._last_error,
                self._next_attempt,
            )
        try:
            stats = self._outbox.stats()
        except OutboxError as exc:
            return SyncStatus(state, 0, 0, 0, 0, last_success, str(exc), next_at)
        return SyncStatus(
            state=state,
            queued=stats.queued,
            queued_bytes=stats.queued_bytes,
            dead=stats.dead,
            evicted=stats.evicted_total,
            last_success_at=last_success,
            last_error=last_error,
            next_attempt_at=next_at if state == "offline" else None,
            quarantined=stats.quarantined_total,
            sent=stats.sent_total,
        )

    # ----------------------------------------------------------------- internals

    def _refresh_token(self) -> None:
        try:
            self._token = self._token_provider()
            self._token_error = None
        except CredentialsError as exc:
            self._token = None
            self._token_error = str(exc)

    def _state_locked(self) -> SyncState:
        if not self._server_url or self._token is None:
            return "not_configured"
        if self._auth_failed_for is not None:
            return "auth_required"
        if self._gate_until > time.monotonic():
            return "untrusted" if self._untrusted else "offline"
        return "syncing" if self._in_flight else "idle"

    def _blocked_for_locked(self) -> float | None:
        """0 when a sender may go; seconds to wait (None: until woken) otherwise."""
        if not self._server_url or self._token is None or self._uploader is None:
            return None
        if self._auth_failed_for is not None:
            return None
        remaining = self._gate_until - time.monotonic()
        return remaining if remaining > 0 else 0.0

    def _run(self) -> None:
        while not self._stopping:
            try:
                self._loop()
            except Exception as exc:
                # The disk is full, the database failed, or a bug: keep the thread, say so in the
                # status (never stop syncing silently), retry in a while.
                if isinstance(exc, OutboxError):
                    message = f"sync paused by an outbox error: {exc}"
                else:
                    log.debug("sync loop failed", exc_info=True)
                    message = f"sync paused by an unexpected error ({type(exc).__name__}: {exc})"
                with self._cond:
                    self._last_error = message
                self._note_failure(message)
                with self._cond:
                    if not self._stopping:
                        self._cond.wait(1.0)

    def _loop(self) -> None:
        last_check = time.monotonic()
        while True:
            with self._cond:
                if self._stopping:
                    return
                wait = self._blocked_for_locked()
                if wait != 0.0:
                    self._cond.wait(_IDLE_CHECK if wait is None else min(wait, _IDLE_CHECK))
                    if self._token is None and self._token_error is not None:
                        # The keyring could not be read (still locked after login, or busy):
                        # try again now and then, not only when a capture arrives.
                        self._refresh_token()
                    continue
                wakes, epoch = self._wakes, self._gate_epoch
                uploader, token = self._uploader, self._token
            entries = self._outbox.claim(1)
            if not entries:
                self._idle(wakes)
                if time.monotonic() - last_check > _IDLE_CHECK:
                    last_check = time.monotonic()
                    self._outbox.enforce_limits()
                continue
            assert uploader is not None
            assert token is not None
            self._send(entries[0], uploader, token, epoch)

    def _idle(self, wakes: int) -> None:
        due = self._outbox.next_due()
        with self._cond:
            if self._stopping or self._wakes != wakes:
                return
            timeout = _IDLE_CHECK
            if due is not None:
                timeout = min(timeout, max(0.0, due - time.time()))
            busy = self._in_flight > 0
        if not busy:
            self._publish(force=True)
        with self._cond:
            if self._wakes == wakes and not self._stopping:
                self._cond.wait(max(timeout, 0.01))

    def _send(self, entry: OutboxEntry, uploader: Uploader, token: str, epoch: int) -> None:
        with self._cond:
            self._in_flight += 1
        try:
            try:
                data = self._outbox.read(entry.id)
            except OutboxError as exc:
                self._outbox.quarantine(entry.id, str(exc))
                return
            outcome = uploader.upload(token, entry.metadata, data)
            self._settle(entry, outcome, token, epoch)
        except OutboxError:
            # Put it back if the database lets us; otherwise start-up recovery will.
            with contextlib.suppress(OutboxError):
                self._outbox.release(entry.id)
            raise
        except Exception as exc:
            # Never lose the capture to a bug here: put it back, keep the thread alive, show the
            # error in the status and back off (an immediate retry would fail the same way).
            log.debug("Unexpected error while sending capture %s", entry.id, exc_info=True)
            self._outbox.release(entry.id)
            self._back_off(
                f"sync hit an unexpected error ({type(exc).__name__}: {exc}); "
                "the capture stays queued and is tried again"
            )
        finally:
            with self._cond:
                self._in_flight -= 1
            self._publish()

    def _settle(self, entry: OutboxEntry, outcome: UploadOutcome, token: str, epoch: int) -> None:
        if outcome.kind == "done":
            self._outbox.ack(entry.id)
            with self._cond:
                self._last_success = datetime.now(UTC)
                # An upload sent before the gate closed again (a concurrent one got a 429 or a
                # 503 meanwhile) says nothing about the server now: while that wait lasts, the
                # error and the next attempt stay on show and the backoff keeps its step.
                stale = epoch != self._gate_epoch and self._gate_until > time.monotonic()
                was_failing = self._failures > 0 and not stale
                if not stale:
                    self._untrusted = False
                    self._failures = 0
                    self._last_error = None
                    self._next_attempt = None
            if was_failing:
                self._failure_log.recovered("Sync recovered: the server is taking captures again")
        elif outcome.kind == "dead":
            self._outbox.bury(entry.id, outcome.detail)
            with self._cond:
                self._last_error = f"capture refused by the server: {outcome.detail}"
                message = self._last_error
            self._failure_log.failure(message)
        elif outcome.kind == "auth":
            self._outbox.release(entry.id)
            with self._cond:
                self._auth_failed_for = token
                self._last_error = (
                    f"the server refused the device token ({outcome.detail}); "
                    "log in again with `jarvis login --server URL`"
                )
                message = self._last_error
            self._failure_log.failure(message)
            self._publish(force=True)
        elif outcome.kind == "untrusted":
            # Not the capture's fault and not the server's answer: nothing was sent. Keep it
            # without counting an attempt, and look again after a backoff step.
            self._outbox.release(entry.id)
            self._close_gate(outcome, epoch)
            with self._cond:
                self._untrusted = True
                self._last_error = f"not sending to {self._server_url}: {outcome.detail}"
                message = self._last_error
            self._note_failure(message)
        else:
            gate = self._close_gate(outcome, epoch)
            # This capture's own backoff grows with its own attempts, so a capture that keeps
            # failing waits longer and longer while the others flow once the gate reopens.
            own = self._retry.delay(entry.attempts + 1, retry_after=outcome.retry_after)
            self._outbox.retry_later(entry.id, outcome.detail, max(gate, own))
            self._note_failure(f"upload failed, will retry: {outcome.detail}")

    def _close_gate(self, outcome: UploadOutcome, epoch: int) -> float:
        with self._cond:
            if epoch == self._gate_epoch:
                # The first failure of a round: one backoff step for everyone.
                self._shut_gate_locked(outcome.retry_after)
            delay = max(0.0, self._gate_until - time.monotonic())
            self._last_error = outcome.detail
            return delay

    def _shut_gate_locked(self, retry_after: float | None) -> None:
        # The policy keeps a server's Retry-After within its maximum; everything is computed
        # before anything is set, so no half-closed gate is left behind.
        delay = self._retry.delay(self._failures + 1, retry_after=retry_after)
        now, next_attempt = time.monotonic(), datetime.now(UTC) + timedelta(seconds=delay)
        self._failures += 1
        self._gate_epoch += 1
        self._gate_until = now + delay
        self._next_attempt = next_attempt

    def _back_off(self, message: str) -> None:
        """An unexpected failure: one backoff step for everyone, and the reason in the status."""
        with self._cond:
            self._shut_gate_locked(None)
            self._last_error = message
        self._note_failure(message)

    def _note_failure(self, message: str) -> None:
        self._failure_log.failure(message)
        self._publish(force=True)

    def _publish(self, *, force: bool = False) -> None:
        if self._on_status is None:
            return
        now = time.monotonic()
        if not force and now - self._status_at < _STATUS_INTERVAL:
            return
        self._status_at = now
        status = self.status()
        if status == self._status:
            return
        self._status = status
        try:
            self._on_status(status)
        except Exception:
            log.exception("A sync status listener failed")
