"""Where a callback waits in its queue, and how its calls are named."""

from __future__ import annotations

from callcenter.callbacks.placer import WaitingCaller, position_for
from callcenter.calls.channel_ids import callback_channel_id, callback_of, is_callback_call


def test_a_callback_waits_behind_earlier_and_higher_priority_callers_only() -> None:
    waiting = [
        WaitingCaller(priority=0, joined=100.0),  # came first
        WaitingCaller(priority=5, joined=300.0),  # a VIP who came later: still ahead
        WaitingCaller(priority=0, joined=250.0),  # came after the callback's caller
        WaitingCaller(priority=0, joined=200.0),  # came in the same second
    ]
    assert position_for(waiting, priority=0, joined=200.0) == 4
    assert position_for(waiting, priority=5, joined=50.0) == 1
    assert position_for([], priority=0, joined=0.0) == 1


def test_callback_calls_are_named_and_recognised() -> None:
    cid = callback_channel_id("callback-", 42, 3)
    assert cid == "callback-000000000042-0003"
    assert callback_of("callback-", cid) == (42, 3)
    assert callback_of("callback-", "callback-42-3") == (42, 3)  # named before the padding
    assert is_callback_call("callback-42-3")
    # Placement 1 must not prefix placement 10 (Asterisk would refuse the requested id).
    first, tenth = (callback_channel_id("callback-", 42, n) for n in (1, 10))
    assert not tenth.startswith(first) and not first.startswith(tenth)
    assert callback_of("callback-", f"{cid}-b") == (42, 3)
    for other in ("attempt-42", "1733500000.12", "callback-42", "callback-4x-1", "cc-12-3"):
        assert callback_of("callback-", other) is None
    assert is_callback_call(cid) and is_callback_call("cbx1-7-1")
    assert not any(
        is_callback_call(x) for x in ("attempt-42", "1733500000.12", "attempt-42-b", f"{cid}-b")
    )
