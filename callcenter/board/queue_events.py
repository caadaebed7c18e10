"""AMI queue events the supervisor board reads, parsed at the edge into small typed objects.

The board needs who waits in which queue (``QueueCallerJoin``/``Leave``/``Abandon`` and the
``QueueEntry`` rows of a ``QueueStatus`` resync), each member's device state and pause
(``QueueMember*`` events, the ``QueueMember`` rows of a resync) and each queue's service-level
threshold (``QueueParams``). Nothing past this module reads raw AMI headers; a member's own
headers are read by :func:`callcenter.ami.queue_members.queue_member_of`.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.ami.events import AmiEvent
from callcenter.ami.queue_members import DeviceStatus, queue_member_of

# Names of the AMI events that change the board (the bus predicate uses it).
CALLER_EVENTS = frozenset({"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon"})
MEMBER_EVENTS = frozenset(
    {
        "QueueMemberStatus",
        "QueueMemberPause",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPenalty",
        "QueueMemberRinginuse",
    }
)
AGENT_EVENTS = frozenset({"AgentComplete"})
BOARD_EVENTS = CALLER_EVENTS | MEMBER_EVENTS | AGENT_EVENTS


@dataclass(frozen=True, slots=True)
class CallerJoined:
    queue: str
    uniqueid: str
    linkedid: str
    since: float  # wall-clock seconds when the caller joined


@dataclass(frozen=True, slots=True)
class CallerLeft:
    queue: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class MemberUpdate:
    """A queue member as Asterisk reports it; ``removed`` when it left the queue."""

    queue: str
    interface: str
    name: str
    status: DeviceStatus
    paused: bool
    paused_reason: str
    removed: bool = False


@dataclass(frozen=True, slots=True)
class AgentCallDone:
    """``AgentComplete``: the member's queue call ended (its wrap-up time starts)."""

    queue: str
    interface: str
    linkedid: str


@dataclass(frozen=True, slots=True)
class QueueParams:
    queue: str
    service_level_seconds: int


BoardInput = CallerJoined | CallerLeft | MemberUpdate | AgentCallDone


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def _member(event: AmiEvent) -> MemberUpdate:
    member = queue_member_of(event)
    return MemberUpdate(
        queue=member.queue,
        interface=member.interface,
        name=member.name or member.interface,
        status=DeviceStatus.UNKNOWN if member.status is None else member.status,
        paused=member.paused is True,
        paused_reason=member.paused_reason,
        removed=event.name == "QueueMemberRemoved",
    )


def parse_board_event(event: AmiEvent) -> BoardInput | None:
    """The board's view of one live AMI event, or None when it says nothing to the board."""
    name = event.name
    if name == "QueueCallerJoin":
        return CallerJoined(event.queue, event.uniqueid, event.linkedid, event.received_at)
    if name in CALLER_EVENTS:
        return CallerLeft(event.queue, event.uniqueid)
    if name in MEMBER_EVENTS:
        return _member(event)
    if name == "AgentComplete":
        interface = event.get("Interface") or event.get("DestChannel")
        return AgentCallDone(event.queue, interface, event.linkedid)
    return None


def parse_queue_entry(event: AmiEvent, taken_at: float) -> CallerJoined:
    """A ``QueueEntry`` row of ``QueueStatus``: ``Wait`` is seconds waited when it was read."""
    wait = _int(event.get("Wait"))
    return CallerJoined(event.queue, event.uniqueid, event.linkedid, taken_at - wait)


def parse_queue_member(event: AmiEvent) -> MemberUpdate:
    """A ``QueueMember`` row of ``QueueStatus`` (its interface header is ``Location``)."""
    return _member(event)


def parse_queue_params(event: AmiEvent) -> QueueParams:
    return QueueParams(event.queue, _int(event.get("ServiceLevel")))
