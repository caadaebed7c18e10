"""Shared fixtures: databases on SQLite and PostgreSQL, migrated once per run and cloned per test.

PostgreSQL tests use ``CALLCENTER_TEST_PG_URL`` (postgresql+asyncpg://...). Without it they
skip, unless ``CALLCENTER_TEST_REQUIRE_ALL=1`` (set by .ci/run), which turns that skip into a
failure: CI never passes with the PostgreSQL half missing.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.policy import BookingPolicy

pytest_plugins = ["tests.support.asterisk_sandbox", "tests.support.caller"]

PG_ENV = "CALLCENTER_TEST_PG_URL"
REQUIRE_ALL_ENV = "CALLCENTER_TEST_REQUIRE_ALL"
# Per test session: concurrent sessions on one server must not drop each other's template.
TEMPLATE_DB = f"callcenter_test_template_{os.getpid()}"


def require_or_skip(reason: str) -> NoReturn:
    """Skip a test whose external part is missing; fail instead when CI requires everything."""
    if os.environ.get(REQUIRE_ALL_ENV) == "1":
        pytest.fail(f"required test part missing: {reason}")
    pytest.skip(reason)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the sandbox carries the ``asterisk`` mark (runs before ``-m``).

    ``scripts/test.sh`` runs the marked tests in a pytest process of their own, beside the rest.
    """
    for item in items:
        uses_sandbox = "asterisk_sandbox" in getattr(item, "fixturenames", ())
        if uses_sandbox and item.get_closest_marker("asterisk") is None:
            item.add_marker(pytest.mark.asterisk)


@pytest.fixture(scope="session")
def policy() -> BookingPolicy:
    return BookingPolicy(
        timezone=ZoneInfo("America/New_York"),
        phone_region="US",
        horizon_days=90,
        cancel_cutoff_hours=24,
    )


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    await upgrade_async(f"sqlite+aiosqlite:///{path}")
    return path


def _pg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def pg_template() -> AsyncIterator[str | None]:
    """The server URL once a migrated template database exists there; None without PG."""
    url = os.environ.get(PG_ENV)
    if not url:
        yield None
        return
    admin = await asyncpg.connect(_pg_dsn(url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        template_url = make_url(url).set(database=TEMPLATE_DB).render_as_string(False)
        await upgrade_async(template_url)
        yield url
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
    finally:
        await admin.close()


async def _clone_pg(url: str) -> tuple[str, str]:
    name = f"callcenter_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_pg_dsn(url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    finally:
        await admin.close()
    return name, make_url(url).set(database=name).render_as_string(False)


async def _drop_pg(url: str, name: str) -> None:
    admin = await asyncpg.connect(_pg_dsn(url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_template: str | None,
) -> AsyncIterator[Database]:
    """A migrated, empty database of each engine, private to the test."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(sqlite_template, path)
        db = Database(f"sqlite+aiosqlite:///{path}")
        yield db
        await db.dispose()
        return
    if pg_template is None:
        require_or_skip(f"{PG_ENV} is not set")
    base_url = pg_template
    name, url = await _clone_pg(base_url)
    db = Database(url, pool_size=30)
    try:
        yield db
    finally:
        await db.dispose()
        await _drop_pg(base_url, name)
