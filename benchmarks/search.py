"""Search latency (p50/p95 over HTTP) and index size per capture, at N captures.

Fills a migrated database with N captures of one device (15 s apart), each with ~300 words of
OCR-like text drawn from a Zipf-distributed vocabulary of 20,000 words and one box per word, as
the text worker stores them, then starts the real server on it and times GET /api/v1/search
with that device's token: two common words, a rare word, a phrase, a prefix (4 letters; and 2
or 3, the shortest the grammar takes), a word with an app filter, and a common word with a time
range. Prints p50/p95 per kind and overall beside the goal (p95 <= 50 ms), each the median of
--repeats runs with the load average of each (the machine may be shared), and the bytes per
capture of the text, the boxes and the index.

Filling takes minutes (100k: ~3 min per backend on a loaded 2-core machine; 1M: ~10x), so the
filled databases stay in --cache (/tmp/jarvis-search-bench/{sqlite,pg}-N) for the next run;
delete a folder to fill it again. The rows are marked file-missing: search reads no images.

    uv run python benchmarks/search.py                        # 100k, SQLite and PostgreSQL
    uv run python benchmarks/search.py --captures 1000000 --backend postgres --fill-only
    uv run python benchmarks/search.py --captures 1000000 --backend postgres --repeats 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import numpy as np
from tests.support.postgres import start_cluster, stop_cluster
from tests.support.server import LiveServer, make_server

from jarvis_contract import SEARCH_PATH
from jarvis_server.searchkey import search_key
from jarvis_server.textquery import terms_of

GOAL_P95_MS = 50.0
VOCABULARY = 20_000
WORDS_PER_CAPTURE = 300
QUERIES_PER_KIND = 60
BATCH = 2000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
APPS = ["Firefox", "Terminal", "Thunderbird", "Code", "Slack"]
_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ti",
    "vo",
    "pe",
    "da",
    "go",
    "ri",
    "lu",
    "ma",
    "ze",
    "bo",
    "ki",
    "na",
    "fe",
    "po",
]


def vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    # Sorted first: a set's order changes with each process's hash seed, and a cached database
    # must be searched with the words it was filled with.
    vocab = sorted(sorted(words), key=lambda w: rng.random())
    # Each word is one index term already, so the text is its own folded form (terms_of).
    assert all(terms_of(w) == [w] for w in vocab)
    return vocab


def box_sets(seed: int) -> list[str]:
    """The boxes of a capture (one per word, as the text worker stores them): 16 sets reused."""
    rng = np.random.default_rng(seed)
    return [
        json.dumps(
            [[int(v) for v in rng.integers([0, 0, 20], [1800, 1000, 120])] + [14]]
            * WORDS_PER_CAPTURE,
            separators=(",", ":"),
        )
        for _ in range(16)
    ]


def documents(n: int, vocab: list[str], seed: int) -> Iterator[tuple[int, str, str, str]]:
    """n texts of WORDS_PER_CAPTURE words, 12 to a line, drawn by numpy (a million in ~1 min)."""
    rng = np.random.default_rng(seed)
    # Zipf: a few words are common, most are rare.
    cumulative = np.cumsum(1 / np.arange(1, len(vocab) + 1))
    cumulative /= cumulative[-1]
    boxes = box_sets(seed)
    for first in range(0, n, BATCH):
        count = min(BATCH, n - first)
        drawn = np.searchsorted(cumulative, rng.random((count, WORDS_PER_CAPTURE)), side="right")
        for i, row in enumerate(drawn.tolist(), start=first):
            words = [vocab[j] for j in row]
            lines = [" ".join(words[j : j + 12]) for j in range(0, len(words), 12)]
            yield i, "\n".join(lines), boxes[i % len(boxes)], APPS[i % len(APPS)]


def capture_row(i: int, device_id: int, app: str) -> dict[str, object]:
    at = T0 + timedelta(seconds=15 * i)
    return {
        "id": f"00000000-0000-7000-8000-{i:012d}",
        "device_id": device_id,
        "captured_at": at,
        "received_at": at,
        "monitor": 0,
        "width": 1920,
        "height": 1080,
        "mime_type": "image/jpeg",
        "byte_size": 1000,
        "sha256": "0" * 64,
        "app_name": app,
        "window_title": "bench",
        "redacted_regions": 0,
        "agent_version": "bench",
        "storage_key": f"bench/{i}.jpg",
        # No image files: the rows say theirs are missing, so the server's start-up check
        # accepts an empty storage directory. Search never reads them.
        "file_missing_since": T0,
    }


_COLUMNS = list(capture_row(0, 0, "").keys())


def fill_sqlite(path: Path, n: int, device_id: int, vocab: list[str]) -> None:
    """Rows and text in batches of BATCH, the FTS5 index kept by the migration's triggers as the
    text worker's inserts keep it (merged as it grows, never optimized)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")  # filling only; the server runs with FULL
    insert = (
        f"INSERT INTO captures ({', '.join(_COLUMNS)}) "  # noqa: S608 (our own column names)
        f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
    )
    rows, texts = [], []
    for i, body, boxes, app in documents(n, vocab, 1):
        row = capture_row(i, device_id, app)
        key = search_key(row["captured_at"], i + 1)  # type: ignore[arg-type]
        for column in ("captured_at", "received_at", "file_missing_since"):
            row[column] = row[column].strftime("%Y-%m-%d %H:%M:%S.%f")  # type: ignore[attr-defined]
        rows.append(tuple(row.values()))
        texts.append((i + 1, body, boxes, row["captured_at"], key))
        if len(rows) == BATCH:
            _flush_sqlite(db, insert, rows, texts)
    _flush_sqlite(db, insert, rows, texts)
    db.execute("DELETE FROM text_queue")
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _flush_sqlite(db: sqlite3.Connection, insert: str, rows: list, texts: list) -> None:
    db.executemany(insert, rows)
    db.executemany(
        "INSERT INTO capture_text (capture_pk, text, boxes, extracted_at, sort_key) "
        "VALUES (?, ?, ?, ?, ?)",
        texts,
    )
    db.commit()
    rows.clear()
    texts.clear()


