"""What start-up reconciliation does, decided without I/O from the rows, the files and a clock.

Nothing is ever deleted here. A row whose file is gone is marked missing (the file may be on a
volume that is not mounted, and comes back); a file no row lists is moved to quarantine once it
is older than the crash window (younger, it may be another replica's upload between placing its
file and committing its row). And when the storage directory looks wrong as a whole — most of the
files the database lists are absent, or it is full of files the database does not know — the
plan refuses: marking every row missing, or quarantining a whole other server's files, would turn
an unmounted volume or a wrong setting into damage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Final

# Longer than any upload takes between placing its file and committing its row.
CRASH_WINDOW: Final = timedelta(hours=1)
# A crash leaves at most a few in-flight uploads without a row; this many unknown files, and
# more than the known ones, means the directory belongs to another database.
ORPHAN_TOLERANCE: Final = 100


@dataclass(frozen=True, slots=True)
class Row:
    """A capture row as reconciliation sees it."""

    pk: int
    key: str
    missing_since: datetime | None


class Refusal(Enum):
    """Why the storage directory is not trusted as it stands."""

    FILES_GONE = "files-gone"  # more than half the files the database lists are absent
    UNKNOWN_FILES = "unknown-files"  # many old files no row lists, more than known ones


@dataclass(frozen=True, slots=True)
class Plan:
    """The counts that judge the directory, and what to change if it is trusted."""

    listed: int  # rows not already marked missing
    present: int  # of those, whose file is in place (or comes back from quarantine)
    mark_missing: tuple[int, ...]  # row pks whose file is gone: marked, not deleted
    found_again: tuple[int, ...]  # row pks marked missing whose file is back: mark cleared
    still_missing: int  # rows marked missing before whose file is still gone
    restore: tuple[str, ...]  # quarantined files a row lists: moved back into place
    quarantine: tuple[str, ...]  # files no row lists, older than the crash window
    recent_orphans: tuple[str, ...]  # files no row lists, inside the crash window: left alone
    refusal: Refusal | None

    @property
    def changes(self) -> bool:
        return bool(self.mark_missing or self.found_again or self.restore or self.quarantine)


def plan_reconciliation(
    rows: Sequence[Row],
    files: Mapping[str, float],
    quarantined: frozenset[str],
    now: datetime,
    crash_window: timedelta = CRASH_WINDOW,
) -> Plan:
    """Judge the storage directory against the rows. `files` maps each key to its mtime (POSIX
    seconds), `quarantined` holds the keys in the quarantine folder."""
    mark: list[int] = []
    found: list[int] = []
    restore: list[str] = []
    listed = present = still_missing = 0
    keys: set[str] = set()
    for row in rows:
        keys.add(row.key)
        in_place = row.key in files
        if not in_place and row.key in quarantined:
            restore.append(row.key)
            in_place = True
        if row.missing_since is None:
            listed += 1
            if in_place:
                present += 1
            else:
                mark.append(row.pk)
        elif in_place:
            found.append(row.pk)
        else:
            still_missing += 1
    cutoff = (now - crash_window).timestamp()
    old: list[str] = []
    recent: list[str] = []
    for key in sorted(files.keys() - keys):
        (old if files[key] < cutoff else recent).append(key)

    refusal: Refusal | None = None
    if listed and (listed - present) * 2 > listed:
        refusal = Refusal.FILES_GONE
    elif len(old) > max(ORPHAN_TOLERANCE, present + len(found)):
        refusal = Refusal.UNKNOWN_FILES
    return Plan(
        listed=listed,
        present=present,
        mark_missing=tuple(mark),
        found_again=tuple(found),
        still_missing=still_missing,
        restore=tuple(restore),
        quarantine=tuple(old),
        recent_orphans=tuple(recent),
        refusal=refusal,
    )
