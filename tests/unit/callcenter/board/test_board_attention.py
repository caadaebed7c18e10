"""What the board says beyond the states: per-agent handled calls and handle time (talk plus
wrap-up), the call a wrap-up is about, and each queue's alert thresholds from the settings."""

from __future__ import annotations

from callcenter.board.state import BoardState
from callcenter.calls.state import CallEnded
from callcenter.settings import BoardSettings, QueueAlertSettings
from tests.unit.callcenter.board.test_state import AGENT, T0, answered_call, at, member


def test_handled_calls_count_talk_and_wrap_up_and_wrap_up_names_its_call() -> None:
    state = BoardState("America/New_York", [("appointments", "Booking")], T0.timestamp())
    state.wrapup_max_seconds = 120
    t = T0.timestamp()
    state.apply_queue_event(member(), t)
    state.apply_desk_agent({"interface": AGENT, "username": "ann", "state": "ready", "since": t})
    answered_call(state, "c1", start=0, waited=35)  # answered at 35 s
    on_call = state.snapshot(t + 40)["agents"][0]
    assert on_call["call"]["waited_seconds"] == 35
    assert (on_call["handled"], on_call["average_handle_seconds"]) == (0, None)
    state.apply_notice(CallEnded("c1", "completed", False, 16, at(95)))  # 60 s of talk
    state.apply_desk_agent(
        {"interface": AGENT, "username": "ann", "state": "wrap_up", "since": t + 95}
    )
    wrap = state.snapshot(t + 100)
    agent = wrap["agents"][0]
    assert agent["state"] == "wrap_up" and wrap["wrapup_max_seconds"] == 120
    assert agent["last_call"]["queue"] == "appointments"
    assert agent["last_call"]["talk_seconds"] == 60
    assert (agent["handled"], agent["average_handle_seconds"]) == (1, 60)
    # The disposition is saved 40 s later: the handle time is 100 s.
    state.apply_desk_agent(
        {"interface": AGENT, "username": "ann", "state": "ready", "since": t + 135}
    )
    agent = state.snapshot(t + 140)["agents"][0]
    assert (agent["handled"], agent["average_handle_seconds"]) == (1, 100)
    # A second, shorter call (20 s, no wrap-up seen) halves nothing but averages.
    answered_call(state, "c2", start=200, waited=5)
    state.apply_notice(CallEnded("c2", "completed", False, 16, at(225)))
    agent = state.snapshot(t + 230)["agents"][0]
    assert (agent["handled"], agent["average_handle_seconds"]) == (2, 60)
    # A new day starts from nothing.
    assert state.roll_day(t + 86_400)
    assert state.snapshot(t + 86_400)["agents"][0]["handled"] == 0


def test_each_queue_carries_its_thresholds() -> None:
    state = BoardState(
        "America/New_York",
        [("appointments", "Booking"), ("enquiries", "Questions")],
        T0.timestamp(),
    )
    state.alerts = BoardSettings(
        alerts=QueueAlertSettings(longest_wait_warn_seconds=45),
        queue_alerts={
            "enquiries": QueueAlertSettings(longest_wait_warn_seconds=90, nobody_ready=False)
        },
    )
    queues = {q["name"]: q["alerts"] for q in state.snapshot(T0.timestamp())["queues"]}
    assert queues["appointments"]["longest_wait_warn_seconds"] == 45
    assert queues["appointments"]["nobody_ready"] is True
    assert (
        queues["enquiries"]["longest_wait_warn_seconds"],
        queues["enquiries"]["nobody_ready"],
    ) == (
        90,
        False,
    )
