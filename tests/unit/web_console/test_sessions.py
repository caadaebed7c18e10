"""The in-memory session store: fresh ids, idle and absolute expiry, deletion."""

from __future__ import annotations

from hcrm_core.models import Role
from web_console.sessions import ABSOLUTE_LIFETIME_SECONDS, SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_session_gets_its_own_unguessable_id_and_csrf_token() -> None:
    store = SessionStore(60, Clock())
    a = store.create(1, "alice", Role.AGENT)
    b = store.create(1, "alice", Role.AGENT)
    assert a.id != b.id
    assert a.csrf_token != b.csrf_token
    assert len(a.id) >= 40
    assert store.get(a.id) is a


def test_idle_sessions_expire_and_use_keeps_them_alive() -> None:
    clock = Clock()
    store = SessionStore(60, clock)
    session = store.create(1, "alice", Role.AGENT)
    clock.now = 59
    assert store.get(session.id) is session
    clock.now = 118
    assert store.get(session.id) is session
    clock.now = 179
    assert store.get(session.id) is None
    assert len(store) == 0


def test_sessions_end_after_the_absolute_lifetime_even_when_busy() -> None:
    clock = Clock()
    store = SessionStore(60, clock)
    session = store.create(1, "alice", Role.AGENT)
    while clock.now < ABSOLUTE_LIFETIME_SECONDS:
        assert store.get(session.id) is session
        clock.now += 50
    clock.now += 1
    assert store.get(session.id) is None


def test_delete_and_unknown_ids() -> None:
    store = SessionStore(60, Clock())
    session = store.create(1, "alice", Role.AGENT)
    store.delete(session.id)
    assert store.get(session.id) is None
    assert store.get("") is None
    assert store.get(None) is None
    store.delete("never-existed")


def test_creating_a_session_sweeps_expired_ones() -> None:
    clock = Clock()
    store = SessionStore(60, clock)
    for _ in range(3):
        store.create(1, "alice", Role.AGENT)
    clock.now = 61
    store.create(2, "bob", Role.AGENT)
    assert len(store) == 1
