"""Run the Alembic migrations programmatically (``callcenter db upgrade`` and tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from hcrm_core.db_roles import seal_audit_log

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Processes started together migrate one at a time (PostgreSQL): the second finds the schema
# at head and the audit log sealed, instead of failing on "tuple concurrently updated".
_MIGRATE_LOCK = 0x4D494752  # "MIGR"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` from inside a running event loop."""
    engine = create_async_engine(url)
    config = alembic_config(url)

    def _run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATE_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        # Tables the migration created gave the serving role DML by default privileges:
        # take back its rights to change the audit log (PostgreSQL; hcrm_core/db_roles.py).
        seal_audit_log(connection)

    try:
        if engine.dialect.name == "sqlite":
            # The file is in WAL mode from its creation (a persistent setting). Else the
            # first burst of connections of the server's engines all switch it, and the
            # switch, which needs the file to itself, fails at once as "database is
            # locked" for the ones that lose (seen in CI).
            async with engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    asyncio.run(upgrade_async(url, revision))


async def current_revision(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
