"""Queue-member AMI events, parsed at the edge into one small typed object.

Asterisk 22 sends these to sessions with read class "agent". The member events
(``QueueMemberAdded``, ``...Removed``, ``...Pause``, ``...Status``) describe the member;
``AgentCalled``, ``AgentConnect``, ``AgentComplete``, ``AgentRingNoAnswer`` and ``AgentDump``
describe one queue call ringing that member, and carry the *caller's* channel fields (its
Linkedid is the call's), with the member's channel in the ``Dest*`` headers.

The member's own headers are read by :func:`callcenter.ami.queue_members.queue_member_of`
(one rule for ``Paused``/``InCall``/``Status`` for the desk, the board and the dialer).

After an AMI (re)connect the bridge's snapshot says what those events would have said:
:func:`member_calls` reads it into one :class:`MemberCall` per member interface.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from callcenter.ami.events import AmiEvent, AmiSnapshot, duration_seconds
from callcenter.ami.queue_members import DeviceStatus, QueueMember, queue_member_of


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


MEMBER_EVENT_NAMES = frozenset(kind.value for kind in MemberEventKind)
# The events whose PausedReason is the member's current one.
_SAYS_WHY_PAUSED = (MemberEventKind.PAUSE, MemberEventKind.ADDED)


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


def parse_member_event(event: AmiEvent) -> MemberEvent | None:
    """The typed form of a queue-member event, or None for any other event."""
    try:
        kind = MemberEventKind(event.name)
    except ValueError:
        return None
    member = queue_member_of(event)
    if not member.interface:
        return None
    return MemberEvent(
        kind=kind,
        queue=member.queue,
        interface=member.interface,
        member_name=member.name,
        # An AgentComplete sent as the caller hangs up often lacks the caller's channel (gone
        # already); the member's channel, when still there, is of the same call.
        linkedid=event.linkedid or event.get("DestLinkedid"),
        received_at=event.received_at,
        paused=member.paused,
        reason=member.paused_reason if kind in _SAYS_WHY_PAUSED else "",
        status=member.status,
        in_call=member.in_call,
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
    rows: dict[str, list[QueueMember]] = {}
    for row in snapshot.queue_members:
        member = queue_member_of(row)
        if member.interface:
            rows.setdefault(member.interface, []).append(member)
    calls: dict[str, MemberCall] = {}
    for interface, members in rows.items():
        own = sorted(channels.get(interface, ()), key=_talking_first, reverse=True)
        age = duration_seconds(own[0].get("Duration")) if own else None
        calls[interface] = MemberCall(
            interface=interface,
            in_call=any(m.in_call for m in members),
            device=members[0].status,
            linkedid=own[0].linkedid if own else "",
            since=snapshot.taken_at - age if age is not None else None,
        )
    return calls
