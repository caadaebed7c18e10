"""What one call is, computed from its AMI events: pure logic, no I/O.

A call is every channel sharing one Linkedid: the caller's channel, both halves of each Local
channel pair, and the legs a queue rings. ``LiveCall.apply`` folds one event into the call and
returns the domain notices it caused (started, queued, agent ringing, answered, ended); the
tracker persists and publishes them. Feeding the stored events of a call through a new
``LiveCall`` gives the same record again.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from callcenter.ami.events import AmiEvent

# Asterisk's ChannelState for "Up" (answered).
_STATE_UP = "6"


class EndReason(enum.StrEnum):
    COMPLETED = "completed"  # an agent (or the callee of an outbound call) talked to the caller
    ABANDONED = "abandoned_in_queue"  # the caller hung up while waiting for an agent
    QUEUE_TIMEOUT = "queue_timeout"  # left the queue unanswered without hanging up
    IVR_HANGUP = "caller_hung_up_in_ivr"
    NOT_ANSWERED = "not_answered"
    HUNG_UP = "hung_up"
    # Reconciliation: the hang-up itself was never seen.
    MISSED_HANGUP = "gone_from_asterisk"  # absent from CoreShowChannels while the link was up
    LINK_LOST = "asterisk_unreachable"  # the AMI link dropped (crash, network) while it was live
    ASTERISK_SHUTDOWN = "asterisk_shut_down"
    SERVER_RESTART = "server_restarted"  # our server was down when the call ended


def event_time(event: AmiEvent) -> datetime:
    return datetime.fromtimestamp(event.received_at, UTC)


@dataclass(frozen=True, slots=True)
class CallStarted:
    linkedid: str
    direction: str
    caller_number: str | None
    caller_name: str | None
    dialled_number: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CallQueued:
    linkedid: str
    queue: str
    position: int
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentRinging:
    linkedid: str
    queue: str
    interface: str
    member_name: str
    caller_number: str | None
    caller_name: str | None
    waited_seconds: float | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CallAnswered:
    linkedid: str
    queue: str | None
    interface: str | None
    waited_seconds: float | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CallEnded:
    linkedid: str
    reason: str
    abandoned: bool
    hangup_cause: int | None
    at: datetime


Notice = CallStarted | CallQueued | AgentRinging | CallAnswered | CallEnded


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _clip(value: str, limit: int) -> str | None:
    """Caller-supplied text is stored as data, cut to the column's size."""
    return value[:limit] if value else None


