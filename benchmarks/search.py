"""Search latency (p50/p95 over HTTP) and index size per capture, at N captures.

Fills a migrated database with N captures of one device (15 s apart), each with ~300 words of
OCR-like text drawn from a Zipf-distributed vocabulary of 20,000 words and one box per word, as
the text worker stores them, then starts the real server on it and times GET /api/v1/search
with that device's token: two common words, a rare word, a phrase, a prefix, a word with an
app filter, and a common word with a time range. Prints p50/p95 per kind and overall beside the
goal (p95 <= 50 ms), and the bytes per capture of the text, the boxes and the index.

    uv run python benchmarks/search.py                        # 100k, SQLite and PostgreSQL
    uv run python benchmarks/search.py --captures 1000000 --backend sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
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
    return sorted(words, key=lambda w: rng.random())


def documents(n: int, vocab: list[str], seed: int) -> Iterator[tuple[int, str, str, str]]:
    rng = random.Random(seed)
    # Zipf: a few words are common, most are rare.
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocab))))
    boxes = [
        json.dumps(
            [[rng.randint(0, 1800), rng.randint(0, 1000), rng.randint(20, 120), 14]]
            * WORDS_PER_CAPTURE,
            separators=(",", ":"),
        )
        for _ in range(16)
    ]
    for i in range(n):
        words = rng.choices(vocab, cum_weights=cumulative, k=WORDS_PER_CAPTURE)
        lines = [" ".join(words[j : j + 12]) for j in range(0, len(words), 12)]
        yield i, "\n".join(lines), boxes[i % len(boxes)], APPS[i % len(APPS)]


def touch_files(storage: Path, n: int) -> None:
    """Empty stand-ins for the image files, so the server's start finds its storage whole."""
    folder = storage / "bench"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for i in range(n):
        os.close(os.open(folder / f"{i}.jpg", os.O_CREAT | os.O_WRONLY, 0o600))


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
    }


_COLUMNS = list(capture_row(0, 0, "").keys())


def fill_sqlite(path: Path, n: int, device_id: int, vocab: list[str]) -> None:
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
        row["captured_at"] = row["received_at"] = row["captured_at"].strftime(  # type: ignore[union-attr]
            "%Y-%m-%d %H:%M:%S.%f"
        )
        rows.append(tuple(row.values()))
        texts.append((i + 1, body, boxes, row["captured_at"], key))
        if len(rows) == BATCH:
            _flush_sqlite(db, insert, rows, texts)
    _flush_sqlite(db, insert, rows, texts)
    db.execute("DELETE FROM text_queue")
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


async def fill_postgres(url: str, n: int, device_id: int, vocab: list[str]) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows, texts = [], []
        for i, body, boxes, app in documents(n, vocab, 1):
            row = capture_row(i, device_id, app)
            rows.append(tuple(row.values()))
            key = search_key(row["captured_at"], i + 1)  # type: ignore[arg-type]
            texts.append((i + 1, body, boxes, row["captured_at"], key, " ".join(terms_of(body))))
            if len(rows) == BATCH:
                await _flush_pg(conn, rows, texts)
        await _flush_pg(conn, rows, texts)
        await conn.execute("DELETE FROM text_queue")
        await conn.execute("VACUUM ANALYZE")
        sizes = await conn.fetchrow(
            "SELECT sum(length(text)) AS text, sum(length(boxes)) AS boxes, "
            "pg_relation_size('ix_capture_text_tsv') AS gin, "
            "pg_relation_size('ix_capture_text_sort_key') AS btree, "
            "sum(pg_column_size(tsv)) AS tsv, "
            "pg_total_relation_size('capture_text') AS total FROM capture_text"
        )
        return dict(sizes)
    finally:
        await conn.close()


async def _flush_pg(conn: object, rows: list, texts: list) -> None:
    await conn.copy_records_to_table("captures", records=rows, columns=_COLUMNS)  # type: ignore[attr-defined]
    await conn.executemany(  # type: ignore[attr-defined]
        "INSERT INTO capture_text (capture_pk, text, boxes, extracted_at, sort_key, tsv) "
        "VALUES ($1, $2, $3, $4, $5, to_tsvector('simple', $6))",
        texts,
    )
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
        "word + app": [
            {"q": f"{rng.choice(middle)} app:{rng.choice(APPS).lower()}"}
            for _ in range(QUERIES_PER_KIND)
        ],
        "word + day": [
            {"q": rng.choice(middle), "since": since, "until": until}
            for _ in range(QUERIES_PER_KIND)
        ],
    }


