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
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from callcenter.agents.member_events import MemberEvent, MemberEventKind
from callcenter.agents.pops import ScreenPops
from callcenter.agents.services import AgentService
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.bus import EventBus, Subscription
from callcenter.calls.state import AgentRinging, CallAnswered

_LOG = logging.getLogger(__name__)
_NAMES = frozenset({"DialBegin", "DialEnd", "Hangup", "AttendedTransfer"})
_CONSULT_CONTEXTS = frozenset({const.CONTEXT_CONSULT, const.CONTEXT_CONSULT_NUMBER})


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


class TransferFollower:
    def __init__(self, bus: EventBus, agents: AgentService, pops: ScreenPops) -> None:
        self._bus = bus
        self._agents = agents
        self._pops = pops
        self._followed: dict[str, Followed] = {}
        self._subscription: Subscription[AmiEvent] | None = None

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(
            AmiEvent,
            self._on_event,
            name="agent-transfers",
            predicate=lambda e: e.name in _NAMES and e.linkedid in self._followed,
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()

    def follow(self, followed: Followed) -> None:
        self._followed[followed.linkedid] = followed

    def forget(self, linkedid: str) -> Followed | None:
        return self._followed.pop(linkedid, None)

    def get(self, linkedid: str) -> Followed | None:
        return self._followed.get(linkedid)

    # -- events --------------------------------------------------------------------------------

    async def _on_event(self, event: AmiEvent) -> None:
        followed = self._followed.get(event.linkedid)
        if followed is None:
            return
        if event.name == "AttendedTransfer":
            if event.get("Result") == "Success":
                self.forget(followed.linkedid)
                self._arrived(followed)
            return
        if followed.attended:
            if (
                event.name == "Hangup"
                and event.get("Context") in _CONSULT_CONTEXTS
                and event.channel.endswith(";1")
            ):
                # The consultation leg is gone: completed (AttendedTransfer comes first),
                # cancelled (forgotten before), or the consulted party hung up.
                self.forget(followed.linkedid)
                followed.consult_over = True
                self._pops.set_consult(followed.from_user, followed.linkedid, "hung_up")
                _LOG.info("consultation ended by the other party linkedid=%s", event.linkedid)
            elif event.name == "DialEnd" and event.get("DialStatus") == "ANSWER":
                self._pops.set_consult(followed.from_user, followed.linkedid, "talking")
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
        self._pops.transferred(followed.from_user, followed.linkedid)
        if followed.target_interface is None:
            return
        self._ring(followed)
        self._answer(followed)
        _LOG.info(
            "attended transfer to %s completed linkedid=%s", followed.target_user, followed.linkedid
        )
