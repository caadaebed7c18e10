"""An agent's state, computed from queue-member events: pure logic, no I/O.

What the desk shows is derived: a call in progress outranks a pause (Asterisk lets a member
be paused while talking; the pause shows once the call is over), ringing outranks wrap-up,
wrap-up outranks a pause. ``since`` moves only when the shown state changes, so "time in
state" means what the agent sees.

After a server restart or an AMI reconnect the events of a call in progress are gone (or were
never seen): :func:`follow_snapshot` takes the call from the bridge's live snapshot instead.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from callcenter.agents.errors import ExtensionNotYours, InvalidExtension
from callcenter.agents.member_events import MemberCall, MemberEvent, MemberEventKind
from callcenter.ami.queue_members import DeviceStatus

_EXTENSION_RE = re.compile(r"^[0-9]{2,8}$")
# The pause reason the server gives Asterisk while it holds an agent's phone out of the queues
# during wrap-up: not the agent's own pause, so its events leave the agent's pause as it is.
WRAPUP_HOLD_REASON = "wrap-up"


class AgentState(enum.StrEnum):
    SIGNED_OUT = "signed_out"
    READY = "ready"
    PAUSED = "paused"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


class Activity(enum.StrEnum):
    IDLE = "idle"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


def valid_extension(raw: str) -> str:
    """The extension as the interface template may use it: digits only."""
    extension = raw.strip()
    if not _EXTENSION_RE.match(extension):
        raise InvalidExtension()
    return extension


def own_extension(requested: str | None, assigned: str | None) -> str:
    """The extension a user may sign in on: the one assigned to them (``users.extension``).

    Any other would put a colleague's phone in the queues while the calls pop on this desk.
    """
    if not assigned:
        raise ExtensionNotYours(
            "no extension is assigned to your user; an admin assigns one "
            "(callcenter user set-extension NAME EXT)"
        )
    if requested and requested.strip() != assigned:
        raise ExtensionNotYours(f"you may sign in only on your own extension, {assigned}")
    return assigned


def interface_for(template: str, extension: str) -> str:
    return template.replace("{extension}", valid_extension(extension))


@dataclass
class AgentStatus:
    """One signed-in agent (or one who just signed out)."""

    user_id: int
    username: str
    extension: str
    interface: str
    queues: set[str] = field(default_factory=set)
    signed_in: bool = True
    paused: bool = False
    pause_reason: str = ""
    activity: Activity = Activity.IDLE
    linkedid: str = ""
    device: DeviceStatus | None = None
    since: float = 0.0
    # Signed in from a console session (ends with it), not by the server itself (demo robots).
    session_bound: bool = False
    # When the last event about the phone's calls arrived: a snapshot older than that is stale.
    event_at: float = 0.0
    # Asterisk has the phone paused for wrap-up (no queue call is offered until it ends).
    held: bool = False
    # When the agent's pause last changed here (a desk request or Asterisk's event): another
    # process's announcement of an older pause change is stale (desk_apply).
    pause_at: float = 0.0

    @property
    def state(self) -> AgentState:
        if not self.signed_in:
            return AgentState.SIGNED_OUT
        if self.activity is Activity.ON_CALL:
            return AgentState.ON_CALL
        if self.activity is Activity.RINGING:
            return AgentState.RINGING
        if self.activity is Activity.WRAP_UP:
            return AgentState.WRAP_UP
        return AgentState.PAUSED if self.paused else AgentState.READY

    def view(self) -> dict[str, Any]:
        """Plain data for the desk and the supervisor board."""
        return {
            "username": self.username,
            "extension": self.extension,
            "interface": self.interface,
            "queues": sorted(self.queues),
            "state": self.state.value,
            "pause_reason": self.pause_reason if self.paused else "",
            "linkedid": self.linkedid or None,
            "device": self.device.name.lower() if self.device is not None else None,
            "since": self.since,
        }


def _set_activity(status: AgentStatus, event: MemberEvent) -> None:
    kind = event.kind
    if kind is MemberEventKind.CALLED:
        status.activity, status.linkedid = Activity.RINGING, event.linkedid
    elif kind is MemberEventKind.CONNECT:
        status.activity, status.linkedid = Activity.ON_CALL, event.linkedid
    elif kind is MemberEventKind.COMPLETE:
        if event.linkedid and status.linkedid in ("", event.linkedid):
            status.activity, status.linkedid = Activity.WRAP_UP, event.linkedid
        elif not event.linkedid and status.activity is Activity.ON_CALL:
            # Sent without any channel (both hung up already): it is the call being talked.
            _call_over(status)
    elif kind in (MemberEventKind.RING_NO_ANSWER, MemberEventKind.DUMP):
        if status.activity is Activity.RINGING and status.linkedid == event.linkedid:
            status.activity, status.linkedid = Activity.IDLE, ""
    elif kind is MemberEventKind.STATUS:
        status.device = event.status
        if event.status is DeviceStatus.NOT_INUSE:
            _phone_hung_up(status)
    status.event_at = max(status.event_at, event.received_at)


def _phone_hung_up(status: AgentStatus) -> None:
    # A caller who hangs up while the phone rings sends no AgentRingNoAnswer: the phone going
    # back to "not in use" is what says the ringing is over. A call taken from a snapshot (or
    # whose AgentComplete was lost with the link) ends the same way; AgentComplete, which
    # comes first when seen, has already moved the agent on.
    if status.activity is Activity.RINGING:
        status.activity, status.linkedid = Activity.IDLE, ""
    elif status.activity is Activity.ON_CALL:
        _call_over(status)


def _call_over(status: AgentStatus) -> None:
    # Wrap-up ends by the call's Linkedid: a call we never had one for has none to wait for.
    status.activity = Activity.WRAP_UP if status.linkedid else Activity.IDLE


def apply_event(status: AgentStatus, event: MemberEvent) -> bool:
    """Fold one member event in; True when the shown state (or its reason) changed."""
    before = (status.state, status.pause_reason, sorted(status.queues), status.device)
    kind = event.kind
    if kind is MemberEventKind.ADDED:
        status.queues.add(event.queue)
        status.signed_in = True
    elif kind is MemberEventKind.REMOVED:
        status.queues.discard(event.queue)
    elif kind is MemberEventKind.PAUSE and event.reason == WRAPUP_HOLD_REASON:
        pass  # the server's own wrap-up hold: the agent's pause is unchanged
    elif kind is MemberEventKind.PAUSE and event.paused is not None:
        status.paused = event.paused
        status.pause_reason = event.reason if event.paused else ""
        status.pause_at = max(status.pause_at, event.received_at)
    else:
        _set_activity(status, event)
    changed = before != (status.state, status.pause_reason, sorted(status.queues), status.device)
    if before[0] is not status.state:
        status.since = event.received_at
    return changed


def follow_snapshot(status: AgentStatus, member: MemberCall | None, taken_at: float) -> bool:
    """Align the agent's call with Asterisk's live state read at ``taken_at``.

    ``member`` is the agent's phone in that snapshot (None: not a queue member there). A queue
    call in progress shows as on the call, with its Linkedid; a call or ringing we knew of that
    is gone ended unseen (a call still owes its wrap-up). Events that arrived after
    ``taken_at`` are newer than the snapshot: the agent is then left as they say. True when
    the shown state (or the device) changed.
    """
    if status.event_at > taken_at:
        return False
    before = (status.state, status.linkedid, status.device)
    if member is not None:
        status.device = member.device
    if member is not None and member.in_call:
        if status.activity is not Activity.ON_CALL or member.linkedid:
            status.activity, status.linkedid = Activity.ON_CALL, member.linkedid
    elif status.activity is Activity.ON_CALL:
        _call_over(status)
    elif status.activity is Activity.RINGING and (
        member is None or member.linkedid != status.linkedid
    ):
        status.activity, status.linkedid = Activity.IDLE, ""
    if status.state is not before[0]:
        status.since = taken_at
        if status.activity is Activity.ON_CALL and member is not None and member.since:
            status.since = member.since  # the call began before the snapshot
    return before != (status.state, status.linkedid, status.device)


def end_wrap_up(status: AgentStatus, linkedid: str, now: float) -> bool:
    """Wrap-up is over (its time ran out, or the agent saved the call's disposition)."""
    if status.activity is not Activity.WRAP_UP or status.linkedid != linkedid:
        return False
    status.activity, status.linkedid = Activity.IDLE, ""
    status.since = now
    return True
