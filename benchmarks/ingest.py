"""Ingest throughput and latency of the real server over loopback.

Starts `jarvis-server serve` as a subprocess on a free port, once on SQLite and once on a private
PostgreSQL 15 cluster, and has 4 concurrent clients (one device each, keep-alive connections)
upload 150 KB JPEGs as the agent does (multipart file + metadata, Idempotency-Key). Prints
captures/s and p50/p99 latency per backend, and the ratio against the target on SQLite
(>= 300 captures/s, p99 <= 50 ms on a 2-core machine). Every upload is fsynced as in production.

Each backend runs twice in the same run, without and with the text worker (OCR of every stored
capture in the background), and prints the ratio of their rates (goal: >= 0.9x). The worker is
busy the whole time: every upload queues one more capture to read.

    uv run python benchmarks/ingest.py                 # 1500 uploads per backend and mode
    uv run python benchmarks/ingest.py --uploads 3000 --backend sqlite --text-worker off
    uv run python benchmarks/ingest.py --backend scale --text-worker off  # SQLite+fs baseline,
        then PostgreSQL with the filesystem and with an S3 bucket (rclone serve s3), 1 and 2
        workers each; prints the 2-worker speed-up and S3's p99 against the filesystem's

Besides the server's CPU per capture, each run prints that of the clients (this process), the
database and the S3 server, which share the machine's cores with the server.
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
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image
from tests.support.postgres import PostgresCluster, start_cluster, stop_cluster
from tests.support.s3 import start_s3_server, stop_s3_server
from tests.support.server import LiveServer, child_pids, make_server

CLIENTS = 4
TARGET_RATE = 300.0
TARGET_P99_MS = 50.0
IMAGE_BYTES = 150_000
BOUNDARY = "jarvisbenchboundary"


def make_jpeg(seed: int, target: int = IMAGE_BYTES) -> bytes:
    """A real JPEG of about `target` bytes: a smooth screen-like picture with some noise."""
    rng = random.Random(seed)
    width, height = 1280, 720
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    low, high = 0.0, 1.0
    for _ in range(12):  # bisect the noise level to land near the target size
        mix = (low + high) / 2
        out = io.BytesIO()
        Image.blend(base, noise, mix).save(out, format="JPEG", quality=80)
        if out.tell() > target:
            high = mix
        else:
            low = mix
    return out.getvalue()


def body_for(data: bytes, digest: str, capture_id: str) -> bytes:
    meta = {
        "id": capture_id,
        "captured_at": datetime.now(UTC).isoformat(),
        "monitor": 0,
        "width": 1280,
        "height": 720,
        "mime_type": "image/jpeg",
        "byte_size": len(data),
        "sha256": digest,
        "app_name": "Benchmark",
        "window_title": "ingest",
        "redacted_regions": 0,
        "agent_version": "bench",
    }
    return b"".join(
        [
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n'
            f"Content-Type: application/json\r\n\r\n{json.dumps(meta)}\r\n".encode(),
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="c.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode(),
            data,
            f"\r\n--{BOUNDARY}--\r\n".encode(),
        ]
    )


def client_loop(
    port: int,
    token: str,
    images: list[tuple[bytes, str]],
    count: int,
    start: threading.Barrier,
    latencies: list[float],
    errors: list[str],
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    # Bodies are built before the clock starts, so the figures measure the server.
    bodies = []
    for i in range(count):
        capture_id = str(uuid.uuid4())
        data, digest = images[i % len(images)]
        bodies.append((capture_id, body_for(data, digest, capture_id)))
    start.wait()
    for capture_id, body in bodies:
        headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": capture_id,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        }
        began = time.perf_counter()
        conn.request("POST", "/api/v1/captures", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - began)
        if response.status != 201:
            errors.append(f"{response.status}")
    conn.close()


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU time of a process and its workers so far (Linux /proc); with `reaped`,
    also that of its children that already exited (PostgreSQL's short-lived backends)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    if reaped:
        own += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_live_cpu_seconds(child) for child in child_pids(pid))


def _live_cpu_seconds(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except FileNotFoundError:  # exited since it was listed (a backend, an OCR process)
        return 0.0


def _postmaster(cluster: PostgresCluster) -> int:
    return int((cluster.base / "data" / "postmaster.pid").read_text().split()[0])


def run_load(
    server: LiveServer,
    uploads: int,
    images: list[tuple[bytes, str]],
    others: dict[str, int] | None = None,
) -> dict[str, float]:
    """Run the clients; figures include the CPU per capture of the server, of this process (the
    clients) and of `others` (name -> pid of a process tree on this machine: the database, the
    S3 server), and with several workers, each worker's share of the server's CPU."""
    tokens = [server.create_token(f"bench-{i}") for i in range(CLIENTS)]
    per_client = uploads // CLIENTS
    # Warm-up: imports, connection pools, SQLite page cache.
    warm_lat: list[float] = []
    warm_err: list[str] = []
    warm = threading.Barrier(1)
    client_loop(server.port, tokens[0], images, 40, warm, warm_lat, warm_err)
    latencies: list[float] = []
    errors: list[str] = []
    barrier = threading.Barrier(CLIENTS + 1)
    threads = [
        threading.Thread(
            target=client_loop,
            args=(server.port, tokens[i], images, per_client, barrier, latencies, errors),
        )
        for i in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    assert server.process is not None
    others = others or {}
    workers = child_pids(server.process.pid) if server.serve_args else []
    cpu_before = cpu_seconds(server.process.pid)
    workers_before = [cpu_seconds(w) for w in workers]
    others_before = {name: cpu_seconds(pid, reaped=True) for name, pid in others.items()}
    client_before = _own_cpu()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    client = _own_cpu() - client_before
    cpu = cpu_seconds(server.process.pid) - cpu_before
    spent = {
        name: cpu_seconds(pid, reaped=True) - others_before[name] for name, pid in others.items()
    }
    shares = [cpu_seconds(w) - before for w, before in zip(workers, workers_before, strict=True)]
    if errors or warm_err:
        print(f"  non-201 answers: {len(errors) + len(warm_err)} (e.g. {(errors or warm_err)[0]})")
    ordered = sorted(latencies)
    return {
        "uploads": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "max": ordered[-1] * 1000,
        "cpu_ms": cpu / len(latencies) * 1000,
        "client_cpu_ms": client / len(latencies) * 1000,
        **{f"cpu_ms {name}": used / len(latencies) * 1000 for name, used in spent.items()},
        # A worker's share of the server's CPU: with few keep-alive clients the kernel may hand
        # one worker more connections than the other (each accept goes to whoever wakes first).
        **{f"share {i}": used / cpu for i, used in enumerate(shares) if cpu > 0},
    }


def _own_cpu() -> float:
    """CPU time of this process (the client threads), without its exited children."""
    times = os.times()
    return times.user + times.system


def report(name: str, figures: dict[str, float]) -> None:
    print(
        f"{name:<11} {figures['uploads']:>6.0f} uploads  {figures['rate']:7.1f} captures/s  "
        f"p50 {figures['p50']:6.1f} ms  p99 {figures['p99']:6.1f} ms  max {figures['max']:6.1f} ms"
    )
    print(f"{'':<11} server CPU {figures['cpu_ms']:.2f} ms per capture (load-independent)")
    others = [
        f"{name.removeprefix('cpu_ms ')} {value:.2f}"
        for name, value in figures.items()
        if name.startswith("cpu_ms ")
    ]
    print(
        f"{'':<11} on this machine too, CPU ms per capture: clients {figures['client_cpu_ms']:.2f}"
        + "".join(f", {o}" for o in others)
    )
    total = _cpu_per_capture(figures)
    cores = os.cpu_count() or 1
    print(
        f"{'':<11} all of them: {total:.2f} ms of CPU per capture, "
        f"{figures['rate'] * total / 1000:.2f} of {cores} cores busy"
    )
    shares = [f"{v * 100:.0f}%" for k, v in figures.items() if k.startswith("share ")]
    if len(shares) > 1:
        print(f"{'':<11} each worker's share of the server CPU: {' / '.join(shares)}")
    print(
        f"{'':<11} vs target: rate x{figures['rate'] / TARGET_RATE:.2f} of {TARGET_RATE:.0f}/s, "
        f"p99 x{figures['p99'] / TARGET_P99_MS:.2f} of {TARGET_P99_MS:.0f} ms"
    )


def _cpu_per_capture(figures: dict[str, float]) -> float:
    """CPU ms per capture of every process of the run: server, clients, database, S3 server."""
    return (
        figures["cpu_ms"]
        + figures["client_cpu_ms"]
        + sum(v for k, v in figures.items() if k.startswith("cpu_ms "))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=1500)
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both", "scale"], default="both"
    )
    parser.add_argument("--text-worker", choices=["off", "on", "both"], default="both")
    args = parser.parse_args()
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.text_worker]

    images = [make_jpeg(seed) for seed in range(4)]
    images_with_digest = [(d, hashlib.sha256(d).hexdigest()) for d in images]
    sizes = ", ".join(f"{len(d) // 1000} KB" for d in images)
    with open("/proc/loadavg") as f:
        print(f"load average before the run: {f.read().split()[0]} on {os.cpu_count()} cores")
    print(f"{CLIENTS} clients, JPEGs of {sizes}, {args.uploads} uploads per backend")
    env = {"JARVIS_RATE_LIMIT_PER_MINUTE": "10000000", "JARVIS_RATE_LIMIT_BURST": "100000"}

    if args.backend == "scale":
        for worker in modes:
            scale_out(args.uploads, images_with_digest, _env(env, worker), worker)
        return
    with tempfile.TemporaryDirectory(prefix="jarvis-bench-") as work:
        if args.backend in ("sqlite", "both"):
            rates = []
            for worker in modes:
                server = make_server(Path(work) / f"sqlite-{worker}", env=_env(env, worker))
                server.start()
                try:
                    figures = run_load(server, args.uploads, images_with_digest)
                    report(f"SQLite{' +OCR' if worker else ''}", figures)
                    rates.append(figures["rate"])
                finally:
                    server.stop()
            _ratio("SQLite", rates)
        if args.backend in ("postgres", "both"):
            cluster = start_cluster()
            try:
                rates = []
                for worker in modes:
                    name = cluster.create_database()
                    server = make_server(
                        Path(work) / f"pg-{worker}",
                        env=_env(env, worker),
                        database_url=cluster.url(name),
                    )
                    server.start()
                    try:
                        figures = run_load(
                            server,
                            args.uploads,
                            images_with_digest,
                            {"database": _postmaster(cluster)},
                        )
                        report(f"PG{' +OCR' if worker else ''}", figures)
                        rates.append(figures["rate"])
                    finally:
                        server.stop()
                _ratio("PostgreSQL", rates)
            finally:
                stop_cluster(cluster)


def _env(env: dict[str, str], worker: bool) -> dict[str, str]:
    return {**env, "JARVIS_TEXT_EXTRACTION": "true" if worker else "false"}


def _ratio(name: str, rates: list[float]) -> None:
    if len(rates) == 2:
        print(
            f"{name}: rate with the text worker / without: x{rates[1] / rates[0]:.2f} (goal >= 0.9)"
        )


def scale_out(
    uploads: int, images: list[tuple[bytes, str]], env: dict[str, str], worker: bool
) -> None:
    """The scaled-out shapes against today's baseline, in one run on one machine. With the text
    worker, every server process (each replica) runs its own, busy all along with the backlog."""
    results: dict[str, dict[str, float]] = {}
    ocr = " +OCR" if worker else ""
    print(f"text worker {'on: every capture is read' if worker else 'off'}")
    with tempfile.TemporaryDirectory(prefix="jarvis-bench-") as work:
        server = make_server(Path(work) / "sqlite", env=env)
        server.start()
        try:
            results["SQLite+fs"] = run_load(server, uploads, images)
            report(f"SQLite+fs{ocr}", results["SQLite+fs"])
        finally:
            server.stop()
        cluster = start_cluster()
        # rclone's default cache: nothing changes its folders behind its back here.
        s3 = start_s3_server(dir_cache="5m", buckets=("bench-1", "bench-2"))
        try:
            for storage in ("fs", "S3"):
                for workers in (1, 2):
                    name = f"PG+{storage} {workers}w"
                    database = cluster.create_database()
                    extra = dict(env)
                    object_dir = None
                    if storage == "S3":
                        bucket = f"bench-{workers}"
                        extra.update(s3.env(bucket))
                        object_dir = s3.bucket_dir(bucket)
                    server = make_server(
                        Path(work) / name.replace(" ", "-").replace("+", "-"),
                        env=extra,
                        database_url=cluster.url(database),
                        object_dir=object_dir,
                    )
                    server.serve_args = ("--workers", str(workers)) if workers > 1 else ()
                    server.start()
                    try:
                        _wait_for_workers(server, workers)
                        others = {"database": _postmaster(cluster)}
                        if storage == "S3" and s3.process is not None:
                            others["S3 server"] = s3.process.pid
                        results[name] = run_load(server, uploads, images, others)
                        report(f"{name}{ocr}", results[name])
                    finally:
                        server.stop()
                        cluster.drop_database(database)
        finally:
            stop_s3_server(s3)
            stop_cluster(cluster)
    for storage in ("fs", "S3"):
        one, two = results[f"PG+{storage} 1w"], results[f"PG+{storage} 2w"]
        # What the cores allow: every process of the run shares them, so 2 workers cannot pass
        # cores / (CPU per capture of all processes), however the server spreads its work.
        ceiling = (os.cpu_count() or 1) * 1000 / _cpu_per_capture(two)
        print(
            f"PostgreSQL+{storage}{ocr}: 2 workers x{two['rate'] / one['rate']:.2f} the "
            f"captures/s of 1 (target >= 1.6); this machine's cores allow at most "
            f"x{ceiling / one['rate']:.2f} at the CPU per capture the 2-worker run measured"
        )
    for workers in (1, 2):
        fs, s3r = results[f"PG+fs {workers}w"], results[f"PG+S3 {workers}w"]
        print(
            f"{workers} worker(s){ocr}: S3 p99 x{s3r['p99'] / fs['p99']:.2f} the filesystem's "
            "(target <= 1.5)"
        )


def _wait_for_workers(server: LiveServer, workers: int) -> None:
    """Until every worker accepts connections: the first would take all the clients."""
    if workers == 1:
        return
    deadline = time.monotonic() + 60
    while server.log_path.read_text().count("worker accepting connections") < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the workers did not start: {server.log_tail()}")
        time.sleep(0.1)


if __name__ == "__main__":
    main()
