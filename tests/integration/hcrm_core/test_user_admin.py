"""Admins keep console users: create, edit, disable/enable, reset and change passwords.

On SQLite and PostgreSQL: every change is audited in its own transaction, bad input names the
field, and the console always keeps one active admin.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import DuplicateRecord, ValidationFailed
from hcrm_core.models import AuditAction, AuditEvent, Role, User
from hcrm_core.services import user_admin
from hcrm_core.services.passwords import temporary_password
from hcrm_core.services.user_admin import NewUser
from hcrm_core.services.users import (
    Taken,
    UserNotFound,
    change_password,
    create_user,
    set_extension,
    verify_credentials,
)

PASSWORD = "admin-password-long"


async def _admin(database: Database, username: str = "root") -> Actor:
    async with database.transaction() as session:
        admin = await create_user(session, username=username, password=PASSWORD, role=Role.ADMIN)
    return Actor.user(admin.id, admin.username, "10.0.0.9")


async def _audit(database: Database) -> list[AuditEvent]:
    async with database.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "user").order_by(AuditEvent.id)
        )
        return list(rows)


async def test_created_users_must_change_the_generated_or_typed_password(database):
    admin = await _admin(database)
    created = await user_admin.add_user(
        database,
        NewUser("Nurse.Li", Role.AGENT, display_name="  Li   Wei ", extension=" 1001 "),
        admin,
    )
    user, password = created.user, created.temporary_password
    assert password is not None and re.fullmatch(r"([a-z2-9]{4}-){3}[a-z2-9]{4}", password)
    assert (user.username, user.display_name, user.extension) == ("nurse.li", "Li Wei", "1001")
    assert user.must_change_password and user.active and password not in user.password_hash
    found = await verify_credentials(database, "nurse.li", password)
    assert found is not None and found.must_change_password

    typed = await user_admin.add_user(
        database, NewUser("sam", "supervisor", password="sam's own long pw"), admin
    )
    assert typed.temporary_password is None and typed.user.display_name == "sam"
    found = await verify_credentials(database, "sam", "sam's own long pw")
    assert found is not None and found.must_change_password and found.role is Role.SUPERVISOR

    rows = await _audit(database)
    assert [(r.action, r.actor, r.entity_id) for r in rows] == [
        (AuditAction.CREATE, "user:root", str(user.id)),
        (AuditAction.CREATE, "user:root", str(typed.user.id)),
    ]
    assert rows[0].detail == {
        "username": "nurse.li",
        "display_name": "Li Wei",
        "role": "agent",
        "extension": "1001",
        "password": "generated",
    }
    assert all(password not in str(r.detail) for r in rows)


BAD_NEW_USERS = [
    (NewUser("eve; drop", "agent"), "username", 422),
    (NewUser("", "agent"), "username", 422),
    (NewUser("x" * 65, "agent"), "username", 422),
    (NewUser("eve", "janitor"), "role", 422),
    (NewUser("eve", "agent", extension="10;01"), "extension", 422),
    (NewUser("eve", "agent", extension="1"), "extension", 422),
    (NewUser("eve", "agent", display_name="x" * 121), "display_name", 422),
    (NewUser("eve", "agent", password="too-short"), "password", 422),
    (NewUser("eve.long.name", "agent", password="EVE.LONG.NAME"), "password", 422),
    (NewUser("root", "agent"), "username", 409),
    (NewUser("eve", "agent", extension="1001"), "extension", 409),
]


async def test_bad_new_users_are_refused_naming_the_field_and_nothing_is_written(database):
    admin = await _admin(database)
    await user_admin.add_user(database, NewUser("holder", "agent", extension="1001"), admin)
    before = len(await _audit(database))
    for new, field, status in BAD_NEW_USERS:
        with pytest.raises(ValidationFailed) as refused:
            await user_admin.add_user(database, new, admin)
        assert (refused.value.field, refused.value.http_status) == (field, status), new
    assert len(await user_admin.list_users(database)) == 2
    assert len(await _audit(database)) == before


async def test_edit_changes_only_what_differs_and_audits_before_and_after(database):
    admin = await _admin(database)
    user = (await user_admin.add_user(database, NewUser("li", "agent"), admin)).user
    edited, changes = await user_admin.update_user(
        database, user.id, admin, display_name="Li Wei", role="supervisor", extension="1002"
    )
    assert changes == {
        "display_name": ["li", "Li Wei"],
        "role": [Role.AGENT, Role.SUPERVISOR],
        "extension": [None, "1002"],
    }
    assert (edited.display_name, edited.role, edited.extension) == (
        "Li Wei",
        Role.SUPERVISOR,
        "1002",
    )
    _same, none = await user_admin.update_user(database, user.id, admin, role="supervisor")
    assert none == {}
    cleared, _ = await user_admin.update_user(database, user.id, admin, extension=None)
    assert cleared.extension is None
    updates = [r.detail for r in await _audit(database) if r.action is AuditAction.UPDATE]
    assert updates == [
        {
            "display_name": ["li", "Li Wei"],
            "role": ["agent", "supervisor"],
            "extension": [None, "1002"],
        },
        {"extension": ["1002", None]},
    ]
    with pytest.raises(UserNotFound):
        await user_admin.update_user(database, 9999, admin, role="agent")
    with pytest.raises(ValidationFailed) as bad:
        await user_admin.update_user(database, user.id, admin, display_name="ok", role="boss")
    assert bad.value.field == "role"
    assert (await user_admin.get_user(database, user.id)).display_name == "Li Wei"


async def test_an_extension_is_held_by_one_active_user(database):
    admin = await _admin(database)
    li = (await user_admin.add_user(database, NewUser("li", "agent", extension="1001"), admin)).user
    wu = (await user_admin.add_user(database, NewUser("wu", "agent"), admin)).user
    with pytest.raises(Taken) as taken:
        await user_admin.update_user(database, wu.id, admin, extension="1001")
    assert (taken.value.field, taken.value.http_status) == ("extension", 409)
    assert isinstance(taken.value, DuplicateRecord) and "li" in taken.value.message
    # Disabled, li keeps 1001 but no longer holds it: wu may have it; li cannot come back on it.
    await user_admin.disable_user(database, li.id, admin)
    await user_admin.update_user(database, wu.id, admin, extension="1001")
    with pytest.raises(Taken) as back:
        await user_admin.enable_user(database, li.id, admin)
    assert back.value.field == "extension"
    await set_extension(database, li.id, "1003", admin)
    assert (await user_admin.enable_user(database, li.id, admin)).active

    # The database says so too (a partial unique index), whatever a caller forgets to check.
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            row = await session.get(User, li.id)
            assert row is not None
            row.extension = "1001"


async def test_disable_enable_and_the_rules_that_keep_an_admin(database):
    root = await _admin(database)
    with pytest.raises(ValidationFailed) as itself:
        await user_admin.disable_user(database, root.user_id, root)
    assert itself.value.field == "active"
    other = await _admin(database, "other")
    assert not (await user_admin.disable_user(database, other.user_id, root)).active
    with pytest.raises(ValidationFailed) as last:
        await user_admin.disable_user(database, root.user_id, other)
    assert last.value.field == "active"
    assert "last active admin" in last.value.message
    with pytest.raises(ValidationFailed) as demote:
        await user_admin.update_user(database, root.user_id, other, role="agent")
    assert demote.value.field == "role"
    assert (await user_admin.enable_user(database, other.user_id, root)).active
    demoted, _ = await user_admin.update_user(database, other.user_id, root, role="agent")
    assert demoted.role is Role.AGENT

    agent = (
        await user_admin.add_user(
            database, NewUser("li", "agent", password="li-own-password"), root
        )
    ).user
    assert not (await user_admin.disable_user(database, agent.id, root)).active
    assert (await user_admin.disable_user(database, agent.id, root)).active is False  # no-op
    assert await verify_credentials(database, "li", "li-own-password") is None
    assert (await user_admin.enable_user(database, agent.id, root)).active
    assert await verify_credentials(database, "li", "li-own-password") is not None
    actives = [(r.entity_id, r.detail) for r in await _audit(database) if "active" in r.detail]
    assert actives == [
        (str(other.user_id), {"active": False}),
        (str(other.user_id), {"active": True}),
        (str(agent.id), {"active": False}),
        (str(agent.id), {"active": True}),
    ]


async def test_reset_then_change_password(database):
    admin = await _admin(database)
    user = (
        await user_admin.add_user(
            database, NewUser("li", "agent", password="li-own-password"), admin
        )
    ).user
    me = Actor.user(user.id, "li")
    await change_password(database, user.id, "li-own-password", "li-better-password", me)
    changed = await user_admin.get_user(database, user.id)
    assert not changed.must_change_password and changed.password_changed_at is not None

    _user, temporary = await user_admin.reset_password(database, user.id, admin)
    assert await verify_credentials(database, "li", "li-better-password") is None
    found = await verify_credentials(database, "li", temporary)
    assert found is not None and found.must_change_password

    for current, new, field in (
        ("wrong-password!!", "li-new-password-1", "current_password"),
        (temporary, "short", "new_password"),
        (temporary, "LI", "new_password"),
        (temporary, "  Li  ", "new_password"),
        (temporary, temporary, "new_password"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            await change_password(database, user.id, current, new, me)
        assert refused.value.field == field, (current, new)
    assert (await verify_credentials(database, "li", temporary)) is not None
    await change_password(database, user.id, temporary, "li-new-password-1", me)
    found = await verify_credentials(database, "li", "li-new-password-1")
    assert found is not None and not found.must_change_password
    details = [(r.actor, r.detail) for r in await _audit(database) if "change" in r.detail]
    assert details == [
        ("user:li", {"change": "password"}),
        ("user:root", {"change": "reset_password"}),
        ("user:li", {"change": "password"}),
    ]
    assert all(temporary not in str(d) for _a, d in details)


async def test_change_password_refuses_when_reset_while_hashing(database, monkeypatch):
    admin = await _admin(database)
    user = (
        await user_admin.add_user(
            database, NewUser("li", "agent", password="li-own-password"), admin
        )
    ).user
    from hcrm_core.services import users as users_service

    real = users_service.hash_off_loop

    async def reset_meanwhile(password: str) -> str:
        await user_admin.reset_password(database, user.id, admin)
        return await real(password)

    monkeypatch.setattr(users_service, "hash_off_loop", reset_meanwhile)
    with pytest.raises(ValidationFailed) as refused:
        await change_password(
            database, user.id, "li-own-password", "li-new-password-1", Actor.user(user.id, "li")
        )
    assert refused.value.field == "current_password"
    assert await verify_credentials(database, "li", "li-new-password-1") is None


def test_temporary_passwords_differ_and_pass_the_strength_rule():
    seen = {temporary_password() for _ in range(200)}
    assert len(seen) == 200
    assert all(len(p) == 19 and not set(p) & set("01ilo") for p in seen)


async def test_argon2_runs_with_no_connection_held(database, monkeypatch):
    """Creating, resetting and changing passwords hash before any transaction opens."""
    from hcrm_core.services import users as users_service
    from hcrm_core.services.passwords import hash_off_loop, matches_off_loop

    held: list[int] = []

    def checked_out() -> int:
        pools = {database.write_engine.pool, database.read_engine.pool}
        return sum(pool.checkedout() for pool in pools)  # type: ignore[attr-defined]

    async def hashing(password: str) -> str:
        held.append(checked_out())
        return await hash_off_loop(password)

    async def matching(password_hash: str, password: str) -> bool:
        held.append(checked_out())
        return await matches_off_loop(password_hash, password)

    monkeypatch.setattr(user_admin, "hash_off_loop", hashing)
    monkeypatch.setattr(users_service, "hash_off_loop", hashing)
    monkeypatch.setattr(users_service, "matches_off_loop", matching)
    admin = await _admin(database)
    user = (await user_admin.add_user(database, NewUser("li", "agent"), admin)).user
    _user, temporary = await user_admin.reset_password(database, user.id, admin)
    await change_password(
        database, user.id, temporary, "li-own-password", Actor.user(user.id, "li")
    )
    assert held == [0, 0, 0, 0]
