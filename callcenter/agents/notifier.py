"""What the agent desk publishes on the event bus (the console relays it to browsers).

Messages carry plain data (``view`` dicts), so a subscriber (the desk relay, the supervisor
board) needs no knowledge of the desk's internals and cannot change its state.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.agents.state import AgentStatus
from callcenter.bus import EventBus


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """An agent's shown state changed (``agent`` is :meth:`AgentStatus.view`)."""

    username: str
    agent: dict[str, Any]
    # The agent's user id, for the state history (None for a status built without one).
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class ScreenPopChanged:
    """A screen pop for ``username`` appeared or moved on (``pop`` is the whole pop)."""

    username: str
    pop: dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueuesChanged:
    """The queues kept in the database were (re)applied: the active ones, (name, display name).

    Published after every change made in the console (and once at start-up), so the
    supervisor board follows queues created, renamed or deactivated while the server runs."""

    queues: tuple[tuple[str, str], ...]

    # Plain data and back: a change made in one process's console reaches the boards of the
    # others (callcenter/cluster/relay.py).
    def to_dict(self) -> dict[str, Any]:
        return {"queues": [list(pair) for pair in self.queues]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueuesChanged:
        return cls(tuple((str(name), str(shown)) for name, shown in data["queues"]))


class DeskChange(enum.StrEnum):
    """What an agent did at the desk (or call control did for them)."""

    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    PAUSE = "pause"
    WRAP_UP_DONE = "wrap_up_done"
    POP_DISMISSED = "pop_dismissed"
    PATIENT_CHOSEN = "patient_chosen"
    POP_HOLD = "pop_hold"
    POP_CONSULT = "pop_consult"
    POP_TRANSFERRED = "pop_transferred"
    # Call control's marks (callcenter/agents/shared_marks.py).
    CALL_HELD = "call_held"
    CONFERENCE = "conference"
    # A transfer to follow (callcenter/agents/transfer_follow.py), or no longer.
    TRANSFER = "transfer"
    # The agent's first browser opened on the origin process, or its last one closed.
    BROWSER = "browser"


@dataclass(frozen=True, slots=True)
class DeskChanged:
    """A desk change made in the process ``origin``, for the other processes' desks.

    Every process hears Asterisk itself, so what its events say (ringing, talking, the call's
    end) each one derives alone; what an agent does at the desk happens in one process only,
    and reaches the others as this event (callcenter/cluster/relay.py), which they apply to
    their own state without acting on Asterisk again (the origin did). Applying one twice
    changes nothing.
    """

    kind: DeskChange
    username: str
    origin: str
    user_id: int | None = None
    linkedid: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "username": self.username,
            "origin": self.origin,
            "user_id": self.user_id,
            "linkedid": self.linkedid,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeskChanged:
        user_id = data.get("user_id")
        return cls(
            kind=DeskChange(data["kind"]),
            username=str(data["username"]),
            origin=str(data["origin"]),
            user_id=None if user_id is None else int(user_id),
            linkedid=str(data.get("linkedid") or ""),
            data=dict(data.get("data") or {}),
        )


class AgentNotifier:
    origin = ""

    def __init__(self, bus: EventBus, *, origin: str | None = None) -> None:
        self._bus = bus
        # This desk's name in the changes it publishes: its own come back from nobody (the
        # relay skips a process's own notifications), but the local consumer sees them too.
        self.origin = origin or uuid.uuid4().hex

    def state_changed(self, status: AgentStatus) -> None:
        self._bus.publish(AgentStateChanged(status.username, status.view(), user_id=status.user_id))

    def pop_changed(self, username: str, pop: dict[str, Any]) -> None:
        self._bus.publish(ScreenPopChanged(username, pop))

    def queues_changed(self, queues: tuple[tuple[str, str], ...]) -> None:
        self._bus.publish(QueuesChanged(queues))

    def desk_changed(
        self,
        kind: DeskChange,
        username: str,
        *,
        user_id: int | None = None,
        linkedid: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        # A notifier subclass made without a bus (a test double) has no one to tell.
        bus: EventBus | None = getattr(self, "_bus", None)
        if bus is not None:
            bus.publish(
                DeskChanged(kind, username, self.origin, user_id, linkedid, dict(data or {}))
            )

    def is_own(self, change: DeskChanged) -> bool:
        return change.origin == self.origin
