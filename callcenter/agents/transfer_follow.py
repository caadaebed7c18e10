"""The pop and the agent state follow a call transferred to an agent (not through a queue).

A transfer to a queue needs nothing here: the queue's ``AgentCalled`` and ``AgentConnect``
pop the call on the next agent's desk as for any queue call. A transfer to an agent's phone is
a plain ``Dial`` (blind) or an ``Atxfer`` consultation (attended), which Asterisk reports with
dial and transfer events only; this follower turns them into the same pop phases and the same
agent state (on the call, then wrap-up when the phone hangs up) as a queue call gives:

- blind: ``DialBegin`` to the target agent's phone rings the pop; ``DialEnd`` ``ANSWER``
  answers it, anything else misses it (the caller goes back to their queue);
- attended: the consultation's leg hanging up before the transfer was completed or cancelled
  means the consulted party hung up (the agent is back with the caller, the desk says so);
  ``AttendedTransfer`` ``Success`` moves the call to the target agent.

With several server processes every one follows every transfer: the agent's next click
(complete, cancel) and their browser may be on any process, and the target agent's pop must
appear wherever their browser is. The process that starts a transfer announces it
(call control's ``DeskChange.TRANSFER``, through the relay); each other process
:meth:`TransferFollower.adopt`s it and derives the pops' phases from its own AMI events, as
the starter does. Asterisk may report the transfer's first events to a process before the
announcement reaches it through the database, so the events of calls not followed are kept
a few seconds (:data:`BACKLOG_SECONDS`) and those of an adopted transfer replayed.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from callcenter.agents.member_events import MemberEvent, MemberEventKind
from callcenter.agents.notifier import DeskChange, DeskChanged
from callcenter.agents.pops import ScreenPops
from callcenter.agents.services import AgentService
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.bus import EventBus, Subscription
from callcenter.calls.state import AgentRinging, CallAnswered

_LOG = logging.getLogger(__name__)
_NAMES = frozenset({"DialBegin", "DialEnd", "Hangup", "AttendedTransfer"})
_CONSULT_CONTEXTS = frozenset({const.CONTEXT_CONSULT, const.CONTEXT_CONSULT_NUMBER})
# The events of calls not followed, kept for a transfer another process announces late: the
# relay takes milliseconds, a few seconds when the database is slow.
BACKLOG_SECONDS = 10.0
BACKLOG_EVENTS = 5000
# Of those, the ones heard from this long before the starter's clock said it started (two
# machines' clocks, NTP-synchronised, and their AMI sessions differ by milliseconds). Shorter
# than call control's pause after a cancelled consultation, whose events are not replayed.
CLOCK_MARGIN = 0.5
ADOPTED_KEPT = 1000
# The origin of the pop changes each process derives from Asterisk's events itself.
_ASTERISK = "asterisk"


@dataclass
class Followed:
    """One transfer in progress, by the call's Linkedid."""

    linkedid: str
    from_user: str
    attended: bool
    target_user: str | None = None  # an agent's login (None: a number)
    target_interface: str | None = None
    # Attended: the consultation ended by the consulted party, not by the desk.
    consult_over: bool = False
    # What the desk shows as the target (an agent's login, a number); when it began (wall
    # clock, the starting process's).
    shown: str = ""
    started_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "from_user": self.from_user,
            "attended": self.attended,
            "target_user": self.target_user,
            "target_interface": self.target_interface,
            "shown": self.shown,
            "started_at": self.started_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Followed:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return cls(
            linkedid=str(data["linkedid"]),
            from_user=str(data["from_user"]),
            attended=bool(data["attended"]),
            target_user=text("target_user"),
            target_interface=text("target_interface"),
            shown=str(data.get("shown") or ""),
            started_at=float(data.get("started_at") or 0.0),
        )


