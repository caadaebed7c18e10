"""Migrations build the schema the models describe, and the audit log stays append-only."""

from __future__ import annotations

import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from hcrm_core.actors import Actor
from hcrm_core.migrate import current_revision, head_revision
from hcrm_core.models import AuditAction, AuditEvent, Base
from hcrm_core.services.audit import patient_audit_trail, record_audit


async def test_migrated_database_is_at_head_and_matches_the_models(database):
    assert await current_revision(database.url) == head_revision()
    async with database.write_engine.connect() as connection:
        diffs = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diffs == []


async def test_upgrade_from_empty_to_head(tmp_path):
    from hcrm_core.migrate import upgrade_async

    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
    assert await current_revision(url) is None
    await upgrade_async(url)
    assert await current_revision(url) == head_revision()
    await upgrade_async(url)  # a second run is a no-op
    assert await current_revision(url) == head_revision()
    # In WAL mode from the start: the server's first burst of connections has nothing to
    # switch (switching raced into "database is locked" in CI).
    with sqlite3.connect(tmp_path / "empty.sqlite3") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_audit_rows_cannot_be_changed_or_deleted(database):
    await record_audit(
        database,
        Actor.user(7, "alice", "10.0.0.5"),
        AuditAction.VIEW,
        "patient",
        42,
        patient_id=42,
        detail={"page": "card"},
    )
    for statement in (
        update(AuditEvent).values(actor="mallory"),
        delete(AuditEvent),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.transaction() as session:
                await session.execute(statement)
    if database.dialect == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.transaction() as session:
                await session.execute(text("TRUNCATE audit_log"))
    trail = await patient_audit_trail(database, 42)
    assert [(a.actor, a.action, a.source, a.detail) for a in trail] == [
        ("user:alice", AuditAction.VIEW, "10.0.0.5", {"page": "card"})
    ]
    async with database.session() as session:
        assert (await session.scalars(select(AuditEvent.actor_user_id))).all() == [7]
