"""The database engine and sessions. Built by the app factory, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

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


def create_engine(url: URL) -> AsyncEngine:
    """An async engine with pre-ping, tuned per backend."""
    if is_sqlite(url):
        engine = create_async_engine(
            url, pool_pre_ping=True, connect_args={"timeout": 30}, pool_size=8, max_overflow=8
        )
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


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
