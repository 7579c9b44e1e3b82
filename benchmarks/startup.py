"""How much CPU the `jarvis` command line spends before it answers.

Runs each command RUNS times and prints the median CPU time (user + system of the child, from
resource.getrusage(RUSAGE_CHILDREN)) next to `python -c pass` with the same interpreter, and the
ratio against the target: `jarvis --version`, `jarvis status` and `jarvis pause` within 8x
`python -c pass`. No agent needs to run: `status` and `pause` then print that the agent is not
running, which is the path measured (a run against a temporary, empty JARVIS_HOME). Each command
runs once untimed first so that its bytecode is cached.

    uv run python benchmarks/startup.py
    uv run python benchmarks/startup.py --jarvis /work/main/.venv/bin/jarvis   # another checkout
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
from pathlib import Path

TARGET = 8.0


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
    args = parser.parse_args()
    jarvis: Path = args.jarvis
    # The script's own interpreter (its shebang), so the baseline is the same Python.
    python = jarvis.read_text().splitlines()[0].removeprefix("#!").strip()

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


if __name__ == "__main__":
    main()