@dataclass
class LiveCall:
    """The running record of one call; ``row()`` gives its ``calls`` table values."""

    linkedid: str
    started_at: datetime
    direction: str = "internal"
    caller_number: str | None = None
    caller_name: str | None = None
    dialled_number: str | None = None
    # Uniqueid of each channel up -> when we first saw it (AMI received_at).
    channels: dict[str, float] = field(default_factory=dict)
    first_uniqueid: str | None = None
    patient_id: int | None = None
    ivr_entered_at: datetime | None = None
    ivr_left_at: datetime | None = None
    ivr_last_step: str | None = None
    ivr_context: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    queued_at: datetime | None = None
    queue_wait_seconds: float | None = None
    queue_left_at: datetime | None = None
    abandoned: bool = False
    agent_interface: str | None = None
    # The agent's own channel in this call (AgentConnect's DestChannel, e.g.
    # "PJSIP/1001-0000002a"): what live monitoring spies on. Not stored in the call log.
    agent_channel: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_cause: int | None = None
    end_reason: str | None = None
    transfers: int = 0
    campaign_attempt_id: int | None = None
    announced: bool = False

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def row(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "direction": self.direction,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "dialled_number": self.dialled_number,
            "patient_id": self.patient_id,
            "started_at": self.started_at,
            "ivr_entered_at": self.ivr_entered_at,
            "ivr_left_at": self.ivr_left_at,
            "ivr_last_step": self.ivr_last_step,
            "ivr_context": self.ivr_context,
            "queue": self.queue,
            "queued_at": self.queued_at,
            "queue_wait_seconds": self.queue_wait_seconds,
            "abandoned": self.abandoned,
            "agent_interface": self.agent_interface,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "hangup_cause": self.hangup_cause,
            "end_reason": self.end_reason,
            "transfers": self.transfers,
            "campaign_attempt_id": self.campaign_attempt_id,
        }

    # -- folding events ----------------------------------------------------------------------

    def apply(self, event: AmiEvent, inbound_contexts: frozenset[str]) -> list[Notice]:
        """Fold one event of this call in; return the notices it caused."""
        if self.ended:
            return []
        handler = _HANDLERS.get(event.name)
        notices = handler(self, event, inbound_contexts) if handler else []
        if event.uniqueid == self.first_uniqueid:
            self.note_caller(event)
        if not self.announced and self.first_uniqueid is not None:
            self.announced = True
            notices.insert(0, self._started())
        return notices

    def _started(self) -> CallStarted:
        return CallStarted(
            self.linkedid,
            self.direction,
            self.caller_number,
            self.caller_name,
            self.dialled_number,
            self.started_at,
        )

    def _on_newchannel(self, event: AmiEvent, inbound: frozenset[str]) -> list[Notice]:
        self.channels.setdefault(event.uniqueid, event.received_at)
        if self.first_uniqueid is None or event.uniqueid == self.linkedid:
            # The channel whose Uniqueid is the Linkedid created the call: it is the caller
            # (inbound) or the dialled party (an Originate).
            self.first_uniqueid = event.uniqueid
            self.caller_number = _clip(event.caller_id_num.replace("<unknown>", ""), 80)
            self.caller_name = _clip(event.caller_id_name.replace("<unknown>", ""), 200)
            self.dialled_number = _clip(event.get("Exten"), 80)
            if event.get("Context") in inbound:
                self.direction = "inbound"
        return []

    def note_caller(self, event: AmiEvent) -> None:
        """Caller ID often arrives after Newchannel (NewCallerid, or the first Newstate)."""
        number = event.caller_id_num.replace("<unknown>", "")
        name = event.caller_id_name.replace("<unknown>", "")
        if number and (self.caller_number is None or event.name == "NewCallerid"):
            self.caller_number = _clip(number, 80)
        if name and (self.caller_name is None or event.name == "NewCallerid"):
            self.caller_name = _clip(name, 200)

    def _on_newstate(self, event: AmiEvent, _inbound: frozenset[str]) -> list[Notice]:
        self.channels.setdefault(event.uniqueid, event.received_at)
        if (
            self.direction == "outbound"
            and event.uniqueid == self.first_uniqueid
            and event.get("ChannelState") == _STATE_UP
            and self.answered_at is None
        ):
            self.answered_at = event_time(event)
            return [CallAnswered(self.linkedid, None, None, None, self.answered_at)]
        return []

    def _on_queue_join(self, event: AmiEvent, _inbound: frozenset[str]) -> list[Notice]:
        if self.direction == "internal":
            self.direction = "inbound"
        self.queue = event.queue
        self.queued_at = event_time(event)
        return [
            CallQueued(self.linkedid, event.queue, _int(event.get("Position")) or 0, self.queued_at)
        ]

    def _waited(self, event: AmiEvent) -> float | None:
        held = _float(event.get("HoldTime"))
        if held is not None:
            return held
        if self.queued_at is not None:
            return (event_time(event) - self.queued_at).total_seconds()
        return None

    def _on_agent_called(self, event: AmiEvent, _inbound: frozenset[str]) -> list[Notice]:
        interface = event.get("Interface") or event.get("DestChannel")
        self.queue = self.queue or event.queue
        return [
            AgentRinging(
                self.linkedid,
                event.queue,
                interface,
                event.get("MemberName"),
                self.caller_number,
                self.caller_name,
                self._waited(event),
                event_time(event),
            )
        ]

    def _on_agent_connect(self, event: AmiEvent, _inbound: frozenset[str]) -> list[Notice]:
        # Answered wins over anything said about abandonment: a QueueCallerAbandon racing the
        # connect must not turn an answered call into an abandoned one.
        self.abandoned = False
        self.answered_at = self.answered_at or event_time(event)
        self.agent_interface = event.get("Interface") or self.agent_interface
        self.agent_channel = event.get("DestChannel") or self.agent_channel
        self.queue_wait_seconds = self._waited(event)
        return [
            CallAnswered(
                self.linkedid,
                event.queue,
                self.agent_interface,
                self.queue_wait_seconds,
                self.answered_at,
            )
        ]

    def _on_queue_abandon(self, event: AmiEvent, _inbound: frozenset[str]) -> list[Notice]:
        if self.answered_at is None:
            self.abandoned = True
            self.queue_wait_seconds = self._waited(event)
        return []

    def _on_queue_leave(self, event: AmiEvent, _inbound: frozenset[str]) -> list[Notice]:
        # Sent both when an agent answers and when the caller leaves unanswered.
        self.queue_left_at = event_time(event)
        if self.queue_wait_seconds is None and self.answered_at is None:
            self.queue_wait_seconds = self._waited(event)
        return []

    def _on_transfer(self, event: AmiEvent, _inbound: frozenset[str]) -> list[Notice]:
        if event.get("Result", "Success") == "Success":
            self.transfers += 1
        return []

    def _on_hangup(self, event: AmiEvent, _inbound: frozenset[str]) -> list[Notice]:
        self.channels.pop(event.uniqueid, None)
        if event.uniqueid == self.first_uniqueid or self.hangup_cause is None:
            cause = _int(event.get("Cause"))
            if event.uniqueid == self.first_uniqueid or cause:
                self.hangup_cause = cause
        if self.channels:
            return []
        return [self.end(self._natural_reason(), event_time(event))]

    def _natural_reason(self) -> EndReason:
        if self.answered_at is not None:
            return EndReason.COMPLETED
        if self.abandoned:
            return EndReason.ABANDONED
        if self.queued_at is not None:
            return EndReason.QUEUE_TIMEOUT
        if self.ivr_entered_at is not None:
            return EndReason.IVR_HANGUP
        if self.direction == "outbound":
            return EndReason.NOT_ANSWERED
        return EndReason.HUNG_UP

    def resync_channels(self, live: Iterable[str], taken_at: float) -> None:
        """Asterisk's channels of this call after a reconnect: legs that hung up while we
        were not listening are dropped (their Hangup never comes); legs newer than the
        snapshot are kept."""
        current = set(live)
        kept = {u: t for u, t in self.channels.items() if u in current or t > taken_at}
        self.channels = {**dict.fromkeys(current, taken_at), **kept}

    def end(self, reason: str, at: datetime) -> CallEnded:
        """Close the call (a hang-up, or reconciliation found it gone)."""
        self.ended_at = at
        self.end_reason = str(reason)
        self.channels.clear()
        if self.ivr_entered_at is not None and self.ivr_left_at is None:
            self.ivr_left_at = at
        return CallEnded(self.linkedid, self.end_reason, self.abandoned, self.hangup_cause, at)


