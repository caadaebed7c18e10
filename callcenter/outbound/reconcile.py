"""Settling in-flight attempts against Asterisk's live channels and the call log.

Run on every ``AmiResynced`` (after start-up and after each AMI reconnect). An attempt in
``dialling``/``answered`` is either still a live channel (its Uniqueid is the attempt's channel
id: it is adopted and its events are followed as usual) or gone, in which case the call log
says what became of it: answered calls are closed as completed, unanswered ones as no answer
(its retry rule then applies: a *new* attempt, later), and calls the log never saw as failed.
No attempt found here is ever originated again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from callcenter.ami.events import AmiSnapshot
from callcenter.calls.channel_ids import channel_id
from callcenter.outbound.tracking import LiveAttempt
from hcrm_core.db import Database
from hcrm_core.models import AttemptStatus, Call, CallEvent
from hcrm_core.services.campaigns_attempts import InFlight

if TYPE_CHECKING:
    from callcenter.outbound.dialer import Dialer

_LOG = logging.getLogger(__name__)

_STATE_UP = "6"  # Asterisk's ChannelState for Up (answered)
# A call placed this close before the snapshot may not be in it yet.
SNAPSHOT_SLACK_SECONDS = 2.0
# An adopted call that hangs up with no outcome known (its hang-up cause settles it at once;
# this is the last resort) is settled as failed after this long.
ADOPTED_DEADLINE_SECONDS = 180.0


@dataclass(frozen=True, slots=True)
class Settled:
    attempt_id: int
    status: AttemptStatus
    detail: str


async def call_log_outcome(database: Database, linkedid: str) -> tuple[AttemptStatus, str]:
    """What the call log knows of a call that is no longer live.

    Answered means the dialled channel (Uniqueid = Linkedid = the attempt's channel id) went
    Up, as its stored ``Newstate`` events show, or the dialog was reached."""
    async with database.session() as session:
        row = (
            await session.execute(
                select(Call.answered_at, Call.ivr_entered_at).where(Call.linkedid == linkedid)
            )
        ).first()
        states = await session.scalars(
            select(CallEvent.headers).where(
                CallEvent.linkedid == linkedid, CallEvent.name == "Newstate"
            )
        )
        went_up = any(
            h.get("Uniqueid") == linkedid and h.get("ChannelState") == _STATE_UP for h in states
        )
    if row is None and not went_up:
        return AttemptStatus.FAILED, "not_in_call_log"
    if went_up or (row is not None and (row.answered_at or row.ivr_entered_at)):
        return AttemptStatus.COMPLETED, "ended_while_away"
    return AttemptStatus.NO_ANSWER, "ended_while_away"


async def reconcile(dialer: Dialer, snapshot: AmiSnapshot, database: Database) -> list[Settled]:
    """Adopt live attempts, settle the rest; returns what was settled (for logs and tests)."""
    prefix = dialer.options.channel_prefix
    live = {channel.uniqueid: channel for channel in snapshot.channels}
    settled: list[Settled] = []
    for attempt in await dialer.attempts.in_flight():
        if attempt.attempt_id in dialer.claiming:
            continue  # being dialled right now by this dialer
        cid = channel_id(prefix, attempt.attempt_id)
        known = dialer.live.get(attempt.attempt_id)
        if cid in live:
            up = live[cid].get("ChannelState") == _STATE_UP
            if known is None:
                await _adopt(dialer, attempt, up=up)
            elif not known.outcome_known:
                # Still up after an AMI outage that may have swallowed its OriginateResponse:
                # followed like an adopted call from here on (its state, its hang-up cause).
                await _adopt(dialer, attempt, up=up, placed_at=known.placed_at)
            else:
                known.channel_seen = True
            continue
        if known is not None and known.placed_at > snapshot.taken_at - SNAPSHOT_SLACK_SECONDS:
            continue  # placed around the snapshot: its own events will settle it
        if attempt.status is AttemptStatus.ANSWERED:
            # Its answer was stored: the log may have lost the rest (a killed server's
            # unflushed events), but it was answered all the same.
            status, detail = AttemptStatus.COMPLETED, "ended_while_away"
        else:
            status, detail = await call_log_outcome(database, cid)
        dialer.live.drop(attempt.attempt_id)
        await dialer.attempts.finish(attempt.attempt_id, status, detail=detail)
        _LOG.info("attempt=%s settled by reconcile: %s", attempt.attempt_id, detail)
        settled.append(Settled(attempt.attempt_id, status, detail))
    return settled


async def _adopt(dialer: Dialer, attempt: InFlight, *, up: bool, placed_at: float = 0.0) -> None:
    """Follow a call a previous run placed. One answered while no server listened (a
    progressive call waiting in its queue) is marked answered now: its answer is gone."""
    deadline = dialer.clock() + ADOPTED_DEADLINE_SECONDS
    answered = up or attempt.status is AttemptStatus.ANSWERED
    if answered and attempt.status is AttemptStatus.DIALLING:
        await dialer.attempts.mark_answered(attempt.attempt_id)
    dialer.live.add(_adopted(attempt, deadline, answered=answered, placed_at=placed_at))
    _LOG.info("attempt=%s adopted: still live in Asterisk (up=%s)", attempt.attempt_id, answered)


def _adopted(
    attempt: InFlight, deadline: float, *, answered: bool, placed_at: float
) -> LiveAttempt:
    return LiveAttempt(
        attempt.attempt_id,
        attempt.campaign_id,
        deadline=deadline,
        placed_at=placed_at,
        channel_seen=True,
        answered=answered,
        outcome_known=answered,
        adopted=True,
    )
