from __future__ import annotations

import pytest

from hcrm_core.errors import DuplicateRecord, ValidationFailed
from hcrm_core.models import Role, User
from hcrm_core.services import users as users_service
from hcrm_core.services.users import active_roles, create_user, verify_credentials


async def test_create_and_verify(database):
    async with database.transaction() as session:
        user = await create_user(
            session,
            username="Alice",
            password="correct horse battery",
            role=Role.AGENT,
            extension="1001",
        )
    assert user.username == "alice"
    assert "correct horse" not in user.password_hash and user.password_hash.startswith("$argon2")
    found = await verify_credentials(database, "ALICE", "correct horse battery")
    assert found is not None and (found.id, found.role) == (user.id, Role.AGENT)
    assert await verify_credentials(database, "alice", "wrong password!!") is None
    assert await verify_credentials(database, "nobody", "correct horse battery") is None
    assert await active_roles(database, [user.id, 999]) == {user.id: Role.AGENT}
    async with database.transaction() as session:
        (await session.get(User, user.id)).active = False
    assert await verify_credentials(database, "alice", "correct horse battery") is None
    assert await active_roles(database, [user.id]) == {}


async def test_verifying_a_password_holds_no_transaction_while_hashing(database, monkeypatch):
    async with database.transaction() as session:
        await create_user(
            session, username="dora", password="correct horse battery", role=Role.AGENT
        )
    seen: list[bool] = []
    real = users_service._matches

    def matches(password_hash: str, password: str) -> bool:
        # A write transaction from another thread would wait on one held by the login.
        seen.append(database.write_engine.pool.checkedout() == 0)  # type: ignore[attr-defined]
        seen.append(database.read_engine.pool.checkedout() == 0)  # type: ignore[attr-defined]
        return real(password_hash, password)

    monkeypatch.setattr(users_service, "_matches", matches)
    assert await verify_credentials(database, "dora", "correct horse battery") is not None
    assert await verify_credentials(database, "dora", "wrong password!!") is None
    assert seen and all(seen)


async def test_bad_users_are_refused(database):
    async with database.transaction() as session:
        await create_user(session, username="bob", password="long enough pw", role=Role.ADMIN)
    with pytest.raises(DuplicateRecord, match="bob"):
        async with database.transaction() as session:
            await create_user(session, username="BOB", password="long enough pw", role=Role.AGENT)
    with pytest.raises(ValidationFailed, match="password"):
        async with database.transaction() as session:
            await create_user(session, username="carol", password="short", role=Role.AGENT)
    with pytest.raises(ValidationFailed, match="username"):
        async with database.transaction() as session:
            await create_user(
                session, username="eve; drop", password="long enough pw", role=Role.AGENT
            )
