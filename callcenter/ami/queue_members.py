"""Queue members as Asterisk reports them, parsed at the edge into one typed object.

Two sources describe a member of one queue: the live ``QueueMember*`` events (``QueueMemberAdded``,
``...Removed``, ``...Pause``, ``...Status``, ``...Penalty``, ``...Ringinuse``; ``AgentCalled`` and
friends carry some of the same headers) and the ``QueueMember`` rows of a ``QueueStatus``
snapshot. They name the same facts with different headers: the interface is ``Interface`` in
events and ``Location`` in rows, the member's name ``MemberName`` and ``Name``.

Asterisk 22 writes its yes/no headers (``Paused``, ``InCall``, ``Ringinuse``) as the integers
``0`` and ``1`` (app_queue's event blobs and ``QueueStatus`` rows alike; see
``tests/fixtures/ami/*.ami``): ``1`` is yes, ``0`` is no and anything else, an absent header
included, is unknown (None). The agent desk, the supervisor board and the dialer all read
members through :func:`queue_member_of`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from callcenter.ami.events import AmiEvent


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


def flag(value: str) -> bool | None:
    """An Asterisk 22 yes/no header: ``"1"`` True, ``"0"`` False, anything else None."""
    if value == "1":
        return True
    if value == "0":
        return False
    return None


def device_status(value: str) -> DeviceStatus | None:
    """The ``Status`` header as a device state; None when absent or not one Asterisk defines."""
    try:
        return DeviceStatus(int(value))
    except ValueError:
        return None


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


@dataclass(frozen=True, slots=True)
class QueueMember:
    """One member of one queue, from a live event or a ``QueueStatus`` row.

    ``interface`` is empty when the event names none; ``name`` is Asterisk's member name (empty
    when not sent); ``status``, ``paused`` and ``in_call`` are None when the event does not say.
    ``last_call`` is the epoch second the member's last queue call ended (0: none yet) and
    ``wrapup`` the member's own wrap-up seconds (0: the queue's).
    """

    queue: str
    interface: str
    name: str
    status: DeviceStatus | None
    paused: bool | None
    paused_reason: str
    in_call: bool | None
    last_call: float = 0.0
    wrapup: float = 0.0


def queue_member_of(event: AmiEvent) -> QueueMember:
    """The member an event or a ``QueueStatus`` row describes (see the module docstring)."""
    return QueueMember(
        queue=event.queue,
        interface=event.get("Interface") or event.get("Location"),
        name=event.get("MemberName") or event.get("Name"),
        status=device_status(event.get("Status")),
        paused=flag(event.get("Paused")),
        # QueueMemberPause carries the reason as PausedReason (and, in older versions, Reason).
        paused_reason=event.get("PausedReason") or event.get("Reason"),
        in_call=flag(event.get("InCall")),
        last_call=_seconds(event.get("LastCall")),
        wrapup=_seconds(event.get("Wrapuptime")),
    )
