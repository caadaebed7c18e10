"""Queue-member AMI events, parsed at the edge into one small typed object.

Asterisk 22 sends these to sessions with read class "agent". The member events
(``QueueMemberAdded``, ``...Removed``, ``...Pause``, ``...Status``) describe the member;
``AgentCalled``, ``AgentConnect``, ``AgentComplete``, ``AgentRingNoAnswer`` and ``AgentDump``
describe one queue call ringing that member, and carry the *caller's* channel fields (its
Linkedid is the call's), with the member's channel in the ``Dest*`` headers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from callcenter.ami_events import AmiEvent


class MemberEventKind(enum.StrEnum):
    ADDED = "QueueMemberAdded"
    REMOVED = "QueueMemberRemoved"
    PAUSE = "QueueMemberPause"
    STATUS = "QueueMemberStatus"
    CALLED = "AgentCalled"
    CONNECT = "AgentConnect"
    COMPLETE = "AgentComplete"
    RING_NO_ANSWER = "AgentRingNoAnswer"
    DUMP = "AgentDump"


class DeviceStatus(enum.IntEnum):
    """The member's device state (``Status`` header; Asterisk's ast_device_state)."""

    UNKNOWN = 0
    NOT_INUSE = 1
    INUSE = 2
    BUSY = 3
    INVALID = 4
    UNAVAILABLE = 5
    RINGING = 6
    RINGINUSE = 7
    ONHOLD = 8


MEMBER_EVENT_NAMES = frozenset(kind.value for kind in MemberEventKind)


@dataclass(frozen=True, slots=True)
class MemberEvent:
    kind: MemberEventKind
    queue: str
    interface: str
    member_name: str
    linkedid: str
    received_at: float
    paused: bool | None = None
    reason: str = ""
    status: DeviceStatus | None = None
    in_call: bool | None = None


def _flag(value: str) -> bool | None:
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    return None


def _status(value: str) -> DeviceStatus | None:
    try:
        return DeviceStatus(int(value))
    except ValueError:
        return None


def parse_member_event(event: AmiEvent) -> MemberEvent | None:
    """The typed form of a queue-member event, or None for any other event."""
    try:
        kind = MemberEventKind(event.name)
    except ValueError:
        return None
    interface = event.get("Interface") or event.get("Location")
    if not interface:
        return None
    # QueueMemberPause carries the reason as PausedReason (and, in older versions, Reason).
    reason = event.get("PausedReason") or event.get("Reason")
    return MemberEvent(
        kind=kind,
        queue=event.queue,
        interface=interface,
        member_name=event.get("MemberName"),
        linkedid=event.linkedid,
        received_at=event.received_at,
        paused=_flag(event.get("Paused")),
        reason=reason if kind in (MemberEventKind.PAUSE, MemberEventKind.ADDED) else "",
        status=_status(event.get("Status")),
        in_call=_flag(event.get("InCall")),
    )
