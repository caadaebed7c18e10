"""Where a callback waits in its queue, and how its calls are named."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from callcenter.ami.bridge import AmiBridge
from callcenter.ami.events import AmiEvent, Headers
from callcenter.callbacks.placer import (
    CallbackPlacer,
    PlacerOptions,
    WaitingCaller,
    position_for,
)
from callcenter.calls.channel_ids import callback_channel_id, callback_of, is_callback_call
from hcrm_core.models import CallbackStatus
from hcrm_core.services.callbacks import CallbackService, Placement


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


class _Ami:
    """QueueStatus shows only what has joined; an Originate joins nothing by itself."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.entries: list[AmiEvent] = []
        self.positions: dict[str, str] = {}

    async def queue_status(self) -> tuple[AmiEvent, ...]:
        return tuple(self.entries)

    async def send_action(self, action: dict[str, str]) -> SimpleNamespace:
        return SimpleNamespace(headers={"Value": "1000"})  # the waiting caller's arrival

    async def originate(self, channel: str, **kwargs: Any) -> None:
        self.positions[kwargs["channel_id"]] = kwargs["variables"]["CALLCENTER_QUEUE_POSITION"]


class _Callbacks:
    def __init__(self, due: list[Placement]) -> None:
        self._due = due

    async def due(self) -> list[Placement]:
        return self._due

    async def claim_placement(self, callback_id: int, **_: Any) -> Placement | None:
        return next(p for p in self._due if p.callback_id == callback_id)


def _due(callback_id: int, arrived: float) -> Placement:
    at = datetime.fromtimestamp(arrived, UTC)
    return Placement(callback_id, 1, "q1", "+12125550100", at, 0, None, CallbackStatus.PLACED)


async def test_two_placed_in_one_tick_count_each_other_before_either_joins() -> None:
    # One caller (arrived at 1000) waits; two callbacks are due, one from before (900) and one
    # from after (1100). The second is placed before the first shows in QueueStatus: it must
    # still count it, or it would be put ahead of it (the CI flake of session 24's stop).
    ami = _Ami("q1")
    ami.entries.append(
        AmiEvent(
            "QueueEntry",
            Headers.from_mapping({"Queue": "q1", "Uniqueid": "caller-1", "Priority": "0"}),
        )
    )
    placer = CallbackPlacer(
        ami=cast(AmiBridge, ami),
        callbacks=cast(CallbackService, _Callbacks([_due(1, 900.0), _due(2, 1100.0)])),
        options=PlacerOptions(channel_prefix="cb-"),
        route=lambda number: f"Local/{number}@out",
    )
    await placer.tick()
    first, second = (callback_channel_id("cb-", n, 1) for n in (1, 2))
    assert ami.positions == {first: "1", second: "3"}
    # Once the first shows in QueueStatus (its ;2 half), it is counted once, not twice.
    ami.entries.append(
        AmiEvent(
            "QueueEntry",
            Headers.from_mapping({"Queue": "q1", "Uniqueid": f"{first}-b", "Priority": "0"}),
        )
    )
    placer.live.pop(second)
    await placer.tick()
    assert ami.positions[second] == "3"
