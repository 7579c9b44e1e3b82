"""A child process that enqueues captures and uploads them, and can SIGKILL itself at one step.

    python -m tests.integration.sync.crash_child OUTBOX_DIR SERVER_URL COUNT [STEP OCCURRENCE]

It prints "trying <id>" before each put and "accepted <id> <sha256>" once a put returned, so
the parent knows which captures the outbox accepted. Steps (where the kill lands):

    enqueue.temp   blob written to its temp file and fsynced, not yet renamed
    enqueue.blob   blob renamed into place, row not yet committed
    enqueue.row    row committed, put() not yet returned
    send.before    capture claimed, request not yet sent
    send.stored    server replied (stored), ack not yet recorded
    ack.row        ack committed, blob not yet deleted
    ack.done       ack complete

The key and the token come from the real keyring (the parent's Secret Service).
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jarvis_sync import Outbox, RetryPolicy, SyncWorker, load_token, outbox_key
from jarvis_sync.outbox import Outbox as _Outbox
from jarvis_sync.uploader import Uploader
from tests.unit.sync.factory import capture

STEPS = (
    "enqueue.temp",
    "enqueue.blob",
    "enqueue.row",
    "send.before",
    "send.stored",
    "ack.row",
    "ack.done",
)

HANG_SECONDS = 120

_lock = threading.Lock()
_seen: dict[str, int] = {}


def _die_at(step: str, target: str, occurrence: int) -> None:
    if step != target:
        return
    with _lock:
        _seen[step] = _seen.get(step, 0) + 1
        if _seen[step] == occurrence:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def _install(target: str, occurrence: int) -> None:
    def hit(step: str) -> None:
        _die_at(step, target, occurrence)

    real_replace = os.replace

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        if str(dst).endswith(".blob"):
            hit("enqueue.temp")
        real_replace(src, dst, **kwargs)

    os.replace = replace  # type: ignore[assignment]

    def around(cls: type, name: str, before: str | None, after: str | None) -> None:
        real: Callable[..., Any] = getattr(cls, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if before:
                hit(before)
            result = real(*args, **kwargs)
            if after:
                hit(after)
            return result

        setattr(cls, name, wrapper)

    around(_Outbox, "_insert", "enqueue.blob", "enqueue.row")
    around(Uploader, "upload", "send.before", "send.stored")
    around(_Outbox, "_unlink_blob", "ack.row", None)
    around(_Outbox, "ack", None, "ack.done")


def main() -> None:
    # A child that hangs prints every thread's stack and exits before the parent gives up, so
    # the failure shows where it stopped.
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    directory, url, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if len(sys.argv) > 4:
        _install(sys.argv[4], int(sys.argv[5]))
    outbox = Outbox.open(directory, key=outbox_key())
    worker = SyncWorker(
        outbox,
        server_url=url,
        token_provider=load_token,
        concurrency=2,
        retry=RetryPolicy(base=0.02, cap=0.2),
    )
    worker.start()
    for _ in range(count):
        metadata, data = capture()
        print(f"trying {metadata.id}", flush=True)
        outbox.put(metadata, data)
        print(f"accepted {metadata.id} {metadata.sha256}", flush=True)
        worker.notify()
    while outbox.stats().queued:
        time.sleep(0.02)
    worker.stop()
    outbox.close()
    print("drained", flush=True)


if __name__ == "__main__":
    main()
