"""What the agent desk publishes on the event bus (the console relays it to browsers).

Messages carry plain data (``view`` dicts), so a subscriber (the desk relay, the supervisor
board) needs no knowledge of the desk's internals and cannot change its state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


class AgentNotifier:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def state_changed(self, status: AgentStatus) -> None:
        self._bus.publish(AgentStateChanged(status.username, status.view(), user_id=status.user_id))

    def pop_changed(self, username: str, pop: dict[str, Any]) -> None:
        self._bus.publish(ScreenPopChanged(username, pop))

    def queues_changed(self, queues: tuple[tuple[str, str], ...]) -> None:
        self._bus.publish(QueuesChanged(queues))
