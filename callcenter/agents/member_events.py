"""Queue-member AMI events, parsed at the edge into one small typed object.

Asterisk 22 sends these to sessions with read class "agent". The member events
(``QueueMemberAdded``, ``...Removed``, ``...Pause``, ``...Status``) describe the member;
``AgentCalled``, ``AgentConnect``, ``AgentComplete``, ``AgentRingNoAnswer`` and ``AgentDump``
describe one queue call ringing that member, and carry the *caller's* channel fields (its
Linkedid is the call's), with the member's channel in the ``Dest*`` headers.

After an AMI (re)connect the bridge's snapshot says what those events would have said:
:func:`member_calls` reads it into one :class:`MemberCall` per member interface.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from callcenter.ami.events import AmiEvent, AmiSnapshot, duration_seconds


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
        # An AgentComplete sent as the caller hangs up often lacks the caller's channel (gone
        # already); the member's channel, when still there, is of the same call.
        linkedid=event.linkedid or event.get("DestLinkedid"),
        received_at=event.received_at,
        paused=_flag(event.get("Paused")),
        reason=reason if kind in (MemberEventKind.PAUSE, MemberEventKind.ADDED) else "",
        status=_status(event.get("Status")),
        in_call=_flag(event.get("InCall")),
    )


@dataclass(frozen=True, slots=True)
class MemberCall:
    """One member's phone in an AMI snapshot (``QueueStatus`` plus ``CoreShowChannels``).

    ``in_call``: connected to a queue caller (``InCall: 1`` in the queue of that call; it stays
    0 while the phone rings). ``linkedid`` and ``since`` are of the member's channel (its
    creation, so ringing included), empty and None when it has none.
    """

    interface: str
    in_call: bool
    device: DeviceStatus | None
    linkedid: str = ""
    since: float | None = None


def _interface_of(channel: str) -> str:
    # A channel is named "<interface>-<sequence>", Local halves with ";1"/";2" after it
    # ("Local/1001@sim-agents-0000000f;1", "PJSIP/1001-00000003").
    interface, dash, _ = channel.rpartition("-")
    return interface if dash else ""


def _talking_first(channel: AmiEvent) -> tuple[bool, bool]:
    # The half in the caller's bridge is the call; an Up channel beats one still ringing.
    return (bool(channel.get("BridgeId")), channel.get("ChannelStateDesc") == "Up")


def member_calls(snapshot: AmiSnapshot) -> dict[str, MemberCall]:
    """Each queue member's call state at the snapshot, by interface (``Location``)."""
    channels: dict[str, list[AmiEvent]] = {}
    for channel in snapshot.channels:
        channels.setdefault(_interface_of(channel.channel), []).append(channel)
    rows: dict[str, list[AmiEvent]] = {}
    for member in snapshot.queue_members:
        interface = member.get("Location") or member.get("Interface")
        if interface:
            rows.setdefault(interface, []).append(member)
    calls: dict[str, MemberCall] = {}
    for interface, members in rows.items():
        own = sorted(channels.get(interface, ()), key=_talking_first, reverse=True)
        age = duration_seconds(own[0].get("Duration")) if own else None
        calls[interface] = MemberCall(
            interface=interface,
            in_call=any(_flag(m.get("InCall")) for m in members),
            device=_status(members[0].get("Status")),
            linkedid=own[0].linkedid if own else "",
            since=snapshot.taken_at - age if age is not None else None,
        )
    return calls
