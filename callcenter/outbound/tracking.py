"""The dialer's live calls, and what Asterisk's answers to an Originate mean.

``OriginateResponse`` ``Reason`` codes (Asterisk's ``enum ast_control_frame_type``, checked on
Asterisk 22 with the sandbox's simulated callees): 4 answered, 5 busy, 8 congestion, 3 no
answer (the Originate timeout passed), 1 hung up before answering, 0 the channel could not be
created at all (no such route). The Local channel's ``;1`` half carries our ChannelId; its
``Hangup`` ends the call for pacing even if the ``OriginateResponse`` comes after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from hcrm_core.models import AttemptStatus

REASON_ANSWERED = "4"
_FAILURES = {
    "5": (AttemptStatus.BUSY, "busy"),
    "3": (AttemptStatus.NO_ANSWER, "no_answer"),
    "1": (AttemptStatus.NO_ANSWER, "rejected"),
    "8": (AttemptStatus.FAILED, "congestion"),
    "0": (AttemptStatus.FAILED, "failed"),
}


# Q.850 hang-up causes of a call that was never answered: 17 user busy; 34, 38, 41, 42
# congestion / network out of order; anything else (16 normal, 19 no answer...) is no answer.
_CAUSE_BUSY = "17"
_CAUSES_FAILED = frozenset({"1", "3", "34", "38", "41", "42"})


def hangup_outcome(cause: str) -> tuple[AttemptStatus, str]:
    """The outcome of an adopted call that hung up unanswered, from its ``Hangup`` cause."""
    if cause == _CAUSE_BUSY:
        return AttemptStatus.BUSY, "busy"
    if cause in _CAUSES_FAILED:
        return AttemptStatus.FAILED, "congestion"
    return AttemptStatus.NO_ANSWER, "no_answer"


def failure_outcome(reason: str) -> tuple[AttemptStatus, str]:
    """The attempt status and detail of an Originate that did not answer."""
    return _FAILURES.get(reason, (AttemptStatus.FAILED, f"reason_{reason[:8] or 'none'}"))


@dataclass
class LiveAttempt:
    """One call the dialer placed (or adopted after a restart) that has not ended yet."""

    attempt_id: int
    campaign_id: int
    # Monotonic deadline for a channel to appear (a lost Originate is settled as failed).
    deadline: float
    placed_at: float = field(default_factory=time.time)  # wall clock, vs. resync snapshots
    channel_seen: bool = False
    answered: bool = False
    reached_agent: bool = False
    abandoned: bool = False
    hung_up: bool = False
    outcome_known: bool = False
    # Found live after a restart/reconnect: its OriginateResponse went to another session.
    adopted: bool = False

    @property
    def counts_as_line(self) -> bool:
        """Occupies one of the campaign's concurrent lines (until its channel hangs up)."""
        return not self.hung_up


class LiveAttempts:
    """The registry of live attempts, by attempt id."""

    def __init__(self) -> None:
        self._by_id: dict[int, LiveAttempt] = {}

    def add(self, attempt: LiveAttempt) -> None:
        self._by_id[attempt.attempt_id] = attempt

    def get(self, attempt_id: int) -> LiveAttempt | None:
        return self._by_id.get(attempt_id)

    def drop(self, attempt_id: int) -> LiveAttempt | None:
        return self._by_id.pop(attempt_id, None)

    def __iter__(self) -> Iterator[LiveAttempt]:
        return iter(tuple(self._by_id.values()))

    def __contains__(self, attempt_id: object) -> bool:
        return attempt_id in self._by_id

    def lines(self, campaign_id: int) -> int:
        return sum(
            1 for a in self._by_id.values() if a.campaign_id == campaign_id and a.counts_as_line
        )

    def ringing(self, campaign_id: int) -> int:
        return sum(
            1
            for a in self._by_id.values()
            if a.campaign_id == campaign_id and a.counts_as_line and not a.answered
        )

    def waiting_for_agent(self, campaign_id: int) -> int:
        return sum(
            1
            for a in self._by_id.values()
            if a.campaign_id == campaign_id
            and a.counts_as_line
            and a.answered
            and not a.reached_agent
        )
