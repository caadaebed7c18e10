"""The demo's console users: made once with random passwords kept in a 0600 file."""

from __future__ import annotations

import stat

from sqlalchemy import select

from callcenter.demo.run import LOGINS_FILE, ensure_demo_users
from hcrm_core.db import Database
from hcrm_core.models import Role, User
from hcrm_core.services.users import verify_credentials


async def test_demo_users_are_created_once_and_their_logins_work(database: Database, tmp_path):
    logins = await ensure_demo_users(database, tmp_path)
    assert [x.username for x in logins] == [f"agent{n}" for n in range(1, 7)] + ["supervisor"]
    path = tmp_path / LOGINS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len({x.password for x in logins}) == len(logins)

    again = await ensure_demo_users(database, tmp_path)
    assert again == logins  # the same users and passwords, nothing made twice
    agent1 = await verify_credentials(database, "agent1", logins[0].password)
    assert agent1 is not None and agent1.role is Role.AGENT
    async with database.transaction() as session:
        assert (await session.get(User, agent1.id)).extension == "1001"
        count = len(list(await session.scalars(select(User))))
    assert count == 7
