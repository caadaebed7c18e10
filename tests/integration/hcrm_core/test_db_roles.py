"""PostgreSQL roles: the schema owner migrates, the serving role cannot rewrite the audit log.

Runs on the real PostgreSQL (``CALLCENTER_TEST_PG_URL``): a private database and two private
roles per test, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from callcenter.cli import cli
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.db_roles import apply_roles, role_script
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import AuditAction, Channel
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.audit import patient_audit_trail, record_audit
from tests.conftest import PG_ENV, require_or_skip
from tests.support.factories import make_hospital, make_patient

pytestmark = pytest.mark.postgres


@dataclass
class RolesDatabase:
    admin_url: str
    owner_url: str
    app_url: str
    owner: str
    app: str


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def roles_database() -> AsyncIterator[RolesDatabase]:
    base = os.environ.get(PG_ENV)
    if not base:
        require_or_skip(f"{PG_ENV} is not set")
    suffix = uuid.uuid4().hex[:10]
    name, owner, app = f"callcenter_roles_{suffix}", f"cc_owner_{suffix}", f"cc_app_{suffix}"
    server = await asyncpg.connect(_dsn(base))
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
        admin_url = make_url(base).set(database=name)
        yield RolesDatabase(
            admin_url=admin_url.render_as_string(False),
            owner_url=admin_url.set(username=owner).render_as_string(False),
            app_url=admin_url.set(username=app).render_as_string(False),
            owner=owner,
            app=app,
        )
    finally:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in (app, owner):
            await server.execute(f'DROP ROLE IF EXISTS "{role}"')
        await server.close()


async def _refused(database: Database, statement: str) -> str:
    with pytest.raises(DBAPIError) as failure:
        async with database.transaction() as session:
            await session.execute(text(statement))
    return str(failure.value.orig)


async def _assert_app_cannot_rewrite_audit(app_url: str, policy: BookingPolicy) -> None:
    app = Database(app_url)
    try:
        # It appends and reads audit rows ...
        await record_audit(app, Actor.system(), AuditAction.VIEW, "patient", 1, patient_id=1)
        assert [row.entity for row in await patient_audit_trail(app, 1)] == ["patient"]
        # ... and changes nothing in them, not even through the owner's powers.
        assert "permission denied" in await _refused(app, "UPDATE audit_log SET actor = 'x'")
        assert "permission denied" in await _refused(app, "DELETE FROM audit_log")
        assert "permission denied" in await _refused(app, "TRUNCATE audit_log")
        assert "must be owner" in await _refused(
            app, "DROP TRIGGER audit_log_no_update_delete ON audit_log"
        )
        assert "must be owner" in await _refused(app, "ALTER TABLE audit_log DISABLE TRIGGER ALL")
        assert "must be owner" in await _refused(app, "DROP TABLE audit_log")
        # The rest of the work goes on: a patient books an appointment.
        hospital = await make_hospital(app, policy, days=7)
        patient = await make_patient(app, policy, given_name="Rolf", family_name="Roles")
        slot = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=1))[0]
        booked = await AppointmentService(app, policy).book(
            BookingRequest(patient.id, slot.slot_id, channel=Channel.AGENT, actor=Actor.system())
        )
        assert booked.id > 0
    finally:
        await app.dispose()


async def test_roles_first_then_migrate_as_owner(
    roles_database: RolesDatabase, policy: BookingPolicy
) -> None:
    db = roles_database
    await apply_roles(db.admin_url, db.owner, db.app)
    await upgrade_async(db.owner_url)

    await _assert_app_cannot_rewrite_audit(db.app_url, policy)


async def test_an_existing_database_is_handed_to_the_owner(
    roles_database: RolesDatabase, policy: BookingPolicy
) -> None:
    db = roles_database
    # Migrated before the split, by the administrator: every table is the admin's.
    await upgrade_async(db.admin_url)
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["db", "roles", "--owner", db.owner, "--app", db.app, "--apply"],
        env={"CALLCENTER_DATABASE__URL": db.admin_url},
    )
    assert result.exit_code == 0, result.output
    # The owner can migrate from now on (a no-op at head), and the app is held as above.
    await upgrade_async(db.owner_url)
    await _assert_app_cannot_rewrite_audit(db.app_url, policy)


def test_roles_are_printed_by_default_and_names_checked() -> None:
    runner = CliRunner()
    printed = runner.invoke(cli, ["db", "roles", "--owner", "hcrm_owner", "--app", "hcrm_app"])
    assert printed.exit_code == 0, printed.output
    assert printed.output == role_script("hcrm_owner", "hcrm_app")
    assert 'GRANT SELECT, INSERT ON "public".audit_log TO "hcrm_app"' in printed.output
    bad = runner.invoke(cli, ["db", "roles", "--owner", "x; DROP", "--app", "hcrm_app"])
    assert bad.exit_code == 1
    assert "owner:" in bad.output
    same = runner.invoke(cli, ["db", "roles", "--owner", "hcrm", "--app", "hcrm"])
    assert same.exit_code == 1
    assert "app:" in same.output


async def test_processes_started_together_migrate_one_at_a_time(
    roles_database: RolesDatabase, policy: BookingPolicy
) -> None:
    # Several `callcenter serve` started at once each migrate and seal the audit log at start;
    # concurrent REVOKEs on one table failed with "tuple concurrently updated" (issue 18).
    db = roles_database
    await apply_roles(db.admin_url, db.owner, db.app)
    await upgrade_async(db.owner_url)  # an existing schema: only the seals race
    results = await asyncio.wait_for(
        asyncio.gather(*(upgrade_async(db.owner_url) for _ in range(6)), return_exceptions=True),
        60,
    )
    assert [r for r in results if r is not None] == []
    await _assert_app_cannot_rewrite_audit(db.app_url, policy)
