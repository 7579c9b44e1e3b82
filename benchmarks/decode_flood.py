"""What a flood of large images costs the real server, and what it costs the other devices.

Starts `jarvis-server serve` (SQLite) as a subprocess and runs, one after the other:

1. idle: device B uploads 1280x720 JPEGs one at a time, as the agent does; its latency.
2. flood: device A sends 50 PNGs of 4000x4000 (small files, 16 MP each) with 16 connections
   while B keeps uploading; B's latency, A's answers, the server's RSS peak.
3. big: six devices each send one 9400x9400 PNG (336 KB, just under Pillow's bomb limit) at
   once; their answers, the server's RSS before, at its peak and 3 s after.
4. in-budget: the same with six 7680x4320 WebPs (an 8K screen: 33.2 MP, the default pixel
   budget, so they are decoded); the same figures.

`--source DIR` runs the server from another checkout (e.g. the code before a change, made with
`git worktree add /tmp/old main` or `git archive main | tar -x -C /tmp/old`): its server/src and
sync/src go first on PYTHONPATH.

    uv run python benchmarks/decode_flood.py
    uv run python benchmarks/decode_flood.py --source /tmp/old
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image
from tests.support.server import LiveServer, make_server

BOUNDARY = "jarvisfloodboundary"
FLOOD_IMAGES = 50
FLOOD_CONNECTIONS = 16
BIG_PARALLEL = 6


def body_for(data: bytes, mime: str, size: tuple[int, int]) -> tuple[str, bytes]:
    capture_id = str(uuid.uuid4())
    meta = {
        "id": capture_id,
        "captured_at": datetime.now(UTC).isoformat(),
        "monitor": 0,
        "width": size[0],
        "height": size[1],
        "mime_type": mime,
        "byte_size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "app_name": "Benchmark",
        "window_title": "flood",
        "redacted_regions": 0,
        "agent_version": "bench",
    }
    body = b"".join(
        [
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n'
            f"Content-Type: application/json\r\n\r\n{json.dumps(meta)}\r\n".encode(),
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="c"\r\nContent-Type: {mime}\r\n\r\n'.encode(),
            data,
            f"\r\n--{BOUNDARY}--\r\n".encode(),
        ]
    )
    return capture_id, body


def post(port: int, token: str, capture_id: str, body: bytes) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": capture_id,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    began = time.perf_counter()
    conn.request("POST", "/api/v1/captures", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - began
    conn.close()
    return response.status, elapsed


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssPeak:
    """Samples the server's RSS every 20 ms while active."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def small_jpegs(count: int) -> list[bytes]:
    rng = random.Random(1)
    base = Image.linear_gradient("L").resize((1280, 720)).convert("RGB")
    out = []
    for _ in range(count):
        noise = Image.frombytes("RGB", (1280, 720), rng.randbytes(1280 * 720 * 3))
        out.append(encode(Image.blend(base, noise, 0.1), "JPEG", quality=80))
    return out


def device_b(port: int, token: str, images: list[bytes], stop: threading.Event) -> list[float]:
    """B uploads one capture after another (as the agent does) until told to stop."""
    latencies: list[float] = []
    i = 0
    while not stop.is_set() or not latencies:
        capture_id, body = body_for(images[i % len(images)], "image/jpeg", (1280, 720))
        status, elapsed = post(port, token, capture_id, body)
        if status != 201:
            print(f"  device B got {status}")
        latencies.append(elapsed)
        i += 1
        time.sleep(0.05)
    return latencies


def describe(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms over {len(ordered)} uploads"
    )


def run(server: LiveServer) -> None:
    assert server.process is not None
    pid, port = server.process.pid, server.port
    b_token = server.create_token("device-b")
    jpegs = small_jpegs(4)

    stop = threading.Event()
    stop.set()
    for _ in range(3):  # warm-up
        device_b(port, b_token, jpegs, stop)
    idle = [device_b(port, b_token, jpegs, stop)[0] for _ in range(20)]
    print(f"idle:  device B {describe(idle)}; server RSS {rss_mb(pid):.0f} MB")

    a_token = server.create_token("device-a")
    flood_png = encode(Image.new("RGB", (4000, 4000), (40, 90, 160)), "PNG")
    bodies = [body_for(flood_png, "image/png", (4000, 4000)) for _ in range(FLOOD_IMAGES)]
    stop = threading.Event()
    with (
        RssPeak(pid) as peak,
        ThreadPoolExecutor(FLOOD_CONNECTIONS + 1) as pool,
    ):
        b_run = pool.submit(device_b, port, b_token, jpegs, stop)
        time.sleep(0.2)
        began = time.perf_counter()
        answers = list(pool.map(lambda cb: post(port, a_token, *cb), bodies))
        flood_seconds = time.perf_counter() - began
        stop.set()
        b_latencies = b_run.result()
    statuses = Counter(status for status, _ in answers)
    print(
        f"flood: {FLOOD_IMAGES} x 4000x4000 PNG ({len(flood_png) // 1000} KB) from device A "
        f"over {FLOOD_CONNECTIONS} connections in {flood_seconds:.1f} s, answers "
        f"{dict(sorted(statuses.items()))}"
    )
    print(f"       device B during the flood: {describe(b_latencies)}")
    print(f"       server RSS peak {peak.peak:.0f} MB, now {rss_mb(pid):.0f} MB")

    big = [
        ("9400x9400 PNG", encode(Image.new("RGB", (9400, 9400), (10, 20, 30)), "PNG"), "image/png"),
        (
            "7680x4320 WebP",
            encode(Image.new("RGB", (7680, 4320), (10, 20, 30)), "WEBP", lossless=True),
            "image/webp",
        ),
    ]
    for label, data, mime in big:
        width, height = (int(n) for n in label.split()[0].split("x"))
        tokens = [server.create_token(f"big-{width}-{i}") for i in range(BIG_PARALLEL)]
        before = rss_mb(pid)
        with RssPeak(pid) as peak, ThreadPoolExecutor(BIG_PARALLEL) as pool:
            jobs = [
                pool.submit(post, port, token, *body_for(data, mime, (width, height)))
                for token in tokens
            ]
            answers = [job.result() for job in jobs]
        time.sleep(3)
        statuses = Counter(status for status, _ in answers)
        slowest = max(elapsed for _, elapsed in answers)
        print(
            f"big:   {BIG_PARALLEL} x {label} ({len(data) // 1000} KB) in parallel: answers "
            f"{dict(sorted(statuses.items()))}, slowest {slowest:.2f} s; server RSS before "
            f"{before:.0f} MB, peak {peak.peak:.0f} MB, 3 s after {rss_mb(pid):.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a checkout whose server code to run")
    args = parser.parse_args()
    env = {"JARVIS_RATE_LIMIT_PER_MINUTE": "100000", "JARVIS_RATE_LIMIT_BURST": "10000"}
    if args.source is not None:
        src = args.source.resolve()
        env["PYTHONPATH"] = os.pathsep.join([str(src / "server/src"), str(src / "sync/src")])
    with open("/proc/loadavg") as f:
        print(f"load average before the run: {f.read().split()[0]} on {os.cpu_count()} cores")
    print(f"server code: {args.source or 'this checkout'}")
    with tempfile.TemporaryDirectory(prefix="jarvis-flood-") as work:
        server = make_server(Path(work) / "server", env=env)
        server.start()
        try:
            run(server)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
