"""How long Jarvis takes to start, each figure beside its baseline measured in the same run.

cli: each command RUNS times, the median CPU time (user + system of the child, from
resource.getrusage(RUSAGE_CHILDREN)) next to `python -c pass` with the same interpreter, and the
ratio against the target: `jarvis --version`, `jarvis status` and `jarvis pause` within 8x
`python -c pass`. No agent needs to run: `status` and `pause` then print that the agent is not
running, which is the path measured (a run against a temporary, empty JARVIS_HOME). Each command
runs once untimed first so that its bytecode is cached.

serve: `jarvis-server serve` until /health answers 200, against a bare FastAPI app with one
route under uvicorn (same interpreter, host and port), target 1.3x, on a new database (it
migrates; once), an empty one and one with 100,000 captures (rows bulk-inserted, a small file
each, as reconciliation at start reads them). The same bare app with the libraries the server
is built on imported first is printed as the floor of the stack. Wall time is the target; the
CPU time of each process is printed beside it, as it is steadier on a busy machine. `--before`
times another checkout's server beside this one on the same databases.

up: `jarvis up` until its red icon is drawn in trayer's panel on the real test desktop (Xvfb,
openbox, trayer and gnome-keyring, from tests/support/), with the local server already running
(target 2 s), not yet running (4 s), and on the very first run (new data and token).

    uv run python benchmarks/startup.py                       # all three
    uv run python benchmarks/startup.py --only serve --before /other/checkout/.venv/bin/jarvis
    uv run python benchmarks/startup.py --jarvis /work/main/.venv/bin/jarvis   # another checkout
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
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.desktop import Desktop

TARGET = 8.0
SERVE_TARGET = 1.3
BIG = 100_000

# The baseline: a bare FastAPI app with one route under uvicorn, host and port as serve takes them.
BARE_APP = """
import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


uvicorn.run(app, host=sys.argv[1], port=int(sys.argv[2]), log_level="warning")
"""
# The same app with the libraries Jarvis's server is built on imported first (SQLAlchemy's
# asyncio ORM and its SQLite driver, pydantic-settings, structlog): what no server on this
# stack can start below, printed beside the target to show how much of the rest is Jarvis's.
STACK_APP = (
    "import aiosqlite, pydantic_settings, structlog\n"
    "import sqlalchemy.dialects.sqlite.aiosqlite, sqlalchemy.ext.asyncio, sqlalchemy.orm\n"
    + BARE_APP
)


def _cpu(argv: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _median(argv: list[str], env: dict[str, str], runs: int) -> float:
    _cpu(argv, env)
    return statistics.median(_cpu(argv, env) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "jarvis"
    parser.add_argument("--jarvis", type=Path, default=default, help="the jarvis script to time")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--before", type=Path, help="another checkout's jarvis script, timed beside (serve)"
    )
    parser.add_argument(
        "--only", choices=("cli", "serve", "up"), action="append", help="these sections alone"
    )
    args = parser.parse_args()
    sections = set(args.only or ("cli", "serve", "up"))
    jarvis: Path = args.jarvis
    # The script's own interpreter (its shebang), so the baseline is the same Python.
    python = jarvis.read_text().splitlines()[0].removeprefix("#!").strip()

    if "cli" in sections:
        cli_table(jarvis, python, args.runs)
    if "serve" in sections:
        servers = {"serve": jarvis.with_name("jarvis-server")}
        if args.before is not None:
            servers = {"before": args.before.with_name("jarvis-server"), "after": servers["serve"]}
        serve_table(servers, python, max(3, args.runs // 2))
    if "up" in sections:
        up_table(jarvis, max(3, args.runs // 2))


def cli_table(jarvis: Path, python: str, runs: int) -> None:
    """`jarvis --version`, `status` and `pause` against `python -c pass`, CPU time."""
    args = argparse.Namespace(runs=runs)
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _health_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _time_to_health(argv: list[str], env: dict[str, str], port: int) -> tuple[float, float]:
    """Wall seconds from spawning `argv` to a 200 on /health, and the CPU seconds the process
    spent in all (its stop included: small, and the same for both); the process is stopped."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not _health_ok(port):
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise SystemExit(f"{argv} ended: {err}")
            time.sleep(0.01)
        wall = time.perf_counter() - start
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _median_health(
    argv: list[str], env: dict[str, str], port: int, runs: int
) -> tuple[float, float]:
    _time_to_health(argv, env, port)  # bytecode cached, files in the page cache
    times = [_time_to_health(argv, env, port) for _ in range(runs)]
    return statistics.median(w for w, _ in times), statistics.median(c for _, c in times)