def sqlite_sizes(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        sizes = dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    except sqlite3.OperationalError:
        sizes = {}
    text_bytes, box_bytes = db.execute(
        "SELECT sum(length(text)), sum(length(boxes)) FROM capture_text"
    ).fetchone()
    db.close()
    index = sum(
        v for k, v in sizes.items() if k.startswith("capture_fts") or k.endswith("sort_key")
    )
    return {"text": text_bytes, "boxes": box_bytes, "index": index, "file": path.stat().st_size}


async def fill_postgres(url: str, n: int, device_id: int, vocab: list[str]) -> None:
    """COPY the rows and the text into a staging table, build the tsvectors in one INSERT
    ... SELECT, then build capture_text's indexes once (as CREATE INDEX after a restore would)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("SET maintenance_work_mem = '1GB'")
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'capture_text' "
            "AND indexname <> 'pk_capture_text'"
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        # The boxes are staged once per set, not once per row (5 KB each).
        await conn.execute("CREATE UNLOGGED TABLE bench_boxes (n int, boxes text)")
        await conn.copy_records_to_table("bench_boxes", records=enumerate(box_sets(1)))
        await conn.execute(
            "CREATE UNLOGGED TABLE bench_text (capture_pk bigint, text text, boxes int, "
            "extracted_at timestamptz, sort_key bigint)"
        )
        rows, texts = [], []
        for i, body, _, app in documents(n, vocab, 1):
            row = capture_row(i, device_id, app)
            rows.append(tuple(row.values()))
            key = search_key(row["captured_at"], i + 1)  # type: ignore[arg-type]
            texts.append((i + 1, body, i % 16, row["captured_at"], key))
            if len(rows) == BATCH:
                await _flush_pg(conn, rows, texts)
        await _flush_pg(conn, rows, texts)
        # The text is its own folded form (see vocabulary), as the worker hands to to_tsvector.
        await conn.execute(
            "INSERT INTO capture_text (capture_pk, text, boxes, extracted_at, sort_key, tsv) "
            "SELECT capture_pk, text, b.boxes, extracted_at, sort_key, "
            "to_tsvector('simple', text) FROM bench_text t JOIN bench_boxes b ON b.n = t.boxes"
        )
        await conn.execute("DROP TABLE bench_text, bench_boxes")
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("DELETE FROM text_queue")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def postgres_sizes(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        # Text and boxes measured on a 1 % sample: reading them all back is minutes at 1M.
        sample = await conn.fetchrow(
            "SELECT avg(length(text)) AS text, avg(length(boxes)) AS boxes "
            "FROM capture_text TABLESAMPLE SYSTEM (1) REPEATABLE (1)"
        )
        sizes = await conn.fetchrow(
            "SELECT count(*) AS rows, sum(pg_column_size(tsv)) AS tsv, "
            "pg_total_relation_size('capture_text') AS total FROM capture_text"
        )
        sizes = {
            **dict(sizes),
            "text": sample["text"] * sizes["rows"],
            "boxes": sample["boxes"] * sizes["rows"],
        }
        indexes = await conn.fetch(
            "SELECT indexname, pg_relation_size(quote_ident(indexname)) AS bytes "
            "FROM pg_indexes WHERE tablename = 'capture_text' AND indexname <> 'pk_capture_text'"
        )
        return {**dict(sizes), **{i["indexname"]: i["bytes"] for i in indexes}}
    finally:
        await conn.close()


async def _flush_pg(conn: object, rows: list, texts: list) -> None:
    await conn.copy_records_to_table("captures", records=rows, columns=_COLUMNS)  # type: ignore[attr-defined]
    await conn.copy_records_to_table("bench_text", records=texts)  # type: ignore[attr-defined]
    rows.clear()
    texts.clear()


def queries(vocab: list[str], rng: random.Random) -> dict[str, list[dict[str, str]]]:
    common, middle, rare = vocab[:50], vocab[200:2000], vocab[10_000:]
    since = (T0 + timedelta(days=3)).isoformat()
    until = (T0 + timedelta(days=4)).isoformat()
    return {
        "two common words": [
            {"q": f"{rng.choice(common)} {rng.choice(common)}"} for _ in range(QUERIES_PER_KIND)
        ],
        "rare word": [{"q": rng.choice(rare)} for _ in range(QUERIES_PER_KIND)],
        "phrase": [
            {"q": f'"{rng.choice(common)} {rng.choice(middle)}"'} for _ in range(QUERIES_PER_KIND)
        ],
        "prefix": [{"q": rng.choice(middle)[:4] + "*"} for _ in range(QUERIES_PER_KIND)],
        "short prefix": [
            {"q": rng.choice(middle)[: rng.choice((2, 3))] + "*"} for _ in range(QUERIES_PER_KIND)
        ],
        "word + app": [
            {"q": f"{rng.choice(middle)} app:{rng.choice(APPS).lower()}"}
            for _ in range(QUERIES_PER_KIND)
        ],
        "word + day": [
            {"q": rng.choice(middle), "since": since, "until": until}
            for _ in range(QUERIES_PER_KIND)
        ],
    }


Figures = dict[str, tuple[float, float]]  # kind -> (p50, p95) in ms


def measure(server: LiveServer, token: str, vocab: list[str]) -> Figures:
    figures: Figures = {}
    every: list[float] = []
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as client:
        client.get(SEARCH_PATH, params={"q": vocab[0]})  # warm-up
        for kind, params in queries(vocab, random.Random(7)).items():
            times = []
            for p in params:
                began = time.perf_counter()
                response = client.get(SEARCH_PATH, params=p)
                times.append((time.perf_counter() - began) * 1000)
                response.raise_for_status()
            every += times
            figures[kind] = (pct(times, 50), pct(times, 95))
    figures["all"] = (pct(every, 50), pct(every, 95))
    return figures


def hits_per_page(server: LiveServer, token: str, vocab: list[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as client:
        for kind, params in queries(vocab, random.Random(7)).items():
            hits = [len(client.get(SEARCH_PATH, params=p).json()["items"]) for p in params]
            found[kind] = sum(hits) / len(hits)
    return found


def report(server: LiveServer, token: str, vocab: list[str], repeats: int) -> None:
    """Median over `repeats` runs of each kind's p50 and p95 (the machine may be shared)."""
    if not repeats:
        return
    runs = []
    for _ in range(repeats):
        runs.append(measure(server, token, vocab))
        print(f"  run {len(runs)}: all p95 {runs[-1]['all'][1]:.1f} ms ({_load()})")
    hits = hits_per_page(server, token, vocab)
    for kind in runs[0]:
        p50 = statistics.median(r[kind][0] for r in runs)
        p95 = statistics.median(r[kind][1] for r in runs)
        verdict = "ok" if p95 <= GOAL_P95_MS else f"x{p95 / GOAL_P95_MS:.1f} over"
        shown = f"({hits[kind]:.1f} hits per page of 20)" if kind in hits else ""
        print(
            f"  {kind:<17} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
            f"[goal p95 <= {GOAL_P95_MS:.0f} ms: {verdict}]  {shown}"
        )


def pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def _load() -> str:
    with open("/proc/loadavg") as f:
        return f"load average {f.read().split()[0]} on {os.cpu_count()} cores"


def _cached(folder: Path) -> bool:
    return (folder / "filled").exists()


def run_sqlite(cache: Path, n: int, vocab: list[str], repeats: int) -> None:
    home = cache / f"sqlite-{n}"
    if not _cached(home):
        shutil.rmtree(home, ignore_errors=True)
    server = make_server(home, env={"JARVIS_TEXT_EXTRACTION": "false"})
    path = server.home / "server" / "jarvis.db"
    if not _cached(home):
        server.migrate()
        server.create_token("bench")  # the first device of a fresh database: id 1
        began = time.perf_counter()
        fill_sqlite(path, n, 1, vocab)
        print(f"SQLite: {n} captures filled in {time.perf_counter() - began:.0f} s")
        (home / "filled").touch()
    else:
        began = time.perf_counter()
        server.migrate()  # a cached database made before a new migration gets it
        print(f"SQLite: migrated to head in {time.perf_counter() - began:.1f} s")
    token = server.create_token("bench")  # replaces the bench device's token
    sizes = sqlite_sizes(path)
    print(
        f"SQLite, {n} captures, per capture: text {sizes['text'] / n:.0f} B, boxes "
        f"{sizes['boxes'] / n:.0f} B, FTS5 index and sort-key index {sizes['index'] / n:.0f} B"
        + ("" if sizes["index"] else " (dbstat not compiled in)")
        + f"; database file {sizes['file'] / n:.0f} B"
    )
    server.start()
    try:
        report(server, token, vocab, repeats)
    finally:
        server.stop()


def run_postgres(cache: Path, n: int, vocab: list[str], repeats: int) -> None:
    folder = cache / f"pg-{n}"
    if not _cached(folder):
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    cluster = start_cluster(folder / "cluster")
    try:
        if not _cached(folder):
            cluster.psql("CREATE DATABASE bench")
        url = cluster.url("bench")
        # make_server migrates (a cached database made before a new migration gets it).
        began = time.perf_counter()
        server = make_server(
            folder / "home", env={"JARVIS_TEXT_EXTRACTION": "false"}, database_url=url
        )
        if _cached(folder):
            print(f"PostgreSQL: migrated to head in {time.perf_counter() - began:.1f} s")
        if not _cached(folder):
            server.create_token("bench")  # the first device of a fresh database: id 1
            began = time.perf_counter()
            asyncio.run(fill_postgres(url, n, 1, vocab))
            print(f"PostgreSQL: {n} captures filled in {time.perf_counter() - began:.0f} s")
            (folder / "filled").touch()
        cluster.psql("VACUUM ANALYZE")
        token = server.create_token("bench")
        sizes = asyncio.run(postgres_sizes(url))
        indexes = ", ".join(f"{k} {v / n:.0f} B" for k, v in sizes.items() if k.startswith("ix_"))
        print(
            f"PostgreSQL, {n} captures, per capture: text {sizes['text'] / n:.0f} B, boxes "
            f"{sizes['boxes'] / n:.0f} B, tsvector {sizes['tsv'] / n:.0f} B, {indexes}; "
            f"capture_text in all {sizes['total'] / n:.0f} B"
        )
        server.start()
        try:
            report(server, token, vocab, repeats)
        finally:
            server.stop()
    finally:
        stop_cluster(cluster, remove=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3, help="runs to take the median of")
    parser.add_argument("--fill-only", action="store_true", help="fill the cache, time nothing")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "jarvis-search-bench",
        help="where filled databases are kept for the next run (delete it to refill)",
    )
    args = parser.parse_args()
    vocab = vocabulary(random.Random(3))
    print(f"before the run: {_load()}")
    args.cache.mkdir(parents=True, exist_ok=True)
    args.cache.chmod(0o755)  # the private cluster runs as `postgres` and must reach its folder
    if args.backend in ("sqlite", "both"):
        run_sqlite(args.cache, args.captures, vocab, 0 if args.fill_only else args.repeats)
    if args.backend in ("postgres", "both"):
        run_postgres(args.cache, args.captures, vocab, 0 if args.fill_only else args.repeats)


if __name__ == "__main__":
    main()
