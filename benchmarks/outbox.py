"""Outbox and upload throughput: enqueue latency of 200 KB encrypted captures, drain speed.

Enqueue: N real ~200 KB JPEG captures put into an outbox on this machine's disk (AES-256-GCM,
fsync of blob, directory and SQLite WAL for each) -> captures/s, p50 and p99 latency.
Drain: the same captures uploaded to a local Jarvis server (a real `jarvis-server serve` on
SQLite, rate limit raised) by the sync worker with its default concurrency of 4 -> captures/s.
Prints figures and their ratio to the targets: enqueue p99 <= 5 ms, drain >= 200 captures/s.

    uv run python benchmarks/outbox.py               # 2,000 captures
    uv run python benchmarks/outbox.py --count 500
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.server import make_server

from jarvis_contract import CaptureMetadata
from jarvis_sync import Outbox, SyncWorker
from jarvis_sync.cipher import new_key

ENQUEUE_P99_TARGET_MS = 5.0
DRAIN_TARGET_PER_S = 200.0
WIDTH, HEIGHT = 500, 420  # noise at JPEG quality 92 comes to about 200 KB


def make_capture() -> tuple[CaptureMetadata, bytes]:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (WIDTH, HEIGHT), os.urandom(WIDTH * HEIGHT * 3)).save(
        buffer, format="JPEG", quality=92
    )
    data = buffer.getvalue()
    metadata = CaptureMetadata(
        id=uuid.uuid4(),
        captured_at=datetime.now(UTC),
        monitor=0,
        width=WIDTH,
        height=HEIGHT,
        mime_type="image/jpeg",
        byte_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        app_name="benchmark",
        window_title="Outbox benchmark",
        agent_version="benchmark",
    )
    return metadata, data


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="captures (default 2000)")
    args = parser.parse_args()

    print(f"Preparing {args.count} distinct ~200 KB JPEG captures ...", flush=True)
    captures = [make_capture() for _ in range(args.count)]
    mean_kb = statistics.mean(len(d) for _, d in captures) / 1000

    with tempfile.TemporaryDirectory(prefix="jarvis-bench-", dir=Path.home()) as tmp:
        root = Path(tmp)
        outbox = Outbox.open(root / "outbox", key=new_key(), max_bytes=16 * 1024**3)
        latencies: list[float] = []
        started = time.perf_counter()
        for metadata, data in captures:
            t0 = time.perf_counter()
            outbox.put(metadata, data, thumbnail=data[:4000])
            latencies.append((time.perf_counter() - t0) * 1000)
        enqueue_s = time.perf_counter() - started

        server = make_server(
            root / "server",
            env={"JARVIS_RATE_LIMIT_PER_MINUTE": "10000000", "JARVIS_RATE_LIMIT_BURST": "1000000"},
        )
        server.start()
        try:
            token = server.create_token("benchmark")
            worker = SyncWorker(outbox, server_url=server.url, token_provider=lambda: token)
            started = time.perf_counter()
            worker.start()
            while outbox.stats().sent_total < args.count:
                if worker.status().dead:
                    raise SystemExit(f"server refused captures: {worker.status().last_error}")
                time.sleep(0.05)
            drain_s = time.perf_counter() - started
            worker.stop()
            stored = len(server.captures())
        finally:
            server.stop()
            outbox.close()

    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    drain_rate = args.count / drain_s
    print(f"captures: {args.count} x {mean_kb:.0f} KB JPEG, AES-256-GCM at rest, fsync per put")
    print(
        f"enqueue:  {args.count / enqueue_s:8.1f} captures/s   p50 {p50:6.2f} ms   "
        f"p99 {p99:6.2f} ms   max {max(latencies):6.2f} ms"
    )
    ratio = p99 / ENQUEUE_P99_TARGET_MS
    verdict = "met" if p99 <= ENQUEUE_P99_TARGET_MS else "MISSED"
    print(f"          p99 target {ENQUEUE_P99_TARGET_MS} ms -> ratio {ratio:.2f} ({verdict})")
    print(f"drain:    {drain_rate:8.1f} captures/s ({drain_s:.1f} s; server stored {stored})")
    ratio = drain_rate / DRAIN_TARGET_PER_S
    verdict = "met" if drain_rate >= DRAIN_TARGET_PER_S else "MISSED"
    print(f"          target {DRAIN_TARGET_PER_S:.0f}/s -> ratio {ratio:.2f} ({verdict})")


if __name__ == "__main__":
    main()
