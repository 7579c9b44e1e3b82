"""The database engine and sessions. Built by the app factory, never at import."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from jarvis_server.errors import JarvisServerError

# Plain scheme names people write, mapped to the async drivers the server runs on.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class DatabaseURLError(JarvisServerError, ValueError):
    """The database URL is not one the server can use."""


def parse_database_url(raw: str) -> URL:
    """Parse and normalise a database URL to its async driver, or say what is wrong with it."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise DatabaseURLError(
            "not a database URL; use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
        ) from exc
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        raise DatabaseURLError(
            f"unsupported database {url.drivername!r}; use sqlite:///PATH or postgresql://..."
        )
    url = url.set(drivername=driver)
    if driver.startswith("sqlite") and url.database in (None, "", ":memory:"):
        raise DatabaseURLError("SQLite needs a file path (an in-memory database loses captures)")
    return url


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_path(url: URL) -> Path | None:
    return Path(url.database) if is_sqlite(url) and url.database else None


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while one upload commits; synchronous=FULL keeps every acknowledged
    # capture on disk across a power cut, which NORMAL does not promise in WAL mode.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# A PostgreSQL connection back from use less than this long ago is handed out unchecked.
IDLE_BEFORE_PING: Final = 2.0
_IDLE_SINCE: Final = "jarvis_idle_since"


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """pool_pre_ping, but only for a connection that sat in the pool for IDLE_BEFORE_PING.

    asyncpg's ping is three round trips (BEGIN, an empty query, ROLLBACK); on every checkout that
    was about a third of the statements of an upload. A connection in steady use needs no such
    check: if the database restarted meanwhile, its first statement fails as a disconnect, which
    invalidates the whole pool (the request gets a 503 with Retry-After, as it would have had it
    been mid-statement) and every later checkout gets a fresh connection. A connection that sat
    idle, where a restart or a dropped idle connection goes unnoticed, is still pinged first.
    """
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    def checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)  # none yet: a fresh connection
        if since is None or time.monotonic() - since < IDLE_BEFORE_PING:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            # As pool_pre_ping does: this connection and every older one are replaced.
            raise InvalidatePoolError("the database closed an idle connection")

    event.listen(pool, "checkin", checkin)
    event.listen(pool, "checkout", checkout)


def create_engine(url: URL) -> AsyncEngine:
    """An async engine whose connections are checked before use, tuned per backend."""
    if is_sqlite(url):
        engine = create_async_engine(
            url, pool_pre_ping=True, connect_args={"timeout": 30}, pool_size=8, max_overflow=8
        )
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    engine = create_async_engine(url, pool_size=10, max_overflow=10)
    _ping_idle_connections(engine)
    return engine


def create_writer_engine(url: URL) -> Engine | None:
    """SQLite only: the synchronous engine the capture writer uses from its worker thread.

    One connection, used by one thread at a time (the writer's limiter), with the same pragmas
    as every other connection. None for PostgreSQL, whose async driver needs no thread.
    """
    if not is_sqlite(url):
        return None
    engine = sa_create_engine(
        url.set(drivername="sqlite"),
        pool_pre_ping=True,
        pool_size=1,
        max_overflow=0,
        # Only the writer's worker threads use it, never two at once.
        connect_args={"timeout": 30, "check_same_thread": False},
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
