"""Text extraction: CPU seconds per 1080p capture and word recall, on rendered screens.

The fixed set (tests/support/screens.py): a light and a dark terminal, a web-article-like page
with a dark header, a table with a dark header row; 1920x1080, saved as JPEG (quality 90) as the
agent sends them, read by the server's own engine (jarvis_server.ocr: Tesseract 5 via tesserocr,
PSM 11, dark regions inverted). Recall counts the drawn words found among the words read (each
drawn occurrence once). Printed beside the goals (recall >= 97 %, <= 15 s CPU per capture on one
core) and beside the same engine without the inversion.

    uv run python benchmarks/ocr.py
"""

from __future__ import annotations

import io
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageOps
from tests.support.screens import benchmark_set

from jarvis_server.core.config import TESSDATA_DIR
from jarvis_server.ocr import OcrEngine
from jarvis_server.textquery import terms_of

GOAL_RECALL = 0.97
GOAL_CPU_SECONDS = 15.0


def recall(drawn: list[str], read: list[str]) -> tuple[int, int]:
    want = Counter(t for w in drawn for t in terms_of(w))
    have = Counter(t for w in read for t in terms_of(w))
    found = sum(min(n, have[t]) for t, n in want.items())
    return found, sum(want.values())


def main() -> None:
    engine = OcrEngine(TESSDATA_DIR, "eng")
    totals = {"inverted": [0, 0, 0.0], "plain": [0, 0, 0.0]}
    print(
        f"{'screen':<16} {'words':>6} {'recall':>8} {'CPU s':>7} {'wall s':>7}   without inversion"
    )
    for name, screen in benchmark_set():
        data = screen.encode("JPEG")
        drawn = [w for w, _ in screen.words]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        words = engine.read(data)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        found, total = recall(drawn, [w.text for w in words])
        with Image.open(io.BytesIO(data)) as opened:
            grey = ImageOps.grayscale(opened)
        cpu1 = time.process_time()
        plain = engine.read_image(grey)
        plain_cpu = time.process_time() - cpu1
        plain_found, _ = recall(drawn, [w.text for w in plain])
        for key, f, c in (("inverted", found, cpu), ("plain", plain_found, plain_cpu)):
            totals[key][0] += f
            totals[key][1] += total
            totals[key][2] += c
        print(
            f"{name:<16} {total:>6} {found / total:>8.1%} {cpu:>7.2f} {wall:>7.2f}   "
            f"{plain_found / total:>6.1%} in {plain_cpu:.2f} s"
        )
    n = len(benchmark_set())
    found, total, cpu = totals["inverted"]
    plain_found, _, plain_cpu = totals["plain"]
    print(
        f"{'all':<16} {total:>6} {found / total:>8.1%} {cpu / n:>7.2f} (per capture)   "
        f"{plain_found / total:>6.1%} in {plain_cpu / n:.2f} s"
    )
    print(
        f"goal: recall >= {GOAL_RECALL:.0%} -> {found / total:.1%}; "
        f"CPU <= {GOAL_CPU_SECONDS:.0f} s per capture -> {cpu / n:.2f} s "
        f"(x{cpu / n / GOAL_CPU_SECONDS:.2f} of the budget)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MB")
    engine.close()


if __name__ == "__main__":
    main()
