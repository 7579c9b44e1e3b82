"""How much CPU the `jarvis` command line spends before it answers, and how long the server
takes to answer /health.

Runs each command RUNS times and prints the median CPU time (user + system of the child, from
resource.getrusage(RUSAGE_CHILDREN)) next to `python -c pass` with the same interpreter, and the
ratio against the target: `jarvis --version`, `jarvis status` and `jarvis pause` within 8x
`python -c pass`. No agent needs to run: `status` and `pause` then print that the agent is not
running, which is the path measured (a run against a temporary, empty JARVIS_HOME). Each command
runs once untimed first so that its bytecode is cached.

Then `jarvis-server serve` is started SERVER_RUNS times on a migrated, empty database and on one
holding 100,000 captures (rows and their files), and the wall time from spawn to the first 200 on
/health is printed next to a bare FastAPI app under uvicorn started the same way (target 1.3x).

    uv run python benchmarks/startup.py
    uv run python benchmarks/startup.py --jarvis /work/main/.venv/bin/jarvis   # another checkout
    uv run python benchmarks/startup.py --skip-cli --captures 20000            # the server only
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

TARGET = 8.0
SERVER_TARGET = 1.3
SERVER_RUNS = 5
BARE_APP = """
import sys
import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _cpu(argv: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _median(argv: list[str], env: dict[str, str], runs: int) -> float:
    _cpu(argv, env)
    return statistics.median(_cpu(argv, env) for _ in range(runs))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _until_healthy(argv: list[str], env: dict[str, str], port: int) -> float:
    """Seconds from spawn to the first 200 on /health; the process is stopped afterwards."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=env["JARVIS_HOME"]
    )
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{argv} exited with {process.returncode} before answering")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _seed(home: Path, server: Path, count: int) -> None:
    """`count` captures of one device: rows in the database, a small 0600 file for each."""
    env = {**os.environ, "JARVIS_HOME": str(home)}
    subprocess.run([str(server), "migrate"], env=env, check=True, capture_output=True)
    if not count:
        return
    storage = home / "server" / "storage"
    database = sqlite3.connect(home / "server" / "jarvis.db")
    with database:
        database.execute(
            "INSERT INTO devices (name, token_hash, admin, created_at)"
            " VALUES ('bench', ?, 0, '2026-01-01 00:00:00.000000')",
            ("0" * 64,),
        )
        rows = []
        for n in range(count):
            day = f"2026/01/{n // 5000 + 1:02d}"
            capture_id = str(uuid.UUID(int=n + 1))
            key = f"{day}/{capture_id}.jpg"
            folder = storage / day
            if n % 5000 == 0:
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = folder / f"{capture_id}.jpg"
            path.write_bytes(b"x")
            path.chmod(0o600)
            when = f"{day.replace('/', '-')} 10:00:{n % 60:02d}.000000"
            rows.append((capture_id, when, when, key))
        database.executemany(
            "INSERT INTO captures (id, device_id, captured_at, received_at, monitor, width,"
            " height, mime_type, byte_size, sha256, app_name, window_title, redacted_regions,"
            " agent_version, storage_key) VALUES (?, 1, ?, ?, 0, 1920, 1080, 'image/jpeg', 1,"
            " '', NULL, NULL, 0, 'bench', ?)",
            rows,
        )
    database.close()
    for folder in [storage, *storage.rglob("*")]:
        if folder.is_dir():
            folder.chmod(0o700)


def _server(server: Path, python: str, captures: int, runs: int) -> None:
    print(f"\n{server} serve: wall time to the first 200 on /health ({runs} runs, median)")
    print(f"{'server':<34}{'seconds':>9}{'x bare':>9}  target <= {SERVER_TARGET:g}x")
    with tempfile.TemporaryDirectory(prefix="jarvis-bare-") as home:
        env = {**os.environ, "JARVIS_HOME": home}
        script = Path(home, "bare.py")
        script.write_text(BARE_APP)
        warm = _free_port()
        _until_healthy([python, str(script), str(warm)], env, warm)  # bytecode cached
        bare = statistics.median(
            _until_healthy([python, str(script), str(port)], env, port)
            for port in (_free_port() for _ in range(runs))
        )
    print(f"{'bare FastAPI + uvicorn':<34}{bare:>9.2f}{1.0:>9.1f}")
    for label, count in (("fresh database", 0), (f"{captures:,} captures", captures)):
        with tempfile.TemporaryDirectory(prefix="jarvis-serve-") as home:
            _seed(Path(home), server, count)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("JARVIS_")},
                "JARVIS_HOME": home,
            }
            times = []
            for _ in range(runs + 1):  # the first run only warms the caches
                port = _free_port()
                times.append(_until_healthy([str(server), "serve", "--port", str(port)], env, port))
            took = statistics.median(times[1:])
        ratio = took / bare
        verdict = "ok" if ratio <= SERVER_TARGET else "over"
        print(f"{'jarvis-server, ' + label:<34}{took:>9.2f}{ratio:>9.1f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "jarvis"
    parser.add_argument("--jarvis", type=Path, default=default, help="the jarvis script to time")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--server-runs", type=int, default=SERVER_RUNS)
    parser.add_argument("--captures", type=int, default=100_000)
    parser.add_argument("--skip-cli", action="store_true", help="time the server only")
    args = parser.parse_args()
    jarvis: Path = args.jarvis
    server = jarvis.with_name("jarvis-server")
    # The script's own interpreter (its shebang), so the baseline is the same Python.
    python = jarvis.read_text().splitlines()[0].removeprefix("#!").strip()

    if not args.skip_cli:
        with tempfile.TemporaryDirectory(prefix="jarvis-startup-") as home:
            env = {**os.environ, "JARVIS_HOME": home}
            base = _median([python, "-c", "pass"], env, args.runs)
            print(f"{jarvis} ({args.runs} runs, median CPU time)")
            print(f"{'command':<20}{'CPU ms':>9}{'x pass':>9}  target <= {TARGET:g}x")
            print(f"{'python -c pass':<20}{base * 1000:>9.1f}{1.0:>9.1f}")
            for command in (["--version"], ["status"], ["pause"]):
                cpu = _median([str(jarvis), *command], env, args.runs)
                ratio = cpu / base
                verdict = "ok" if ratio <= TARGET else "over"
                label = "jarvis " + " ".join(command)
                print(f"{label:<20}{cpu * 1000:>9.1f}{ratio:>9.1f}  {verdict}")
    _server(server, python, args.captures, args.server_runs)


if __name__ == "__main__":
    main()
