"""Applying and checking Alembic migrations programmatically."""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING, Final

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration. Kept as a constant so a start-up or a `token` command can check the
# schema without loading Alembic; a test keeps it equal to Alembic's head.
SCHEMA_REVISION: Final = "0009_prefixes"


def alembic_config(url: URL) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("jarvis_server") / "migrations"))
    # Passed as an attribute, not a main option: ConfigParser would choke on '%' in passwords.
    config.attributes["database_url"] = url.render_as_string(hide_password=False)
    return config


def upgrade(url: URL) -> None:
    """Apply every migration up to head. Runs its own event loop: call it from sync code."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def head_revision(url: URL) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _current(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


async def current_revision(connection: AsyncConnection) -> str | None:
    """The schema revision the database is at; None for an empty database."""
    return await connection.run_sync(_current)
