"""The start-up reconciliation plan: marks and quarantines, never deletes, and refuses a storage
directory that looks unmounted or foreign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jarvis_server.storage_plan import (
    CRASH_WINDOW,
    ORPHAN_TOLERANCE,
    Refusal,
    Row,
    plan_reconciliation,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OLD = (NOW - CRASH_WINDOW - timedelta(minutes=1)).timestamp()
FRESH = (NOW - timedelta(minutes=5)).timestamp()


def _rows(n: int, missing: set[int] | None = None) -> list[Row]:
    marked = missing or set()
    return [Row(i, f"2026/11/01/{i}.jpg", NOW if i in marked else None) for i in range(n)]


def _files(keys: list[str], mtime: float = OLD) -> dict[str, float]:
    return dict.fromkeys(keys, mtime)


def test_an_empty_directory_under_a_full_database_is_refused() -> None:
    """Every listed file absent (an unmounted volume): refused, and the plan would not even
    have deleted anything — it only ever marks."""
    plan = plan_reconciliation(_rows(10), {}, frozenset(), NOW)
    assert plan.refusal is Refusal.FILES_GONE
    assert (plan.listed, plan.present) == (10, 0)
    assert len(plan.mark_missing) == 10


def test_more_than_half_missing_is_refused_half_is_not() -> None:
    """Far too few files (more than half absent) is refused; half absent is marked."""
    rows = _rows(4)
    three_gone = plan_reconciliation(rows, _files([rows[0].key]), frozenset(), NOW)
    assert three_gone.refusal is Refusal.FILES_GONE
    two_gone = plan_reconciliation(rows, _files([r.key for r in rows[:2]]), frozenset(), NOW)
    assert two_gone.refusal is None
    assert two_gone.mark_missing == (2, 3)


def test_a_few_lost_files_are_marked_missing() -> None:
    """One file gone among many: its row is marked missing, nothing else changes."""
    rows = _rows(5)
    plan = plan_reconciliation(rows, _files([r.key for r in rows if r.pk != 3]), frozenset(), NOW)
    assert plan.refusal is None
    assert plan.mark_missing == (3,)
    assert plan.quarantine == ()
    assert plan.found_again == ()


def test_rows_already_marked_do_not_count_against_the_directory() -> None:
    """Rows marked missing at an earlier start are not listed again: a directory that holds
    every other file starts, and a marked row whose file is back gets its mark cleared."""
    rows = _rows(4, missing={0, 1, 2})
    plan = plan_reconciliation(rows, _files([rows[3].key, rows[2].key]), frozenset(), NOW)
    assert plan.refusal is None
    assert (plan.listed, plan.present) == (1, 1)
    assert plan.found_again == (2,)
    assert plan.still_missing == 2


def test_old_orphans_are_quarantined_fresh_ones_left_alone() -> None:
    """A file no row lists is quarantined once older than the crash window; a younger one may
    be an upload whose row is about to commit, and is left alone."""
    rows = _rows(3)
    files = _files([r.key for r in rows]) | {"2026/11/02/old.jpg": OLD, "2026/11/02/new.jpg": FRESH}
    plan = plan_reconciliation(rows, files, frozenset(), NOW)
    assert plan.refusal is None
    assert plan.quarantine == ("2026/11/02/old.jpg",)
    assert plan.recent_orphans == ("2026/11/02/new.jpg",)


def test_a_directory_full_of_unknown_files_is_refused() -> None:
    """Many old files no row lists, more than the known ones (an empty or wrong database
    pointed at a full directory): refused rather than quarantining another server's files."""
    unknown = [f"2026/10/01/{i}.jpg" for i in range(ORPHAN_TOLERANCE + 1)]
    plan = plan_reconciliation([], _files(unknown), frozenset(), NOW)
    assert plan.refusal is Refusal.UNKNOWN_FILES
    few = plan_reconciliation([], _files(unknown[:ORPHAN_TOLERANCE]), frozenset(), NOW)
    assert few.refusal is None
    assert len(few.quarantine) == ORPHAN_TOLERANCE


def test_a_quarantined_file_a_row_lists_again_is_restored() -> None:
    """A file in quarantine whose row exists (a restored database) goes back into place; its
    row counts as present and, if it was marked, the mark is cleared."""
    rows = _rows(2, missing={1})
    plan = plan_reconciliation(rows, {}, frozenset({rows[0].key, rows[1].key}), NOW)
    assert plan.refusal is None
    assert plan.restore == (rows[0].key, rows[1].key)
    assert plan.mark_missing == ()
    assert plan.found_again == (1,)


def test_an_empty_database_and_an_empty_directory_start() -> None:
    """A first start: nothing listed, nothing found, nothing to do."""
    plan = plan_reconciliation([], {}, frozenset(), NOW)
    assert plan.refusal is None
    assert not plan.changes
