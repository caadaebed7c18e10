"""The desk shared by several server processes: a change made in one is applied by the others.

Two services stand for two processes: what process A announces (``DeskChanged``) is applied
by B, which sends nothing to Asterisk; applying a change twice (a relay catch-up, two
processes signing out one agent) changes nothing; the wrap-up hold and release are the
leader's only, while every process tracks them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from callcenter.agents.history import AgentHistoryWriter
from callcenter.agents.member_events import MemberEvent, MemberEventKind
from callcenter.agents.notifier import AgentNotifier, AgentStateChanged, DeskChange, DeskChanged
from callcenter.agents.pops import ScreenPops
from callcenter.agents.services import AgentService
from callcenter.agents.shared_marks import SharedMarks
from callcenter.agents.state import WRAPUP_HOLD_REASON, AgentStatus
from callcenter.ami.events import AmiSnapshot
from callcenter.calls.state import AgentRinging
from callcenter.settings import AgentsSettings
from tests.unit.callcenter.agents.test_queue_memberships import ALL, _Phones

IFACE = "Local/1001@sim-agents"


class _Desk(AgentNotifier):
    """One process's notifier: the states it shows, the pops, and the changes it announces."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.states: list[tuple[str, str]] = []
        self.pops: list[dict[str, Any]] = []
        self.changes: list[DeskChanged] = []

    def state_changed(self, status: AgentStatus) -> None:
        self.states.append((status.username, status.state.value))

    def pop_changed(self, username: str, pop: dict[str, Any]) -> None:
        self.pops.append(pop)

    def desk_changed(
        self,
        kind: DeskChange,
        username: str,
        *,
        user_id: int | None = None,
        linkedid: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        change = DeskChanged(kind, username, self.origin, user_id, linkedid, dict(data or {}))
        # As the relay carries it: plain JSON and back.
        self.changes.append(DeskChanged.from_dict(json.loads(json.dumps(change.to_dict()))))


def _process(name: str, *, leads: bool = True) -> tuple[AgentService, _Phones, _Desk]:
    phones, desk = _Phones(), _Desk(name)
    service = AgentService(
        phones,  # type: ignore[arg-type]
        AgentsSettings(interface="Local/{extension}@sim-agents"),
        ALL,
        desk,
    )
    service.leads = lambda: leads
    return service, phones, desk


def _event(kind: MemberEventKind, linkedid: str = "", **kw: object) -> MemberEvent:
    return MemberEvent(kind, "appointments", IFACE, "alice", linkedid, 1.0, **kw)  # type: ignore[arg-type]


def _relay(changes: list[DeskChanged], *to: AgentService) -> None:
    for change in changes:
        for service in to:
            service.apply_change(change)


def _pauses(phones: _Phones) -> list[tuple[object, object]]:
    return [
        (a["Paused"], a.get("Reason", "")) for a in phones.actions if a["Action"] == "QueuePause"
    ]


async def test_a_sign_in_and_a_pause_made_on_a_are_known_on_b_without_touching_asterisk() -> None:
    a, _, desk_a = _process("a")
    b, phones_b, desk_b = _process("b")
    await a.sign_in(7, "alice", "1001", session_bound=True)
    await a.pause("alice", "lunch")
    _relay(desk_a.changes, b)
    _relay(desk_a.changes, b)  # twice: a catch-up after a reconnect
    status = b.require("alice")
    assert (status.user_id, status.interface, status.session_bound) == (7, IFACE, True)
    assert status.queues == set(ALL)
    assert (status.state.value, status.pause_reason) == ("paused", "lunch")
    assert desk_b.states == [("alice", "ready"), ("alice", "paused")]
    assert phones_b.actions == []
    # B follows the agent's calls from its own AMI events now.
    b.on_member_event(_event(MemberEventKind.CALLED, "c1"))
    assert b.require("alice").state.value == "ringing"


async def test_a_pause_announced_late_does_not_undo_a_resume_made_since() -> None:
    # B pauses; A hears Asterisk's event of it and the agent resumes through A, all before
    # B's announcement of the pause comes through the database (CI saw A stuck "paused" and
    # its stale pause sent back to Asterisk at the end of the next wrap-up).
    a, _, desk_a = _process("a")
    b, _, desk_b = _process("b")
    await a.sign_in(7, "alice", "1001", session_bound=True)
    _relay(desk_a.changes, b)
    await b.pause("alice", "break")
    a.on_member_event(_event(MemberEventKind.PAUSE, paused=True, reason="break"))
    assert a.require("alice").state.value == "paused"
    await a.resume("alice")
    _relay(desk_b.changes, a)  # the pause, late
    assert a.require("alice").state.value == "ready"
    # An announcement newer than what A knows is applied as before.
    await b.pause("alice", "lunch")
    _relay(desk_b.changes[-1:], a)
    assert (a.require("alice").state.value, a.require("alice").pause_reason) == (
        "paused",
        "lunch",
    )


async def test_the_wrap_up_hold_and_release_are_sent_by_the_leader_only() -> None:
    a, phones_a, desk_a = _process("a", leads=False)
    b, phones_b, _ = _process("b", leads=True)
    await a.sign_in(7, "alice", "1001")
    _relay(desk_a.changes, b)
    phones_a.actions.clear()
    for service in (a, b):  # both hear the call from Asterisk
        service.on_member_event(_event(MemberEventKind.CONNECT, "c1"))
        service.on_member_event(_event(MemberEventKind.COMPLETE, "c1"))
    await b.settled("alice")
    assert a.require("alice").held and b.require("alice").held
    assert _pauses(phones_a) == []
    assert _pauses(phones_b) == [("true", WRAPUP_HOLD_REASON)]

    # The disposition is saved on A (a follower): B releases the phone, A sends nothing.
    desk_a.changes.clear()
    a.wrap_up_done("alice", "c1")
    _relay(desk_a.changes, b)
    _relay(desk_a.changes, b)
    await b.settled("alice")
    for service in (a, b):
        status = service.require("alice")
        assert (status.state.value, status.held) == ("ready", False)
    assert _pauses(phones_a) == []
    assert _pauses(phones_b) == [("true", WRAPUP_HOLD_REASON), ("false", "")]


async def test_a_disposition_relayed_before_the_agent_complete_ends_wrap_up_as_it_begins() -> None:
    a, _, desk_a = _process("a", leads=False)
    b, phones_b, _ = _process("b", leads=True)
    await a.sign_in(7, "alice", "1001")
    _relay(desk_a.changes, b)
    b.on_member_event(_event(MemberEventKind.CONNECT, "c2"))
    desk_a.changes.clear()
    a.on_member_event(_event(MemberEventKind.CONNECT, "c2"))
    a.on_member_event(_event(MemberEventKind.COMPLETE, "c2"))
    a.wrap_up_done("alice", "c2")
    _relay(desk_a.changes, b)  # B's AgentComplete comes after the relayed disposition
    b.on_member_event(_event(MemberEventKind.COMPLETE, "c2"))
    await b.settled("alice")
    assert b.require("alice").state.value == "ready"
    assert _pauses(phones_b) == []


async def test_a_sign_out_is_applied_once_and_a_process_skips_its_own_changes() -> None:
    a, _, desk_a = _process("a")
    b, phones_b, desk_b = _process("b")
    await a.sign_in(7, "alice", "1001")
    _relay(desk_a.changes, b)
    desk_a.changes.clear()
    await a.sign_out("alice")
    _relay(desk_a.changes, a, b)  # A's own change comes back to it: skipped
    _relay(desk_a.changes, b)
    assert a.status("alice") is None and b.status("alice") is None
    assert desk_b.states == [("alice", "ready"), ("alice", "signed_out")]
    assert phones_b.actions == []
    # Member events of that phone are nobody's on B now.
    b.on_member_event(_event(MemberEventKind.CALLED, "c3"))
    assert desk_b.states[-1] == ("alice", "signed_out")


async def test_a_sign_in_elsewhere_on_a_known_phone_replaces_its_agent() -> None:
    a, _, desk_a = _process("a")
    b, _, desk_b = _process("b")
    await b.sign_in(8, "bob", "1001")
    # bob's session ended on A and alice took the phone there: B hears only alice's sign-in.
    await a.sign_in(7, "alice", "1001")
    _relay(desk_a.changes, b)
    assert b.status("bob") is None
    assert b.require("alice").interface == IFACE
    assert ("bob", "signed_out") in desk_b.states


async def test_pops_follow_what_the_agent_did_on_another_process() -> None:
    b, _, desk_b = _process("b")
    await b.sign_in(7, "alice", "1001")
    pops = ScreenPops(
        agents=b,
        calls=_NoCalls(),  # type: ignore[arg-type]
        patients=None,  # type: ignore[arg-type]
        history=None,  # type: ignore[arg-type]
        database=None,  # type: ignore[arg-type]
        notifier=desk_b,
        timezone=UTC,  # type: ignore[arg-type]
    )
    pops.shows = lambda _username: False  # the agent's browser is on another process
    pops.on_ringing(
        AgentRinging(
            linkedid="c4",
            interface=IFACE,
            queue="appointments",
            member_name="alice",
            caller_number=None,
            caller_name=None,
            waited_seconds=1.0,
            at=datetime.now(UTC),
        )
    )
    assert pops.get("alice", "c4").match == "pending"  # no card built here
    # The browser connects here: the open pops get their cards.
    await pops.show_cards("alice")
    assert pops.get("alice", "c4").match == "unknown"  # no caller ID: the new-patient form

    def change(kind: DeskChange, **data: object) -> DeskChanged:
        return DeskChanged(kind, "alice", "a", 7, "c4", dict(data))

    pops.apply_change(change(DeskChange.POP_HOLD, since=12.5))
    pops.apply_change(change(DeskChange.POP_HOLD, since=12.5))
    assert pops.get("alice", "c4").held_at == 12.5
    pops.apply_change(change(DeskChange.POP_CONSULT, state="calling", target="1002"))
    assert pops.get("alice", "c4").consult == {"target": "1002", "state": "calling"}
    pops.apply_change(change(DeskChange.POP_DISMISSED))
    pops.apply_change(change(DeskChange.POP_DISMISSED))
    assert pops.open_pops("alice") == []
    # One message each: ringing, its card, on hold, consulting, closed (none for repeats).
    assert [(p["phase"], p["held_at"]) for p in desk_b.pops] == [
        ("ringing", None),
        ("ringing", None),
        ("ringing", 12.5),
        ("ringing", 12.5),
        ("closed", 12.5),
    ]


def test_browsers_announced_by_other_processes_are_tracked_per_process() -> None:
    _, _, desk_b = _process("b")
    pops = ScreenPops(
        agents=None,  # type: ignore[arg-type]
        calls=_NoCalls(),  # type: ignore[arg-type]
        patients=None,  # type: ignore[arg-type]
        history=None,  # type: ignore[arg-type]
        database=None,  # type: ignore[arg-type]
        notifier=desk_b,
        timezone=UTC,  # type: ignore[arg-type]
    )

    def browser(origin: str, is_open: bool) -> DeskChanged:
        return DeskChanged(DeskChange.BROWSER, "alice", origin, None, "", {"open": is_open})

    assert not pops.browsers_elsewhere("alice")
    pops.apply_change(browser("a", True))
    pops.apply_change(browser("c", True))
    pops.apply_change(browser("a", False))
    assert pops.browsers_elsewhere("alice")  # still open on c
    pops.apply_change(browser("c", False))
    pops.apply_change(browser("b", True))  # b's own announcement: skipped
    assert not pops.browsers_elsewhere("alice")
    # This process announces its own browsers the same way.
    pops.browser_here("alice", True)
    assert [(c.kind, c.data) for c in desk_b.changes] == [(DeskChange.BROWSER, {"open": True})]


class _NoCalls:
    def get(self, _linkedid: str) -> None:
        return None


def test_a_follower_tracks_the_history_but_stores_nothing() -> None:
    writer = AgentHistoryWriter(None, None)  # type: ignore[arg-type]
    leading = False
    writer.writes = lambda: leading

    def change(state: str) -> AgentStateChanged:
        agent = {"state": state, "pause_reason": "", "extension": "1001", "since": 5.0}
        return AgentStateChanged("alice", agent, user_id=7)

    writer.record(change("ready"))
    assert writer._pending == []
    # Elected: goes on from the state it followed, and hands the changes it saw while
    # following to the store (which skips those the old leader stored).
    leading = True
    writer.record(change("ready"))
    writer.record(change("ringing"))
    assert [c.state for c in writer._pending] == ["ready", "ringing"]


def test_call_controls_marks_reach_the_other_process_and_a_repeat_changes_nothing() -> None:
    desk_a, desk_b = _Desk("a"), _Desk("b")
    on_a: SharedMarks[str] = SharedMarks(DeskChange.CONFERENCE, desk_a, _as_data, _of_data)
    on_b: SharedMarks[str] = SharedMarks(DeskChange.CONFERENCE, desk_b, _as_data, _of_data)
    on_a["alice"] = "c5"
    for change in desk_a.changes * 2:
        on_a.apply(change)  # its own: skipped
        on_b.apply(change)
    assert on_b.get("alice") == "c5" and desk_b.changes == []
    desk_a.changes.clear()
    assert on_a.pop("alice") == "c5"
    assert on_a.pop("alice") is None  # gone already: nothing more to announce
    assert len(desk_a.changes) == 1
    for change in desk_a.changes * 2:
        on_b.apply(change)
    assert "alice" not in on_b
    # A change of another kind (a pop's hold) is not this mapping's.
    on_b.apply(DeskChanged(DeskChange.POP_HOLD, "alice", "a", 7, "c5", {"mark": {"v": "x"}}))
    assert "alice" not in on_b


def _as_data(value: str) -> dict[str, Any]:
    return {"v": value}


def _of_data(data: dict[str, Any]) -> str:
    return str(data["v"])


async def test_queues_changed_on_a_are_the_ones_b_restores() -> None:
    answers: dict[int, tuple[str, ...] | None] = {7: ("cardio",)}

    async def queues_for(user_id: int) -> tuple[str, ...] | None:
        return answers[user_id]

    desk_a = _Desk("a")
    a = AgentService(
        _Phones(),  # type: ignore[arg-type]
        AgentsSettings(interface="Local/{extension}@sim-agents"),
        ALL,
        desk_a,
        queues_for=queues_for,
    )
    b, phones_b, _ = _process("b")
    await a.sign_in(7, "alice", "1001")
    answers[7] = ("billing", "enquiries")  # the agent's skills changed in the console on A
    await a.refresh_memberships()
    _relay(desk_a.changes, b)
    # Asterisk restarted: B, reconnecting first, puts the agent back in their queues of now.
    await b.restore_memberships(AmiSnapshot((), (), 0.0))
    assert phones_b.members("QueueAdd") == ["billing", "enquiries"]
