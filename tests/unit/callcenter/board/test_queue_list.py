"""The board's queue list follows the active queues kept in the database."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.board.queue_events import CallerJoined, CallerLeft, QueueParams
from callcenter.board.state import BoardState

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC).timestamp()


def names(state: BoardState) -> dict[str, str]:
    return {q["name"]: q["description"] for q in state.snapshot(T0)["queues"]}


def test_set_queues_adds_renames_and_drops_and_says_whether_anything_changed() -> None:
    state = BoardState("UTC", [("appointments", "Booking")], T0)
    assert not state.set_queues([("appointments", "Booking")])
    assert state.set_queues([("appointments", "Appointments"), ("cardiology", "Heart clinic")])
    assert names(state) == {"appointments": "Appointments", "cardiology": "Heart clinic"}
    assert state.set_queues([("cardiology", "Heart clinic")])
    assert names(state) == {"cardiology": "Heart clinic"}


def test_a_dropped_queue_stays_while_callers_wait_and_asterisk_adds_no_queue() -> None:
    state = BoardState("UTC", [("appointments", "Booking"), ("old", "Old")], T0)
    state.apply_queue_event(CallerJoined("old", "c-1", "c-1", T0), T0)
    state.set_queues([("appointments", "Booking")])
    assert names(state) == {"appointments": "Booking", "old": "Old"}
    assert next(q for q in state.snapshot(T0)["queues"] if q["name"] == "old")["waiting"] == 1
    state.apply_queue_event(CallerLeft("old", "c-1"), T0)
    assert names(state) == {"appointments": "Booking"}
    # A resync naming a queue Asterisk still has (removed, callers gone) does not bring it back.
    state.apply_resync([QueueParams("old", 60), QueueParams("appointments", 30)], [], [], T0)
    assert names(state) == {"appointments": "Booking"}
    assert state.service_level_seconds("appointments") == 30
