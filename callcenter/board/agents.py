"""The supervisor board's agents: one queue member's view and the one word for its state."""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.ami.queue_members import DeviceStatus
from callcenter.board.queue_events import MemberUpdate

_AWAY = frozenset({DeviceStatus.INVALID, DeviceStatus.UNAVAILABLE, DeviceStatus.UNKNOWN})
_BUSY = frozenset({DeviceStatus.INUSE, DeviceStatus.BUSY, DeviceStatus.ONHOLD})


@dataclass
class AgentCall:
    linkedid: str
    queue: str | None
    state: str  # "ringing" | "on_call" (the agent desk's words)
    since: float
    # How long the caller waited in the queue before the answer (None: not known).
    waited: float | None = None


@dataclass
class AgentView:
    interface: str
    name: str
    queues: dict[str, MemberUpdate] = field(default_factory=dict)
    call: AgentCall | None = None
    state: str = "unavailable"
    since: float = 0.0
    # The agent's last answered call (queue, talk seconds, end): what wrap-up is about.
    last: dict[str, object] | None = None


def extension_of(interface: str) -> str:
    """``PJSIP/1001`` or ``Local/1001@ctx`` -> ``1001``."""
    tail = interface.split("/", 1)[-1]
    return tail.split("@", 1)[0].split(";", 1)[0]


def by_name(agent: AgentView) -> str:
    return agent.name.lower()


def agent_state(agent: AgentView) -> str:
    """One word for the board: a live queue call wins, then pause, then the device state."""
    if agent.call is not None:
        return agent.call.state
    members = list(agent.queues.values())
    if members and all(m.paused for m in members):
        return "paused"
    statuses = {m.status for m in members}
    if statuses & {DeviceStatus.RINGING, DeviceStatus.RINGINUSE}:
        return "ringing"
    if statuses & _BUSY:
        return "busy"
    if not members or statuses <= _AWAY:
        return "unavailable"
    return "ready"
