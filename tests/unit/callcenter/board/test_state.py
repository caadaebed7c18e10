"""The supervisor board's pure logic: queue waits, totals, service level, agent states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.ami.events import AmiEvent, Headers
from callcenter.ami.queue_members import DeviceStatus
from callcenter.board.queue_events import (
    AgentCallDone,
    CallerJoined,
    CallerLeft,
    MemberUpdate,
    QueueParams,
    parse_board_event,
    parse_queue_entry,
    parse_queue_member,
)
from callcenter.board.state import BoardState, CallRecord
from callcenter.calls.state import AgentRinging, CallAnswered, CallEnded, CallQueued, CallStarted

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in New York
AGENT = "Local/1001@sim-agents"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def board() -> BoardState:
    return BoardState("America/New_York", [("appointments", "Booking")], T0.timestamp())


def member(status: DeviceStatus = DeviceStatus.NOT_INUSE, **kw: object) -> MemberUpdate:
    values: dict[str, object] = {
        "queue": "appointments",
        "interface": AGENT,
        "name": "1001",
        "status": status,
        "paused": False,
        "paused_reason": "",
    }
    values.update(kw)
    return MemberUpdate(**values)  # type: ignore[arg-type]


def queue(state: BoardState, now: float) -> dict[str, object]:
    (view,) = [q for q in state.snapshot(now)["queues"] if q["name"] == "appointments"]
    return view


def answered_call(state: BoardState, linkedid: str, start: float, waited: float) -> None:
    state.apply_notice(CallStarted(linkedid, "inbound", "+1212", None, None, at(start)))
    state.apply_notice(CallQueued(linkedid, "appointments", 1, at(start)))
    state.apply_notice(
        AgentRinging(linkedid, "appointments", AGENT, "1001", None, None, waited, at(start))
    )
    state.apply_notice(CallAnswered(linkedid, "appointments", AGENT, waited, at(start + waited)))


def test_waiting_callers_and_longest_wait() -> None:
    state = board()
    t = T0.timestamp()
    state.apply_queue_event(CallerJoined("appointments", "a", "a", t), t)
    state.apply_queue_event(CallerJoined("appointments", "b", "b", t + 5), t + 5)
    view = queue(state, t + 10)
    assert view["waiting"] == 2
    assert view["longest_wait_since"] == t
    state.apply_queue_event(CallerLeft("appointments", "a"), t + 11)
    assert queue(state, t + 12)["longest_wait_since"] == t + 5


def test_service_level_counts_answers_within_threshold_over_answered_and_abandoned() -> None:
    state = board()
    answered_call(state, "fast", 0, 20)
    answered_call(state, "slow", 100, 90)
    state.apply_notice(CallEnded("fast", "completed", False, 16, at(200)))
    state.apply_notice(CallEnded("slow", "completed", False, 16, at(300)))
    state.apply_notice(CallStarted("gone", "internal", None, None, None, at(400)))
    state.apply_notice(CallQueued("gone", "appointments", 1, at(401)))
    state.apply_notice(CallEnded("gone", "abandoned_in_queue", True, 16, at(430)))
    view = queue(state, T0.timestamp() + 500)
    assert (view["answered"], view["abandoned"], view["answered_within_sl"]) == (2, 1, 1)
    assert view["service_level"] == 33.3
    hours = state.snapshot(T0.timestamp())["hours"]
    assert hours == [{"hour": 9, "calls": 3, "answered": 2, "abandoned": 1}]


def test_queue_params_threshold_is_used() -> None:
    state = board()
    state.apply_resync([QueueParams("appointments", 120)], [], [], T0.timestamp())
    answered_call(state, "c", 0, 90)
    assert queue(state, T0.timestamp())["answered_within_sl"] == 1


def test_agent_states_follow_member_events_and_calls() -> None:
    state = board()
    t = T0.timestamp()
    state.apply_queue_event(member(), t)
    agent = state.snapshot(t)["agents"][0]
    assert (agent["state"], agent["since"]) == ("ready", t)
    state.apply_queue_event(member(paused=True, paused_reason="lunch"), t + 1)
    agent = state.snapshot(t)["agents"][0]
    assert (agent["state"], agent["paused_reason"]) == ("paused", "lunch")
    state.apply_queue_event(member(), t + 2)
    answered_call(state, "c1", 3, 2)
    agent = state.snapshot(t)["agents"][0]
    assert agent["state"] == "on_call"
    assert agent["call"]["linkedid"] == "c1"
    state.apply_queue_event(AgentCallDone("appointments", AGENT, "c1"), t + 60)
    assert state.snapshot(t)["agents"][0]["call"] is None
    state.apply_queue_event(member(removed=True), t + 61)
    assert state.snapshot(t)["agents"] == []


def test_resync_replaces_waiting_callers_and_members() -> None:
    state = board()
    t = T0.timestamp()
    state.apply_queue_event(CallerJoined("appointments", "stale", "stale", t), t)
    state.apply_queue_event(member(interface="Local/1002@sim-agents"), t)
    state.apply_resync([], [member()], [CallerJoined("appointments", "x", "x", t + 3)], t + 10)
    snap = state.snapshot(t + 10)
    assert queue(state, t + 10)["waiting_since"] == [t + 3]
    assert [a["interface"] for a in snap["agents"]] == [AGENT]


def test_totals_from_the_database_count_only_todays_finished_inbound_calls() -> None:
    state = board()
    yesterday = T0 - timedelta(days=1)
    state.load_today(
        [
            CallRecord(T0, "appointments", True, False, 10.0, True, True),
            CallRecord(T0, "appointments", False, True, 70.0, True, True),
            CallRecord(T0, None, False, False, None, True, True),  # ended in the IVR
            CallRecord(T0, "appointments", True, False, 5.0, False, True),  # still up
            CallRecord(yesterday, "appointments", True, False, 5.0, True, True),
            CallRecord(T0, None, True, False, None, True, False),  # outbound
        ]
    )
    view = queue(state, T0.timestamp())
    assert (view["answered"], view["abandoned"], view["service_level"]) == (1, 1, 50.0)
    assert state.snapshot(T0.timestamp())["hours"] == [
        {"hour": 9, "calls": 3, "answered": 1, "abandoned": 1}
    ]


def test_day_rolls_over_at_local_midnight() -> None:
    state = board()
    answered_call(state, "c", 0, 1)
    state.apply_notice(CallEnded("c", "completed", False, 16, at(10)))
    assert not state.roll_day(T0.timestamp() + 3600)
    # 05:00 UTC next day is midnight in New York.
    assert state.roll_day(datetime(2026, 11, 24, 5, 0, 1, tzinfo=UTC).timestamp())
    assert queue(state, 0)["answered"] == 0
    assert state.snapshot(0)["hours"] == []


def _event(name: str, **headers: str) -> AmiEvent:
    return AmiEvent(name, Headers(list(headers.items())), received_at=100.0)


def test_parsing_at_the_edge() -> None:
    joined = parse_board_event(
        _event("QueueCallerJoin", Queue="q", Uniqueid="u1", Linkedid="l1", Position="1")
    )
    assert joined == CallerJoined("q", "u1", "l1", 100.0)
    assert parse_board_event(_event("QueueCallerAbandon", Queue="q", Uniqueid="u1")) == (
        CallerLeft("q", "u1")
    )
    update = parse_board_event(
        _event(
            "QueueMemberPause",
            Queue="q",
            Interface=AGENT,
            MemberName="Ann",
            Status="2",
            Paused="1",
            PausedReason="break",
        )
    )
    assert update == MemberUpdate("q", AGENT, "Ann", DeviceStatus.INUSE, True, "break")
    assert parse_board_event(_event("Newchannel")) is None
    assert parse_board_event(_event("QueueMemberStatus", Queue="q", Interface="X", Status="odd"))
    entry = parse_queue_entry(_event("QueueEntry", Queue="q", Uniqueid="u", Wait="30"), 1000.0)
    assert entry.since == 970.0
    row = parse_queue_member(_event("QueueMember", Queue="q", Location=AGENT, Name="Ann"))
    assert (row.interface, row.name, row.status) == (AGENT, "Ann", DeviceStatus.UNKNOWN)


def test_a_call_that_only_used_the_ivr_counts_as_an_inbound_call() -> None:
    state = board()
    state.apply_notice(CallStarted("ivr", "internal", None, None, None, at(0)))
    state.apply_ivr("ivr", at(1))
    state.apply_notice(CallEnded("ivr", "hung_up", False, 16, at(60)))
    state.apply_notice(CallStarted("internal", "internal", None, None, None, at(0)))
    state.apply_notice(CallEnded("internal", "hung_up", False, 16, at(60)))
    assert state.snapshot(0)["hours"] == [{"hour": 9, "calls": 1, "answered": 0, "abandoned": 0}]


def test_a_campaign_call_in_its_survey_dialog_is_not_an_inbound_call() -> None:
    state = board()
    state.apply_notice(CallStarted("attempt-7", "outbound", "+1212", None, None, at(0)))
    state.apply_ivr("attempt-7", at(5))  # the survey dialog runs on our FastAGI too
    state.apply_notice(CallEnded("attempt-7", "completed", False, 16, at(60)))
    assert state.snapshot(0)["hours"] == []


def test_the_desk_state_of_a_signed_in_agent_wins() -> None:
    state = board()
    t = T0.timestamp()
    state.apply_queue_event(member(), t)
    state.apply_desk_agent(
        {
            "interface": AGENT,
            "username": "ann",
            "state": "wrap_up",
            "since": t + 5,
            "pause_reason": "",
        }
    )
    agent = state.snapshot(t)["agents"][0]
    assert (agent["state"], agent["since"], agent["username"]) == ("wrap_up", t + 5, "ann")
    state.apply_desk_agent({"interface": AGENT, "state": "signed_out"})
    assert state.snapshot(t)["agents"][0]["state"] == "ready"