_HANDLERS = {
    "Newchannel": LiveCall._on_newchannel,
    "Newstate": LiveCall._on_newstate,
    "QueueCallerJoin": LiveCall._on_queue_join,
    "QueueCallerAbandon": LiveCall._on_queue_abandon,
    "QueueCallerLeave": LiveCall._on_queue_leave,
    "AgentCalled": LiveCall._on_agent_called,
    "AgentConnect": LiveCall._on_agent_connect,
    "BlindTransfer": LiveCall._on_transfer,
    "AttendedTransfer": LiveCall._on_transfer,
    "Hangup": LiveCall._on_hangup,
}
# The events that change a call's facts (the others only refresh its caller ID): what
# ``reports rebuild`` reads back (callcenter/calls/rebuild.py).
FACT_EVENTS = frozenset(_HANDLERS)


@dataclass(frozen=True, slots=True)
class IvrProgress:
    """Published by the IVR: the caller reached ``step``; ``context`` is merged into the call's
    IVR context (identity confirmed, choices, failures) for the agent's screen pop."""

    linkedid: str
    step: str
    context: dict[str, Any] = field(default_factory=dict)
    left: bool = False
    patient_id: int | None = None

    # Plain data and back: the FastAGI dialog ran in one process, the agent's pop may be
    # built in another (callcenter/cluster/relay.py carries it).
    def to_dict(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "step": self.step,
            "context": self.context,
            "left": self.left,
            "patient_id": self.patient_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IvrProgress:
        patient_id = data.get("patient_id")
        return cls(
            linkedid=str(data["linkedid"]),
            step=str(data["step"]),
            context=dict(data.get("context") or {}),
            left=bool(data.get("left", False)),
            patient_id=int(patient_id) if patient_id is not None else None,
        )


def apply_ivr(call: LiveCall, progress: IvrProgress, at: datetime) -> None:
    """Fold IVR progress into the call (not an AMI event: it comes from our own FastAGI)."""
    if call.direction == "internal":
        call.direction = "inbound"
    if call.ivr_entered_at is None:
        call.ivr_entered_at = at
    call.ivr_last_step = progress.step[:80]
    call.ivr_context = {**call.ivr_context, **progress.context}
    if progress.patient_id is not None:
        call.patient_id = progress.patient_id
    if progress.left:
        call.ivr_left_at = at
