"""Ending or following every session of one user at once (an admin's disable or new role)."""

from __future__ import annotations

from hcrm_core.models import Role
from web_console.sessions import Session, SessionStore


def test_end_user_ends_only_that_users_sessions_but_the_one_kept():
    store = SessionStore(idle_seconds=60, clock=lambda: 100.0)
    ended: list[str] = []
    store.on_end(lambda session: ended.append(session.id))
    first = store.create(1, "li", Role.AGENT, must_change_password=True)
    second = store.create(1, "li", Role.AGENT)
    other = store.create(2, "wu", Role.AGENT)
    assert first.must_change_password and not second.must_change_password
    assert {s.id for s in store.user_sessions(1)} == {first.id, second.id}

    assert store.end_user(1, keep=second.id) == 1
    assert ended == [first.id]
    assert store.end_user(1) == 1
    assert ended == [first.id, second.id]
    assert store.user_sessions(1) == [] and store.end_user(1) == 0
    assert store.get(other.id) is other


def test_role_change_of_every_session_of_a_user_is_announced():
    store = SessionStore(idle_seconds=60, clock=lambda: 100.0)
    changed: list[Session] = []
    store.on_role_change(changed.append)
    sessions = [store.create(1, "li", Role.AGENT) for _ in range(2)]
    for session in store.user_sessions(1):
        store.change_role(session, Role.SUPERVISOR)
    assert sorted(s.id for s in changed) == sorted(s.id for s in sessions)
    assert all(s.role is Role.SUPERVISOR for s in sessions)
