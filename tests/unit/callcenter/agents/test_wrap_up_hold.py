"""Wrap-up lasts until the disposition: the phone is paused in the queues ("wrap-up", not the
agent's own pause) from the call's end until the disposition is saved, so the next call is
offered only when the agent is ready; the agent's own pause survives it."""

from __future__ import annotations

from callcenter.agents.member_events import MemberEvent, MemberEventKind
from callcenter.agents.state import WRAPUP_HOLD_REASON
from tests.unit.callcenter.agents.test_queue_memberships import ALL, _Phones, _service

IFACE = "Local/1001@sim-agents"


def _event(kind: MemberEventKind, linkedid: str = "", **kw: object) -> MemberEvent:
    return MemberEvent(kind, "appointments", IFACE, "alice", linkedid, 1.0, **kw)  # type: ignore[arg-type]


def _pauses(phones: _Phones) -> list[tuple[object, object]]:
    return [
        (a["Paused"], a.get("Reason", "")) for a in phones.actions if a["Action"] == "QueuePause"
    ]


async def test_the_phone_is_held_until_the_disposition_and_the_agents_pause_survives() -> None:
    phones = _Phones()
    service = _service(phones, {1: ALL})
    await service.sign_in(1, "alice", "1001")
    service.on_member_event(_event(MemberEventKind.CONNECT, "c1"))
    service.on_member_event(_event(MemberEventKind.COMPLETE, "c1"))
    await service.settled("alice")
    status = service.require("alice")
    assert status.state.value == "wrap_up" and status.held
    assert _pauses(phones) == [("true", WRAPUP_HOLD_REASON)]
    # Asterisk's echo of the hold is not the agent's pause.
    service.on_member_event(_event(MemberEventKind.PAUSE, paused=True, reason=WRAPUP_HOLD_REASON))
    assert (status.paused, status.pause_reason) == (False, "")
    # "Resume" during wrap-up keeps the phone held: ready means once wrap-up ends.
    await service.resume("alice")
    assert _pauses(phones)[-1] == ("true", WRAPUP_HOLD_REASON)
    # The agent pauses for lunch, then saves the disposition: Asterisk keeps them paused, for
    # lunch now.
    await service.pause("alice", "lunch")
    service.wrap_up_done("alice", "c1")
    await service.settled("alice")
    assert (status.state.value, status.held) == ("paused", False)
    assert _pauses(phones)[-1] == ("true", "lunch")


async def test_a_disposition_saved_before_the_agent_complete_ends_wrap_up_at_once() -> None:
    phones = _Phones()
    service = _service(phones, {1: ALL})
    await service.sign_in(1, "alice", "1001")
    service.on_member_event(_event(MemberEventKind.CONNECT, "c2"))
    service.wrap_up_done("alice", "c2")  # the call's end reached the desk first
    service.on_member_event(_event(MemberEventKind.COMPLETE, "c2"))
    await service.settled("alice")
    status = service.require("alice")
    assert (status.state.value, status.held) == ("ready", False)
    assert _pauses(phones) == []


async def test_with_the_old_timer_the_phone_is_never_held() -> None:
    phones = _Phones()
    service = _service(phones, {1: ALL}, wrapup_until_disposition=False, wrapup_seconds=0)
    await service.sign_in(1, "alice", "1001")
    service.on_member_event(_event(MemberEventKind.CONNECT, "c3"))
    service.on_member_event(_event(MemberEventKind.COMPLETE, "c3"))
    assert _pauses(phones) == []
    assert not service.require("alice").held
