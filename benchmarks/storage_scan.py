"""Start-up storage scan: what reconciliation reads before the server accepts requests.

Creates N small image files in date folders (1,000 a folder) and times, best of three, a plain
listing (os.walk, names only: what the old reconciliation read) against the scan that start-up
runs now (names, mtime and mode of every file, for the crash window and the 0600 check).
Prints wall and CPU seconds of each.

    uv run python benchmarks/storage_scan.py                 # 100,000 files
    uv run python benchmarks/storage_scan.py --count 20000
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from jarvis_server.storage import FilesystemStorage

PER_FOLDER = 1000


def _listing(root: Path) -> set[str]:
    found: set[str] = set()
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            found.add(Path(dirpath, name).relative_to(root).as_posix())
    return found


def _best(run: Callable[[], object]) -> tuple[float, float]:
    best = (float("inf"), float("inf"))
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="jarvis-scan-"))
    try:
        root = base / "storage"
        for n in range(args.count):
            folder = root / "2026" / f"{n // (PER_FOLDER * 28) + 1:02d}" / f"{n // PER_FOLDER:04d}"
            if n % PER_FOLDER == 0:
                folder.mkdir(parents=True)
            (folder / f"{n}.jpg").write_bytes(b"x")
        storage = FilesystemStorage(root)
        assert len(storage._scan_sync().files) == args.count
        for label, run in (
            ("listing (os.walk, names only)", lambda: _listing(root)),
            ("start-up scan (names, mtime, mode)", storage._scan_sync),
        ):
            wall, cpu = _best(run)
            print(f"{label:<36} {args.count:>8} files  {wall:6.2f} s wall  {cpu:6.2f} s CPU")
    finally:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
