"""``Database.warm_up``: the read pool's connections opened ahead of a burst, and kept."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select

from hcrm_core.db import SQLITE_KEPT_CONNECTIONS, Database
from hcrm_core.errors import StorageUnavailable


def _idle(database: Database) -> int:
    return int(database.read_engine.pool.checkedin())  # type: ignore[attr-defined]


async def test_warm_up_opens_the_kept_connections(database: Database) -> None:
    kept = database.read_engine.pool.size()  # type: ignore[attr-defined]
    if database.dialect == "sqlite":
        assert kept == SQLITE_KEPT_CONNECTIONS
    await database.warm_up()
    assert _idle(database) == kept
    await database.warm_up(3)  # already open: nothing more
    assert _idle(database) == kept


async def test_a_burst_of_reads_after_warm_up_opens_no_connection(database: Database) -> None:
    await database.warm_up()
    opened: list[object] = []

    def count(*_args: object) -> None:
        opened.append(1)

    event.listen(database.read_engine.sync_engine, "connect", count)
    kept = database.read_engine.pool.size()  # type: ignore[attr-defined]

    async def read() -> int | None:
        async with database.session() as session:
            return await session.scalar(select(1))

    assert await asyncio.gather(*(read() for _ in range(kept))) == [1] * kept
    assert opened == []


async def test_warm_up_of_an_unopenable_database_is_a_clear_error(tmp_path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.sqlite3'}")
    try:
        with pytest.raises(StorageUnavailable):
            await database.warm_up()
    finally:
        await database.dispose()
