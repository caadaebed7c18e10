"""Pacing rules, pure and clock-driven so they are tested without waiting.

- :class:`RateLimiter`: calls per second per campaign (a token bucket holding at most one
  second's worth, so a pause does not turn into a burst).
- :func:`free_lines`: the campaign's concurrency cap minus its calls in flight.
- :func:`progressive_allowance`: progressive mode dials only for agents who are free right now,
  less the calls already ringing for them, and not at all while the campaign's abandon rate is
  above its limit (3% at most): an answered patient must not wait for nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from callcenter.ami.queue_members import QueueMember


class RateLimiter:
    """At most ``rate`` takes per second on average; ``clock`` is monotonic seconds."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._clock = clock
        self.rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = 1.0
        self._at = clock()

    def set_rate(self, rate: float) -> None:
        if rate != self.rate:
            self._refill()
            self.rate = rate
            self._capacity = max(1.0, rate)
            self._tokens = min(self._tokens, self._capacity)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def try_take(self) -> bool:
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_seconds(self) -> float:
        """How long until the next take can succeed (0 when it can now)."""
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.rate)


@dataclass(frozen=True, slots=True)
class AgentState:
    """What pacing needs of one queue member (a ``QueueStatus`` row: :meth:`of`)."""

    status: int  # Asterisk device state: 1 = not in use
    paused: bool
    in_call: bool
    last_call: float  # epoch seconds of the end of the last call, 0 if none
    wrapup: float  # the member's own wrap-up time, 0 means the queue's

    @classmethod
    def of(cls, member: QueueMember) -> AgentState:
        """From the row as parsed at the edge; an unknown status or flag counts as not free."""
        return cls(
            status=0 if member.status is None else int(member.status),
            paused=member.paused is True,
            in_call=member.in_call is True,
            last_call=member.last_call,
            wrapup=member.wrapup,
        )

    def free(self, now: float, queue_wrapup: float) -> bool:
        """Ready for a call now: idle, not paused, and past wrap-up after the last call."""
        if self.status != 1 or self.paused or self.in_call:
            return False
        wrapup = self.wrapup or queue_wrapup
        return self.last_call == 0 or now - self.last_call >= wrapup


def free_lines(max_concurrent: int, in_flight: int) -> int:
    return max(0, max_concurrent - in_flight)


@dataclass(frozen=True, slots=True)
class AbandonStats:
    """Answered calls of a campaign and how many of them hung up before reaching an agent."""

    answered: int
    abandoned: int

    @property
    def rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


def progressive_allowance(
    *,
    free_agents: int,
    ringing: int,
    waiting_for_agent: int,
    stats: AbandonStats,
    max_abandon_rate: float,
) -> int:
    """How many more calls progressive mode may place now.

    One call per free agent, counting calls still ringing and answered patients already
    waiting in the queue against them. While the abandon rate is above ``max_abandon_rate``
    only one call at a time may be in flight, and only with a free agent, until answered calls
    that reached an agent bring the rate back down.
    """
    allowance = free_agents - ringing - waiting_for_agent
    if stats.rate > max_abandon_rate:
        allowance = min(allowance, 1 - ringing - waiting_for_agent)
    return max(0, allowance)
