"""Which desk sign-ins end with console sessions (the stored sessions and a stand-in desk)."""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.agents.state import AgentStatus
from hcrm_core.db import Database
from hcrm_core.errors import StorageUnavailable
from hcrm_core.models import Role
from hcrm_core.services.users import create_user
from web_console.desk_sessions import DeskSessionGuard
from web_console.sessions import SessionStore

IDLE = 600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Desk:
    """Signed-in agents as AgentService keeps them; sign-out can be made to fail."""

    by_user: dict[str, AgentStatus] = field(default_factory=dict)
    fail: bool = False

    def add(self, user_id: int, username: str, *, session_bound: bool = True) -> None:
        self.by_user[username] = AgentStatus(
            user_id, username, "1001", "PJSIP/1001", session_bound=session_bound
        )

    def agents(self) -> list[AgentStatus]:
        return list(self.by_user.values())

    def status(self, username: str) -> AgentStatus | None:
        return self.by_user.get(username)

    async def sign_out(self, username: str) -> None:
        if self.fail:
            raise StorageUnavailable("database away")
        del self.by_user[username]


async def _guard(database: Database) -> tuple[SessionStore, Desk, Clock, DeskSessionGuard]:
    async with database.transaction() as session:
        for name in ("alice", "bob"):  # ids 1 and 2
            await create_user(session, username=name, password="p" * 12, role=Role.AGENT)
    clock, desk = Clock(), Desk()
    store = SessionStore(database, IDLE, clock)
    return store, desk, clock, DeskSessionGuard(store, desk, grace=IDLE, clock=clock)  # type: ignore[arg-type]


async def test_logout_of_the_last_session_signs_out_other_browsers_keep_the_desk(
    database: Database,
):
    store, desk, _clock, guard = await _guard(database)
    first = await store.create(1, "alice", Role.AGENT)
    second = await store.create(1, "alice", Role.AGENT)
    desk.add(1, "alice")
    await store.delete(first.id)
    await guard.check()
    assert desk.status("alice") is not None  # still logged in in another browser
    await store.delete(second.id)
    await guard.check()
    assert desk.status("alice") is None


async def test_expiry_signs_out_and_robots_without_sessions_are_left_alone(database: Database):
    store, desk, clock, guard = await _guard(database)
    await store.create(1, "alice", Role.AGENT)
    desk.add(1, "alice")
    desk.add(2, "bob", session_bound=False)  # a robot: no session
    clock.now += IDLE - 1
    await guard.check()
    assert desk.status("alice") is not None
    clock.now += 2  # idle past the timeout: the session ends, and the sign-in with it
    await guard.check()
    assert desk.status("alice") is None
    clock.now += 10 * IDLE
    await guard.check()
    assert desk.status("bob") is not None


async def test_after_a_restart_agents_have_the_idle_time_to_come_back(database: Database):
    store, desk, clock, guard = await _guard(database)
    desk.add(1, "alice")  # restored from the database: no session survived the restart
    desk.add(2, "bob")
    await guard.check()
    clock.now += IDLE / 2
    await store.create(1, "alice", Role.AGENT)  # alice logs in again; bob does not
    await guard.check()
    clock.now += IDLE / 2 + 1
    await guard.check()
    assert desk.status("alice") is not None
    assert desk.status("bob") is None


async def test_a_failed_sign_out_is_tried_again_at_the_next_check(database: Database):
    store, desk, _clock, guard = await _guard(database)
    session = await store.create(1, "alice", Role.AGENT)
    desk.add(1, "alice")
    desk.fail = True
    await store.delete(session.id)
    await guard.check()
    assert desk.status("alice") is not None
    desk.fail = False
    await guard.check()
    assert desk.status("alice") is None
