"""One call of a campaign, from claim to outcome: what the dialer writes.

The order that makes the dialer crash-safe: :meth:`AttemptService.claim` commits the attempt as
``dialling`` (with ``dialled_at``) *before* the Originate is sent; the attempt id is the
channel's id. A restarted dialer therefore finds every call it may have placed among the
``dialling``/``answered`` attempts and never dials one of them again: it only reconciles them.
A partial unique index lets one patient have at most one attempt in flight (any campaign, any
server process): the database, not the dialer's memory, keeps "never two calls at once".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AttemptStatus,
    Campaign,
    CampaignAttempt,
    CampaignKind,
    CampaignStatus,
    Patient,
    TaskSource,
    utcnow,
)
from hcrm_core.models.outreach import ATTEMPT_IN_FLIGHT_INDEX
from hcrm_core.services.campaigns_config import RETRYABLE, parse_config
from hcrm_core.services.campaigns_errors import AttemptNotFound, NotDialable, PatientOnCall
from hcrm_core.services.leadership import Fence
from hcrm_core.services.tasks import create_task

IN_FLIGHT = (AttemptStatus.DIALLING, AttemptStatus.ANSWERED)
# The outcome detail of a progressive call whose patient hung up before reaching an agent.
ABANDONED = "abandoned"


@dataclass(frozen=True, slots=True)
class DialTarget:
    """What the dialer needs to place one call (no patient name: it is not logged)."""

    attempt_id: int
    campaign_id: int
    patient_id: int
    phone_e164: str
    attempt_no: int


@dataclass(frozen=True, slots=True)
class InFlight:
    attempt_id: int
    campaign_id: int
    status: AttemptStatus
    dialled_at: datetime | None


class AttemptService:
    def __init__(self, database: Database) -> None:
        self._db = database

    @property
    def database(self) -> Database:
        return self._db

    # -- the dialer --------------------------------------------------------------------------

    async def due(self, campaign_id: int, now: datetime, limit: int) -> list[tuple[int, str]]:
        """(id, number) of the scheduled attempts whose time has come, oldest first."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(CampaignAttempt.id, CampaignAttempt.phone_e164)
                .where(
                    CampaignAttempt.campaign_id == campaign_id,
                    CampaignAttempt.status == AttemptStatus.SCHEDULED,
                    CampaignAttempt.scheduled_for <= now,
                )
                .order_by(CampaignAttempt.scheduled_for, CampaignAttempt.id)
                .limit(limit)
            )
            return [(attempt_id, phone) for attempt_id, phone in rows]

    async def claim(
        self,
        attempt_id: int,
        *,
        now: datetime,
        day_start: datetime,
        max_per_day: int,
        fence: Fence | None = None,
    ) -> DialTarget:
        """Commit the attempt as ``dialling`` before it is dialled, or say why not.

        Raises :class:`NotDialable` (the attempt was cancelled for do-not-call or no consent,
        or it is not scheduled any more, or the patient reached today's limit: then it is
        moved to ``day_start`` + 1 day) and :class:`PatientOnCall`; with a ``fence``,
        :class:`~hcrm_core.services.leadership.Fenced` when this process no longer leads
        (checked in the claim's own transaction: a deposed leader claims nothing).

        Claimed once: the attempt's row is locked (``FOR UPDATE``) and claimed only while
        ``scheduled``, so of two claims of one attempt the second finds it ``dialling``.
        """
        try:
            async with self._db.transaction() as session:
                if fence is not None:
                    await fence.check(session)
                # A refusal that changed the attempt (cancelled, moved) commits, then raises.
                outcome = await self._claim_in(session, attempt_id, now, day_start, max_per_day)
        except IntegrityError as exc:
            text = str(exc.orig)
            if ATTEMPT_IN_FLIGHT_INDEX in text or "campaign_attempts.patient_id" in text:
                raise PatientOnCall("the patient is already on a call") from exc
            raise
        if isinstance(outcome, NotDialable):
            raise outcome
        return outcome

    async def _claim_in(
        self,
        session: AsyncSession,
        attempt_id: int,
        now: datetime,
        day_start: datetime,
        max_per_day: int,
    ) -> DialTarget | NotDialable:
        found = (
            await session.execute(
                select(CampaignAttempt, Patient)
                .join(Patient, Patient.id == CampaignAttempt.patient_id)
                .where(CampaignAttempt.id == attempt_id)
                .with_for_update(of=CampaignAttempt)
            )
        ).first()
        if found is None:
            raise AttemptNotFound(f"no attempt with id {attempt_id}")
        attempt, patient = found
        if attempt.status is not AttemptStatus.SCHEDULED:
            raise NotDialable("not_scheduled", f"attempt is {attempt.status.value}")
        if patient.do_not_call or not patient.consent_call or not patient.active:
            attempt.status = AttemptStatus.CANCELLED
            attempt.outcome_detail = "do_not_call"
            return NotDialable("do_not_call", "the patient may not be called")
        if attempt.appointment_id is not None:
            appointment_status = await session.scalar(
                select(Appointment.status).where(Appointment.id == attempt.appointment_id)
            )
            if appointment_status is not AppointmentStatus.BOOKED:
                # Cancelled or moved since the reminder was scheduled: nothing to remind of.
                attempt.status = AttemptStatus.CANCELLED
                attempt.outcome_detail = "appointment_not_active"
                return NotDialable("appointment_not_active", "the appointment is not booked")
        dialled_today = await session.scalar(
            select(func.count())
            .select_from(CampaignAttempt)
            .where(
                CampaignAttempt.patient_id == patient.id, CampaignAttempt.dialled_at >= day_start
            )
        )
        if (dialled_today or 0) >= max_per_day:
            attempt.scheduled_for = max(day_start + timedelta(days=1), now)
            return NotDialable("daily_limit", "the patient was called enough today")
        attempt.status = AttemptStatus.DIALLING
        attempt.dialled_at = now
        await session.flush()
        return DialTarget(
            attempt.id, attempt.campaign_id, patient.id, attempt.phone_e164, attempt.attempt_no
        )

    async def release(self, attempt_id: int, *, retry_at: datetime) -> None:
        """The Originate was never sent (Asterisk away): the attempt is scheduled again."""
        async with self._db.transaction() as session:
            await session.execute(
                update(CampaignAttempt)
                .where(
                    CampaignAttempt.id == attempt_id,
                    CampaignAttempt.status == AttemptStatus.DIALLING,
                )
                .values(status=AttemptStatus.SCHEDULED, dialled_at=None, scheduled_for=retry_at)
            )

    async def reschedule(self, attempt_id: int, when: datetime) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(CampaignAttempt)
                .where(
                    CampaignAttempt.id == attempt_id,
                    CampaignAttempt.status == AttemptStatus.SCHEDULED,
                )
                .values(scheduled_for=when)
            )

    async def mark_answered(self, attempt_id: int) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(CampaignAttempt)
                .where(
                    CampaignAttempt.id == attempt_id,
                    CampaignAttempt.status == AttemptStatus.DIALLING,
                )
                .values(status=AttemptStatus.ANSWERED)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def finish(
        self,
        attempt_id: int,
        status: AttemptStatus,
        *,
        detail: str | None = None,
        now: datetime | None = None,
    ) -> int | None:
        """Close an attempt in flight with its outcome; schedule the retry its rule allows.

        Only the first outcome counts (a late or duplicate one changes nothing). Returns the
        id of the retry attempt, if one was scheduled.
        """
        now = now or utcnow()
        async with self._db.transaction() as session:
            attempt = await session.get(CampaignAttempt, attempt_id, with_for_update=True)
            if attempt is None:
                raise AttemptNotFound(f"no attempt with id {attempt_id}")
            if attempt.status not in IN_FLIGHT:
                return None
            attempt.status = status
            attempt.ended_at = now
            if detail is not None:
                attempt.outcome_detail = detail[:200]
            if status not in RETRYABLE:
                return None
            return await self._retry_in(session, attempt, status, now)

    async def _retry_in(
        self, session: AsyncSession, attempt: CampaignAttempt, status: AttemptStatus, now: datetime
    ) -> int | None:
        campaign = await session.get(Campaign, attempt.campaign_id)
        assert campaign is not None
        if campaign.status in (CampaignStatus.STOPPED, CampaignStatus.COMPLETED):
            return None
        rule = parse_config(campaign.kind, campaign.settings).retries[status]
        if attempt.attempt_no >= rule.max_attempts:
            await _unreached_task(session, campaign, attempt)
            return None
        retry = CampaignAttempt(
            campaign_id=attempt.campaign_id,
            patient_id=attempt.patient_id,
            appointment_id=attempt.appointment_id,
            phone_e164=attempt.phone_e164,
            attempt_no=attempt.attempt_no + 1,
            status=AttemptStatus.SCHEDULED,
            scheduled_for=now + timedelta(minutes=rule.retry_delay_minutes),
        )
        session.add(retry)
        await session.flush()
        return retry.id

    async def abandon_counts(self, campaign_id: int) -> tuple[int, int]:
        """(answered, abandoned) calls of the campaign, from the stored attempts.

        Progressive mode keeps its abandon rate from these, not from counters in memory, so
        the rate survives a restart and is shared by every server process dialling it.
        """
        async with self._db.session() as session:
            answered = await session.scalar(
                select(func.count())
                .select_from(CampaignAttempt)
                .where(
                    CampaignAttempt.campaign_id == campaign_id,
                    CampaignAttempt.status.in_((AttemptStatus.ANSWERED, AttemptStatus.COMPLETED)),
                )
            )
            abandoned = await session.scalar(
                select(func.count())
                .select_from(CampaignAttempt)
                .where(
                    CampaignAttempt.campaign_id == campaign_id,
                    CampaignAttempt.outcome_detail == ABANDONED,
                )
            )
        return int(answered or 0), int(abandoned or 0)

    async def in_flight(self) -> list[InFlight]:
        """Attempts that may have a call up: the ones to reconcile after a restart."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(
                    CampaignAttempt.id,
                    CampaignAttempt.campaign_id,
                    CampaignAttempt.status,
                    CampaignAttempt.dialled_at,
                ).where(CampaignAttempt.status.in_(IN_FLIGHT))
            )
            return [InFlight(*row) for row in rows]

    async def get(self, attempt_id: int) -> CampaignAttempt:
        async with self._db.session() as session:
            attempt = await session.get(CampaignAttempt, attempt_id)
        if attempt is None:
            raise AttemptNotFound(f"no attempt with id {attempt_id}")
        return attempt


def day_start(now: datetime, tz: Any) -> datetime:
    """Hospital-local midnight of ``now``'s day (the "per day" of the daily limit)."""
    local: date = now.astimezone(tz).date()
    return datetime.combine(local, datetime.min.time(), tz)


# Campaigns whose patient a person must reach when the calls could not (a reminder or a
# survey that goes unanswered needs no one).
_NEEDS_A_PERSON = (CampaignKind.POST_DISCHARGE, CampaignKind.ADHERENCE)


async def _unreached_task(
    session: AsyncSession, campaign: Campaign, attempt: CampaignAttempt
) -> None:
    """The last allowed attempt failed: a task for a person, in the same transaction."""
    if campaign.kind not in _NEEDS_A_PERSON:
        return
    patient = await session.get(Patient, attempt.patient_id)
    if patient is None or not patient.active:
        return
    await create_task(
        session,
        patient_id=attempt.patient_id,
        reason=f"{campaign.name}: not reached after {attempt.attempt_no} calls"[:200],
        source_kind=TaskSource.CAMPAIGN,
        source_ref=f"attempt:{attempt.id}",
        priority=2,
        due_at=None,
        actor=Actor("dialer"),
    )