def fill_captures(home: Path, count: int) -> None:
    """`count` captures of one device: rows bulk-inserted into the migrated database, and a
    small file for each in its date folder (what reconciliation at start reads)."""
    storage = home / "server" / "storage"
    db = sqlite3.connect(home / "server" / "jarvis.db")
    now = "2026-01-01 00:00:00.000000"
    db.execute(
        "INSERT INTO devices (name, token_hash, admin, created_at) VALUES ('bench', ?, 0, ?)",
        ("0" * 64, now),
    )
    rows = []
    old = time.time() - 86400  # older than the crash window, as a real archive's files are
    folders: set[str] = set()
    first_day = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(count):
        capture = str(uuid.UUID(int=n + 1))
        day = (first_day + timedelta(days=n // 1000)).strftime("%Y/%m/%d")  # 1,000 a day
        key = f"{day}/{capture}.webp"
        rows.append(
            (capture, now, now, 0, 1, 1, "image/webp", 4, "0" * 64, None, None, 0, "b", key)
        )
        if day not in folders:
            (storage / day).mkdir(mode=0o700, parents=True, exist_ok=True)
            folders.add(day)
        fd = os.open(storage / key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"RIFF")
        os.utime(fd, (old, old))
        os.close(fd)
    db.executemany(
        "INSERT INTO captures (id, device_id, captured_at, received_at, monitor, width, height,"
        " mime_type, byte_size, sha256, app_name, window_title, redacted_regions, agent_version,"
        " storage_key) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.close()


@contextmanager
def _server_home(count: int, server: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="jarvis-serve-") as home:
        env = {**os.environ, "JARVIS_HOME": home}
        subprocess.run([str(server), "migrate"], env=env, check=True, stderr=subprocess.DEVNULL)
        if count:
            fill_captures(Path(home), count)
        yield Path(home)


def serve_table(servers: dict[str, Path], python: str, runs: int) -> None:
    """`jarvis-server serve` to a 200 on /health against the bare app, same run, same host;
    each of `servers` (e.g. before and after a change) on the same databases, in turn.
    Wall time is the target; CPU time beside it, steadier on a busy machine."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="jarvis-bare-") as tmp:
        env = dict(os.environ)
        bare, stack = Path(tmp, "bare.py"), Path(tmp, "stack.py")
        bare.write_text(BARE_APP)
        stack.write_text(STACK_APP)
        where = ["127.0.0.1", str(port)]
        base, base_cpu = _median_health([python, str(bare), *where], env, port, runs)
        floor = _median_health([python, str(stack), *where], env, port, runs)
    print(f"\njarvis-server serve ({runs} runs, median time to a 200 on /health)")
    for name, server in servers.items():
        print(f"  {name}: {server}")
    print(f"{'case':<36}{'wall ms':>9}{'x bare':>8}{'CPU ms':>9}{'x bare':>8}  target")
    print(f"{'bare FastAPI + uvicorn':<36}{base * 1000:>9.0f}{1.0:>8.2f}{base_cpu * 1000:>9.0f}")
    rows: list[tuple[str, float, float, str]] = [
        ("bare app + the stack's imports", *floor, "(the floor of this stack)")
    ]
    for name, server in servers.items():
        argv = [str(server), "serve", "--host", "127.0.0.1", "--port", str(port)]
        with tempfile.TemporaryDirectory(prefix="jarvis-new-") as home:
            env = {**os.environ, "JARVIS_HOME": home}
            wall, cpu = _time_to_health(argv, env, port)  # creates and migrates the database
            rows.append((f"{name}: new database", wall, cpu, "(migrates, once)"))
    for label, count in (("empty database", 0), (f"{BIG:,} captures", BIG)):
        with _server_home(count, next(iter(servers.values()))) as home:
            env = {**os.environ, "JARVIS_HOME": str(home)}
            for name, server in servers.items():
                argv = [str(server), "serve", "--host", "127.0.0.1", "--port", str(port)]
                wall, cpu = _median_health(argv, env, port, runs)
                verdict = "ok" if wall / base <= SERVE_TARGET else "over"
                rows.append((f"{name}: {label}", wall, cpu, f"<= {SERVE_TARGET:g}x {verdict}"))
    for label, wall, cpu, note in rows:
        print(
            f"{label:<36}{wall * 1000:>9.0f}{wall / base:>8.2f}{cpu * 1000:>9.0f}"
            f"{cpu / base_cpu:>8.2f}  {note}"
        )


UP_TARGETS = {
    "server already running": 2.0,
    "server not yet running": 4.0,
    "first run (new data, token)": 4.0,
}
CAPTURING_RED = (0xE5, 0x35, 0x2B)  # the tray icon's "recording" dot


def _icon_drawn(desktop: Desktop) -> bool:
    """The red dot is in trayer's panel (200x32 at the top right, tests/support/desktop.py)."""
    import mss

    with mss.MSS(display=desktop.display) as sct:
        area = {"left": desktop.width - 200, "top": 0, "width": 200, "height": 32}
        shot = sct.grab(area)
    red = 0
    raw = shot.bgra
    for i in range(0, len(raw), 4):
        b, g, r = raw[i], raw[i + 1], raw[i + 2]
        if abs(r - CAPTURING_RED[0]) <= 40 and abs(g - CAPTURING_RED[1]) <= 40:
            red += abs(b - CAPTURING_RED[2]) <= 40
    return red > 20


def _time_up(jarvis: Path, port: int, env: dict[str, str], desktop: Desktop) -> tuple[float, str]:
    """Wall seconds from spawning `jarvis up` to its icon in the panel; then it is stopped."""
    if _icon_drawn(desktop):
        raise SystemExit("a tray icon is already in the panel")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(jarvis), "up", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        while not _icon_drawn(desktop):
            if proc.poll() is not None or time.perf_counter() - start > 120:
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    said = out.decode(errors="replace")
    if wall > 120 or "Tray: starting" not in said:
        raise SystemExit(f"jarvis up showed no icon:\n{said}")
    while _icon_drawn(desktop):  # gone from the panel before the next run
        time.sleep(0.02)
    return wall, said


def up_table(jarvis: Path, runs: int) -> None:
    """`jarvis up` to its icon drawn in a real tray (Xvfb + openbox + trayer, a real keyring):
    the first run (a new JARVIS_HOME: it starts the server, which migrates a new database, and
    creates a token), then with the same data and the local server not yet running, and with
    it already running (started beforehand, as `up` would)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.desktop import start_desktop, start_tray_host, stop_tray_host
    from tests.support.keyring import _start_bus, _start_keyring, _stop, _wait_for_secret_service

    desktop = start_desktop()
    host = start_tray_host(desktop)
    keyring_home = Path(tempfile.mkdtemp(prefix="jarvis-keyring-"))
    bus, address = _start_bus(keyring_home)
    daemon = _start_keyring(keyring_home, address)
    results: dict[str, list[float]] = {case: [] for case in UP_TARGETS}
    try:
        _wait_for_secret_service(address, daemon)
        base = {
            **os.environ,
            "DISPLAY": desktop.display,
            "DBUS_SESSION_BUS_ADDRESS": address,
            "QT_QPA_PLATFORM": "xcb",
            "PYTHONUNBUFFERED": "1",
        }
        base.pop("WAYLAND_DISPLAY", None)
        for run in range(runs + 1):  # the first, untimed, caches bytecode
            with tempfile.TemporaryDirectory(prefix="jarvis-up-") as home:
                env = {**base, "JARVIS_HOME": home, "HOME": home}
                port = _free_port()
                # A new JARVIS_HOME: the server migrates a new database, a token is created.
                wall, _said = _time_up(jarvis, port, env, desktop)
                if run:
                    results["first run (new data, token)"].append(wall)
                # The same data the next day: the server is started, the token reused.
                wall, said = _time_up(jarvis, port, env, desktop)
                if "reusing it" not in said:
                    raise SystemExit(f"jarvis up did not reuse its token:\n{said}")
                if run:
                    results["server not yet running"].append(wall)
                key = subprocess.run(
                    [
                        str(jarvis.with_name("python")),
                        "-c",
                        "from jarvis_agent.paths import agent_paths;"
                        "print(agent_paths().server_identity_key)",
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                server_env = {**env, "JARVIS_IDENTITY_KEY_FILE": key}
                serve = [str(jarvis.with_name("jarvis-server")), "serve", "--port", str(port)]
                server = subprocess.Popen(
                    serve, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                try:
                    while not _health_ok(port):
                        time.sleep(0.05)
                    wall, said = _time_up(jarvis, port, env, desktop)
                    if "already running" not in said:
                        raise SystemExit(f"jarvis up did not use the running server:\n{said}")
                    if run:
                        results["server already running"].append(wall)
                finally:
                    server.send_signal(signal.SIGTERM)
                    server.wait(timeout=60)
    finally:
        _stop(daemon)
        _stop(bus)
        stop_tray_host(host)
        desktop.stop()
    print(f"\njarvis up to its icon in the tray ({runs} runs, median wall time)")
    print(f"{'case':<30}{'s':>8}  target")
    for case, walls in results.items():
        wall = statistics.median(walls)
        verdict = "ok" if wall <= UP_TARGETS[case] else "over"
        print(f"{case:<30}{wall:>8.2f}  <= {UP_TARGETS[case]:g} s {verdict}")


if __name__ == "__main__":
    main()
