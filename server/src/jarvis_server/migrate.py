"""Applying and checking Alembic migrations programmatically."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection


def alembic_config(url: URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("jarvis_server") / "migrations"))
    # Passed as an attribute, not a main option: ConfigParser would choke on '%' in passwords.
    config.attributes["database_url"] = url.render_as_string(hide_password=False)
    return config


def upgrade(url: URL) -> None:
    """Apply every migration up to head. Runs its own event loop: call it from sync code."""
    command.upgrade(alembic_config(url), "head")


def head_revision(url: URL) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


async def current_revision(connection: AsyncConnection) -> str | None:
    def _current(sync_connection: object) -> str | None:
        context = MigrationContext.configure(sync_connection)  # type: ignore[arg-type]
        return context.get_current_revision()

    return await connection.run_sync(_current)
