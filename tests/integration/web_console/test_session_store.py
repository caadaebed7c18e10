"""The database session store on SQLite and PostgreSQL: fresh ids, only a hash stored, idle
and absolute expiry, writes at most every few seconds, ending a user's sessions, and two
stores (two processes) seeing the same sessions."""

from __future__ import annotations

from sqlalchemy import select, update

from hcrm_core.db import Database
from hcrm_core.models import ConsoleSession, Role, User
from hcrm_core.services.users import create_user
from web_console.sessions import ABSOLUTE_LIFETIME_SECONDS, Session, SessionStore, session_key

START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


async def _users(database: Database, *names: str) -> list[int]:
    async with database.transaction() as session:
        users = [
            await create_user(session, username=name, password="p" * 12, role=Role.AGENT)
            for name in names
        ]
        await session.flush()
        return [user.id for user in users]


async def _stored(database: Database) -> list[ConsoleSession]:
    async with database.session() as session:
        return list(await session.scalars(select(ConsoleSession)))


async def test_ids_are_unguessable_and_only_their_hash_is_stored(database: Database) -> None:
    (alice,) = await _users(database, "alice")
    store = SessionStore(database, 60, Clock())
    a = await store.create(alice, "alice", Role.AGENT)
    b = await store.create(alice, "alice", Role.AGENT)
    assert a.id != b.id and a.csrf_token != b.csrf_token and len(a.id) >= 40
    assert {row.token_hash for row in await _stored(database)} == {session_key(a.id), b.key}
    assert all(a.id not in row.token_hash for row in await _stored(database))
    found = await store.get(a.id)
    assert found is not None
    assert (found.id, found.user_id, found.username, found.role, found.csrf_token) == (
        a.id,
        alice,
        "alice",
        Role.AGENT,
        a.csrf_token,
    )
    assert await store.get(a.key) is None  # the stored hash is no cookie


async def test_idle_sessions_expire_use_keeps_them_alive_and_writes_are_rare(
    database: Database,
) -> None:
    (alice,) = await _users(database, "alice")
    clock = Clock()
    store = SessionStore(database, 60, clock)  # touched at most every 15 s
    session = await store.create(alice, "alice", Role.AGENT)
    clock.now += 10
    assert await store.get(session.id) is not None
    assert (await _stored(database))[0].last_seen.timestamp() == START  # not written
    clock.now += 49
    assert await store.get(session.id) is not None
    assert (await _stored(database))[0].last_seen.timestamp() == START + 59
    clock.now += 59
    assert await store.get(session.id) is not None
    clock.now += 61
    assert await store.get(session.id) is None
    assert await store.count() == 0  # ended, not just refused


async def test_sessions_end_after_the_absolute_lifetime_even_when_busy(database: Database):
    (alice,) = await _users(database, "alice")
    clock = Clock()
    store = SessionStore(database, 3600, clock)
    session = await store.create(alice, "alice", Role.AGENT)
    while clock.now - START < ABSOLUTE_LIFETIME_SECONDS:
        assert await store.get(session.id) is not None
        clock.now += 3000
    clock.now = START + ABSOLUTE_LIFETIME_SECONDS + 1
    assert await store.get(session.id) is None


async def test_delete_and_unknown_ids_and_the_end_callbacks(database: Database) -> None:
    (alice,) = await _users(database, "alice")
    store = SessionStore(database, 60, Clock())
    ended: list[Session] = []
    store.on_end(ended.append)
    session = await store.create(alice, "alice", Role.AGENT)
    await store.delete(session.id)
    assert await store.get(session.id) is None
    assert await store.get("") is None and await store.get(None) is None
    await store.delete("never-existed")
    await store.delete(session.id)  # ended once: the callback ran once
    assert [s.key for s in ended] == [session.key]


async def test_end_user_ends_only_that_users_sessions_but_the_one_kept(database: Database):
    li, wu = await _users(database, "li", "wu")
    store = SessionStore(database, 60, Clock())
    ended: list[str] = []
    store.on_end(lambda session: ended.append(session.key))
    first = await store.create(li, "li", Role.AGENT, must_change_password=True)
    second = await store.create(li, "li", Role.AGENT)
    other = await store.create(wu, "wu", Role.AGENT)
    assert {s.key for s in await store.user_sessions(li)} == {first.key, second.key}
    assert await store.end_user(li, keep=second.id) == 1
    assert ended == [first.key]
    assert await store.end_user(li) == 1
    assert ended == [first.key, second.key]
    assert await store.user_sessions(li) == [] and await store.end_user(li) == 0
    assert await store.get(other.id) is not None
    assert await store.live_user_ids() == {wu}


async def test_a_session_follows_its_users_row(database: Database) -> None:
    li, wu = await _users(database, "li", "wu")
    store = SessionStore(database, 60, Clock())
    ended: list[str] = []
    store.on_end(lambda session: ended.append(session.username))
    li_session = await store.create(li, "li", Role.AGENT)
    wu_session = await store.create(wu, "wu", Role.AGENT)
    async with database.transaction() as session:
        await session.execute(update(User).where(User.id == li).values(role=Role.SUPERVISOR))
        await session.execute(update(User).where(User.id == wu).values(must_change_password=True))
    promoted = await store.get(li_session.id)
    assert promoted is not None and promoted.role is Role.SUPERVISOR
    assert await store.get(wu_session.id) is None  # a reset since this session logged in
    async with database.transaction() as session:
        await session.execute(update(User).where(User.id == li).values(active=False))
    assert await store.current([li_session]) == {}  # a websocket's check ends it too
    assert sorted(ended) == ["li", "wu"]


async def test_two_stores_on_one_database_are_two_processes_sharing_sessions(
    database: Database,
) -> None:
    (alice,) = await _users(database, "alice")
    clock = Clock()
    a, b = SessionStore(database, 60, clock), SessionStore(database, 60, clock)
    ended_on_a: list[str] = []
    ended_on_b: list[str] = []
    a.on_end(lambda session: ended_on_a.append(session.key))
    b.on_end(lambda session: ended_on_b.append(session.key))
    session = await a.create(alice, "alice", Role.AGENT)
    on_b = await b.get(session.id)
    assert on_b is not None and on_b.csrf_token == session.csrf_token
    assert set(await b.current([on_b])) == {session.key}
    await a.delete(session.id)
    assert await b.get(session.id) is None and await b.current([on_b]) == {}
    assert ended_on_a == [session.key] and ended_on_b == []


async def test_the_sweep_ends_expired_sessions_once_across_stores(database: Database) -> None:
    alice, bob = await _users(database, "alice", "bob")
    clock = Clock()
    a, b = SessionStore(database, 60, clock), SessionStore(database, 60, clock)
    ended: list[str] = []
    a.on_end(lambda session: ended.append(session.username))
    b.on_end(lambda session: ended.append(session.username))
    await a.create(alice, "alice", Role.AGENT)
    clock.now += 50
    await b.create(bob, "bob", Role.AGENT)
    clock.now += 20
    assert await a.sweep() == 1 and await b.sweep() == 0
    assert ended == ["alice"]
    assert await a.live_user_ids() == {bob}


async def test_the_password_change_clears_the_sessions_temporary_state(database: Database):
    (li,) = await _users(database, "li")
    store = SessionStore(database, 60, Clock())
    session = await store.create(li, "li", Role.AGENT, must_change_password=True)
    await store.password_changed(session)
    again = await store.get(session.id)
    assert again is not None and not again.must_change_password
