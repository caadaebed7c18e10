"""The state history across a change of leader: what the old one did not store, the new one
does; what it did store is not stored again (each process saw each change at its own time)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.agents import history
from callcenter.agents.history import AgentHistoryWriter
from callcenter.agents.notifier import AgentStateChanged
from hcrm_core.services.agent_history import StateChange, not_stored

T0 = 1_790_000_000.0


def _stored(state: str, at: float, reason: str = "") -> StateChange:
    return StateChange(7, "alice", "1001", state, reason, datetime.fromtimestamp(at, UTC))


def _states(changes: list[StateChange]) -> list[tuple[str, float]]:
    return [(c.state, c.at.timestamp()) for c in changes]


def test_only_the_changes_after_the_last_stored_one_are_new() -> None:
    # The new leader saw each change 3 ms after the old one, or 2 ms before it.
    for skew in (0.003, -0.002):
        seen = [
            _stored("ready", T0 + skew),
            _stored("ringing", T0 + 10 + skew),
            _stored("on_call", T0 + 12 + skew),
            _stored("wrap_up", T0 + 70 + skew),
        ]
        # The old leader stored up to the ring, and died with the answer in its batch.
        assert _states(not_stored(_stored("ringing", T0 + 10), seen)) == [
            ("on_call", T0 + 12 + skew),
            ("wrap_up", T0 + 70 + skew),
        ]
        assert not_stored(_stored("wrap_up", T0 + 70), seen) == []
    # Nothing stored for the agent yet: all of them; a pause reason is a change of its own.
    seen = [_stored("paused", T0, "lunch"), _stored("paused", T0 + 5, "training")]
    assert not_stored(None, seen) == seen
    assert not_stored(_stored("paused", T0 - 0.001, "lunch"), seen) == seen[1:]


def test_a_follower_hands_the_changes_it_saw_to_the_store_when_elected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer = AgentHistoryWriter(None, None)  # type: ignore[arg-type]
    leading = False
    writer.writes = lambda: leading
    clock = [100.0]
    monkeypatch.setattr(history.time, "monotonic", lambda: clock[0])

    def change(state: str, since: float) -> AgentStateChanged:
        agent = {"state": state, "pause_reason": "", "extension": "1001", "since": since}
        return AgentStateChanged("alice", agent, user_id=7)

    writer.record(change("paused", T0 - 100))
    clock[0] += history.UNSTORED_SECONDS + 1  # kept a minute only: long stored by then
    writer.record(change("ready", T0))
    writer.record(change("ringing", T0 + 10))
    assert writer._pending == []
    leading = True
    writer.record(change("on_call", T0 + 12))
    assert _states(writer._pending) == [("ready", T0), ("ringing", T0 + 10), ("on_call", T0 + 12)]
    assert len(writer._unstored) == 0