class TransferFollower:
    def __init__(self, bus: EventBus, agents: AgentService, pops: ScreenPops) -> None:
        self._bus = bus
        self._agents = agents
        self._pops = pops
        self._followed: dict[str, Followed] = {}
        self._subscription: Subscription[AmiEvent] | None = None
        # The transfer events of calls not followed (newest last), for adopt's replay.
        self._backlog: deque[AmiEvent] = deque(maxlen=BACKLOG_EVENTS)
        # (linkedid, started_at) of the transfers adopted: a repeated announcement (a relay
        # catch-up) replays nothing twice.
        self._adopted: dict[tuple[str, float], None] = {}

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(
            AmiEvent, self._on_event, name="agent-transfers", predicate=lambda e: e.name in _NAMES
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()

    def follow(self, followed: Followed) -> None:
        """This process starts the transfer: follow it (before anything is sent to Asterisk)."""
        self._followed[followed.linkedid] = followed
        if followed.attended:
            self._show_consult(followed, "calling")

    def adopt(self, followed: Followed) -> None:
        """Another process started this transfer: follow it here too, from the events Asterisk
        reported of the call since it started (those that came before the announcement)."""
        key = (followed.linkedid, followed.started_at)
        if key in self._adopted:
            return
        self._adopted[key] = None
        while len(self._adopted) > ADOPTED_KEPT:
            del self._adopted[next(iter(self._adopted))]
        self.follow(followed)
        linkedid, since = followed.linkedid, followed.started_at - CLOCK_MARGIN
        heard = [e for e in self._backlog if e.linkedid == linkedid and e.received_at >= since]
        if heard:
            kept = [e for e in self._backlog if e.linkedid != linkedid]
            self._backlog = deque(kept, maxlen=BACKLOG_EVENTS)
        if followed.attended:
            # From the consultation's dial on: the leg of one cancelled before it may have
            # been taken down since.
            dials = [i for i, e in enumerate(heard) if _consult_dial(e)]
            heard = heard[dials[-1] :] if dials else []
        for event in heard:
            current = self._followed.get(linkedid)
            if current is None:
                break  # over already (completed, missed)
            _LOG.info("transfer event %s replayed linkedid=%s", event.name, linkedid)
            self._handle(current, event)

    def forget(self, linkedid: str) -> Followed | None:
        return self._followed.pop(linkedid, None)

    def get(self, linkedid: str) -> Followed | None:
        return self._followed.get(linkedid)

    # -- events --------------------------------------------------------------------------------

    async def _on_event(self, event: AmiEvent) -> None:
        followed = self._followed.get(event.linkedid)
        if followed is None:
            self._keep(event)
            return
        self._handle(followed, event)

    def _keep(self, event: AmiEvent) -> None:
        horizon = event.received_at - BACKLOG_SECONDS
        while self._backlog and self._backlog[0].received_at < horizon:
            self._backlog.popleft()
        self._backlog.append(event)

    def _handle(self, followed: Followed, event: AmiEvent) -> None:
        if event.name == "AttendedTransfer":
            if event.get("Result") == "Success":
                self.forget(followed.linkedid)
                self._arrived(followed)
            return
        if followed.attended:
            if _consult_leg_gone(event):
                # The consultation leg is gone: completed (AttendedTransfer comes first),
                # cancelled (forgotten before), or the consulted party hung up.
                self.forget(followed.linkedid)
                followed.consult_over = True
                self._show_consult(followed, "hung_up")
                _LOG.info("consultation ended by the other party linkedid=%s", event.linkedid)
            elif event.name == "DialEnd" and event.get("DialStatus") == "ANSWER":
                self._show_consult(followed, "talking")
            return
        interface = followed.target_interface
        if not interface or not event.get("DestChannel").startswith(interface + "-"):
            return
        if event.name == "DialBegin":
            self._ring(followed)
        elif event.name == "DialEnd":
            self.forget(followed.linkedid)
            if event.get("DialStatus") == "ANSWER":
                self._answer(followed)
            else:
                self._pops.on_ring_no_answer(interface, followed.linkedid)

    # -- the transferring agent's desk --------------------------------------------------------

    def _show_consult(self, followed: Followed, state: str) -> None:
        self._show(DeskChange.POP_CONSULT, followed, {"state": state, "target": followed.shown})

    def _show(
        self, kind: DeskChange, followed: Followed, data: dict[str, Any] | None = None
    ) -> None:
        # Every process hears these events from Asterisk and derives the change itself: it is
        # applied to this process's pops only, as a change from elsewhere, and not announced
        # (each process would apply every other's copy, and a copy arriving late could undo
        # a cancel the agent made meanwhile).
        self._pops.apply_change(
            DeskChanged(
                kind, followed.from_user, _ASTERISK, linkedid=followed.linkedid, data=data or {}
            )
        )

    # -- the target agent's desk -------------------------------------------------------------

    def _ring(self, followed: Followed) -> None:
        assert followed.target_interface is not None
        source = self._pops.find(followed.from_user, followed.linkedid)
        self._pops.on_ringing(
            AgentRinging(
                followed.linkedid,
                source.queue if source else "",
                followed.target_interface,
                followed.target_user or "",
                source.caller_number if source else None,
                source.caller_name if source else None,
                source.waited_seconds if source else None,
                datetime.now(UTC),
            )
        )

    def _answer(self, followed: Followed) -> None:
        assert followed.target_interface is not None
        source = self._pops.find(followed.from_user, followed.linkedid)
        queue = source.queue if source else ""
        self._pops.on_answered(
            CallAnswered(
                followed.linkedid, queue, followed.target_interface, None, datetime.now(UTC)
            )
        )
        # The agent's state as a queue's AgentConnect would set it: on this call.
        self._agents.on_member_event(
            MemberEvent(
                kind=MemberEventKind.CONNECT,
                queue=queue,
                interface=followed.target_interface,
                member_name=followed.target_user or "",
                linkedid=followed.linkedid,
                received_at=time.time(),
            )
        )

    def _arrived(self, followed: Followed) -> None:
        self._show(DeskChange.POP_TRANSFERRED, followed)
        if followed.target_interface is None:
            return
        self._ring(followed)
        self._answer(followed)
        _LOG.info(
            "attended transfer to %s completed linkedid=%s", followed.target_user, followed.linkedid
        )


def _consult_leg_gone(event: AmiEvent) -> bool:
    """The consultation's leg (the transferer's half of Atxfer's Local channel) hung up."""
    return (
        event.name == "Hangup"
        and event.get("Context") in _CONSULT_CONTEXTS
        and event.channel.endswith(";1")
    )


def _consult_dial(event: AmiEvent) -> bool:
    """The consultation's channel dials the consulted party."""
    return event.name == "DialBegin" and event.get("Context") in _CONSULT_CONTEXTS
