from __future__ import annotations

import pytest

from hcrm_core.errors import DuplicateRecord, ValidationFailed
from hcrm_core.models import Role
from hcrm_core.services.users import create_user, verify_credentials


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
    async with database.transaction() as session:
        assert (await verify_credentials(session, "ALICE", "correct horse battery")).id == user.id
        assert await verify_credentials(session, "alice", "wrong password!!") is None
        assert await verify_credentials(session, "nobody", "correct horse battery") is None


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