def measure(server: LiveServer, token: str, vocab: list[str]) -> list[float]:
    every: list[float] = []
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as client:
        client.get(SEARCH_PATH, params={"q": vocab[0]})  # warm-up
        for kind, params in queries(vocab, random.Random(7)).items():
            times, hits = [], 0
            for p in params:
                began = time.perf_counter()
                response = client.get(SEARCH_PATH, params=p)
                times.append((time.perf_counter() - began) * 1000)
                response.raise_for_status()
                hits += len(response.json()["items"])
            every += times
            print(
                f"  {kind:<17} p50 {pct(times, 50):7.1f} ms  p95 {pct(times, 95):7.1f} ms  "
                f"({hits / len(params):.1f} hits per page of 20)"
            )
    print(
        f"  {'all':<17} p50 {pct(every, 50):7.1f} ms  p95 {pct(every, 95):7.1f} ms  "
        f"(goal p95 <= {GOAL_P95_MS:.0f} ms: x{pct(every, 95) / GOAL_P95_MS:.2f})"
    )
    return every


def pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def _device_id(server: LiveServer) -> tuple[str, int]:
    token = server.create_token("bench")
    listed = server.cli("token", "list").stdout
    # A fresh database: the bench device is the first one made.
    assert "bench" in listed, listed
    return token, 1


def run_sqlite(work: Path, n: int, vocab: list[str]) -> None:
    server = make_server(work / "sqlite", env={"JARVIS_TEXT_EXTRACTION": "false"})
    server.migrate()
    token, device_id = _device_id(server)
    path = server.home / "server" / "jarvis.db"
    began = time.perf_counter()
    fill_sqlite(path, n, device_id, vocab)
    touch_files(server.storage_dir, n)
    print(f"SQLite: {n} captures filled in {time.perf_counter() - began:.0f} s")
    sizes = sqlite_sizes(path)
    print(
        f"  per capture: text {sizes['text'] / n:.0f} B, boxes {sizes['boxes'] / n:.0f} B, "
        f"FTS5 index and sort-key index {sizes['index'] / n:.0f} B"
        + ("" if sizes["index"] else " (dbstat not compiled in)")
        + f"; database file {sizes['file'] / n:.0f} B"
    )
    server.start()
    try:
        measure(server, token, vocab)
    finally:
        server.stop()


def run_postgres(work: Path, n: int, vocab: list[str]) -> None:
    cluster = start_cluster()
    try:
        url = cluster.url(cluster.create_database())
        server = make_server(work / "pg", env={"JARVIS_TEXT_EXTRACTION": "false"}, database_url=url)
        token, device_id = _device_id(server)
        began = time.perf_counter()
        sizes = asyncio.run(fill_postgres(url, n, device_id, vocab))
        touch_files(server.storage_dir, n)
        print(f"PostgreSQL: {n} captures filled in {time.perf_counter() - began:.0f} s")
        print(
            f"  per capture: text {sizes['text'] / n:.0f} B, boxes {sizes['boxes'] / n:.0f} B, "
            f"tsvector {sizes['tsv'] / n:.0f} B, GIN index {sizes['gin'] / n:.0f} B, "
            f"sort-key btree {sizes['btree'] / n:.0f} B; "
            f"capture_text in all {sizes['total'] / n:.0f} B"
        )
        server.start()
        try:
            measure(server, token, vocab)
        finally:
            server.stop()
    finally:
        stop_cluster(cluster)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    vocab = vocabulary(random.Random(3))
    with open("/proc/loadavg") as f:
        print(f"load average before the run: {f.read().split()[0]} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="jarvis-search-bench-") as work:
        if args.backend in ("sqlite", "both"):
            run_sqlite(Path(work), args.captures, vocab)
        if args.backend in ("postgres", "both"):
            run_postgres(Path(work), args.captures, vocab)


if __name__ == "__main__":
    main()
