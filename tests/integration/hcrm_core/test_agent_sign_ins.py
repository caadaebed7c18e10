"""Stored desk sign-ins (what a restarted server puts back into the queues), on both engines."""

from __future__ import annotations

from hcrm_core.models import Role
from hcrm_core.services.agent_sign_ins import AgentSignIns, SignedIn
from hcrm_core.services.users import create_user


async def _users(database, *names: str) -> dict[str, int]:
    ids = {}
    async with database.transaction() as session:
        for name in names:
            user = await create_user(
                session, username=name, password="correct-horse-battery", role=Role.AGENT
            )
            ids[name] = user.id
    return ids


def _signed_in(user_id: int, username: str, extension: str, **kw) -> SignedIn:
    return SignedIn(
        user_id=user_id,
        username=username,
        extension=extension,
        interface=f"PJSIP/{extension}",
        queues=("appointments", "enquiries"),
        **kw,
    )


async def test_sign_ins_are_saved_paused_moved_and_removed(database):
    ids = await _users(database, "alice", "bob")
    store = AgentSignIns(database)
    assert await store.all() == []
    await store.save(_signed_in(ids["alice"], "alice", "1001"))
    await store.save(_signed_in(ids["bob"], "bob", "1002", session_bound=False))
    await store.set_pause(ids["alice"], True, "lunch")
    stored = {s.username: s for s in await store.all()}
    assert stored["alice"] == _signed_in(
        ids["alice"], "alice", "1001", paused=True, pause_reason="lunch"
    )
    assert stored["bob"].session_bound is False and stored["bob"].paused is False
    # Signing in again (another phone) replaces the agent's row; taking bob's phone ends his.
    await store.save(_signed_in(ids["alice"], "alice", "1002"))
    assert [(s.username, s.extension, s.paused) for s in await store.all()] == [
        ("alice", "1002", False)
    ]
    await store.set_pause(ids["bob"], True, "break")  # not signed in: nothing to change
    await store.remove(ids["alice"])
    await store.remove(ids["alice"])  # twice is fine: the goal is reached
    assert await store.all() == []
