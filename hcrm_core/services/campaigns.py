"""Campaigns: create, edit, start, pause, stop; progress and results.

Starting a campaign selects its targets (:mod:`campaigns_targets`) and writes one scheduled
attempt per target, in bulk, in the same transaction that marks it running: a campaign is never
running with half its attempts written. Stopping cancels every attempt not yet dialled. The
per-call work (claiming, outcomes, answers, opt-out) is :mod:`campaigns_attempts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import (
    AttemptStatus,
    AuditAction,
    Campaign,
    CampaignAttempt,
    CampaignKind,
    CampaignStatus,
    ExceptionKind,
    FollowUpTask,
    Patient,
    ScheduleException,
    SurveyAnswer,
    utcnow,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.audit import add_audit
from hcrm_core.services.campaigns_config import CampaignConfig, parse_config, stored
from hcrm_core.services.campaigns_errors import CampaignNotFound, CampaignStateError
from hcrm_core.services.campaigns_targets import check_segment, select_targets

_ATTEMPTS: Table = CampaignAttempt.__table__  # type: ignore[assignment]
_INSERT_BATCH = 5_000
# Attempt states that count towards progress figures.
ANSWERED_STATES = (AttemptStatus.ANSWERED, AttemptStatus.COMPLETED)
FAILED_STATES = (
    AttemptStatus.BUSY,
    AttemptStatus.NO_ANSWER,
    AttemptStatus.FAILED,
    AttemptStatus.MACHINE,
)


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    campaign_id: int
    status: CampaignStatus
    scheduled: int
    dialled: int
    in_flight: int
    answered: int
    completed: int
    failed: int
    cancelled: int
    escalated: int
    abandoned: int

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def config_of(campaign: Campaign) -> CampaignConfig:
    return parse_config(campaign.kind, campaign.settings)


class CampaignService:
    def __init__(self, database: Database, policy: BookingPolicy) -> None:
        self._db = database
        self._policy = policy

    # -- reading -----------------------------------------------------------------------------

    async def get(self, campaign_id: int) -> Campaign:
        async with self._db.session() as session:
            campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            raise CampaignNotFound(f"no campaign with id {campaign_id}")
        return campaign

    async def all(self, *, status: CampaignStatus | None = None) -> list[Campaign]:
        query = select(Campaign).order_by(Campaign.id.desc())
        if status is not None:
            query = query.where(Campaign.status == status)
        async with self._db.session() as session:
            return list(await session.scalars(query))

    # -- editing -----------------------------------------------------------------------------

    async def create(
        self, name: str, kind: CampaignKind | str, settings: dict[str, Any], actor: Actor
    ) -> Campaign:
        """A draft campaign; ``settings`` are validated (:class:`ValidationFailed` names the
        field) and missing questions get the kind's defaults."""
        name = name.strip()
        if not 0 < len(name) <= 120:
            raise ValidationFailed("name", "give a name of 1 to 120 characters")
        try:
            kind = CampaignKind(kind)
        except ValueError as exc:
            choices = ", ".join(k.value for k in CampaignKind)
            raise ValidationFailed("kind", f"use one of {choices}") from exc
        config = parse_config(kind, settings)
        async with self._db.transaction() as session:
            await check_segment(session, config)
            campaign = Campaign(
                name=name,
                kind=kind,
                settings=stored(config),
                created_by_user_id=actor.user_id,
                status=CampaignStatus.DRAFT,
            )
            session.add(campaign)
            await session.flush()
            add_audit(session, actor, AuditAction.CREATE, "campaign", campaign.id)
        return campaign

    async def update_settings(
        self, campaign_id: int, settings: dict[str, Any], actor: Actor
    ) -> Campaign:
        """Replace the settings (questions, thresholds, pacing); applies to calls not yet made."""
        async with self._db.transaction() as session:
            campaign = await self._locked(session, campaign_id)
            if campaign.status in (CampaignStatus.STOPPED, CampaignStatus.COMPLETED):
                raise CampaignStateError(f"a {campaign.status.value} campaign cannot be edited")
            config = parse_config(campaign.kind, settings)
            await check_segment(session, config)
            campaign.settings = stored(config)
            add_audit(session, actor, AuditAction.UPDATE, "campaign", campaign_id)
        return campaign

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, campaign_id: int, actor: Actor, *, now: datetime | None = None) -> int:
        """Run a draft (selecting and scheduling its targets) or resume a paused campaign.

        Returns the number of attempts scheduled by this call (0 when resuming)."""
        now = now or utcnow()
        async with self._db.transaction() as session:
            campaign = await self._locked(session, campaign_id)
            if campaign.status is CampaignStatus.RUNNING:
                return 0
            if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
                raise CampaignStateError(f"a {campaign.status.value} campaign cannot be started")
            scheduled = 0
            if campaign.status is CampaignStatus.DRAFT:
                scheduled = await self._schedule(session, campaign, now)
            campaign.status = CampaignStatus.RUNNING
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "campaign",
                campaign_id,
                detail={"status": "running", "scheduled": scheduled},
            )
        return scheduled

    async def _schedule(self, session: AsyncSession, campaign: Campaign, now: datetime) -> int:
        config = config_of(campaign)
        targets = await select_targets(
            session, campaign.kind, config, now=now, tz=self._policy.timezone
        )
        rows = [
            {
                "campaign_id": campaign.id,
                "patient_id": t.patient_id,
                "appointment_id": t.appointment_id,
                "phone_e164": t.phone_e164,
                "attempt_no": 1,
                "status": AttemptStatus.SCHEDULED,
                "scheduled_for": t.due,
            }
            for t in targets
        ]
        connection = await session.connection()
        for first in range(0, len(rows), _INSERT_BATCH):
            await connection.execute(insert(_ATTEMPTS), rows[first : first + _INSERT_BATCH])
        return len(rows)

    async def pause(self, campaign_id: int, actor: Actor) -> None:
        """No new dials; calls in progress finish; scheduled attempts wait."""
        await self._set_status(
            campaign_id, actor, CampaignStatus.PAUSED, allowed=(CampaignStatus.RUNNING,)
        )

    async def stop(self, campaign_id: int, actor: Actor) -> int:
        """End the campaign for good: every attempt not yet dialled is cancelled (returned)."""
        async with self._db.transaction() as session:
            campaign = await self._locked(session, campaign_id)
            if campaign.status in (CampaignStatus.STOPPED, CampaignStatus.COMPLETED):
                return 0
            campaign.status = CampaignStatus.STOPPED
            result = await session.execute(
                update(CampaignAttempt)
                .where(
                    CampaignAttempt.campaign_id == campaign_id,
                    CampaignAttempt.status == AttemptStatus.SCHEDULED,
                )
                .values(status=AttemptStatus.CANCELLED, outcome_detail="campaign stopped")
                .execution_options(synchronize_session=False)
            )
            cancelled = int(result.rowcount)  # type: ignore[attr-defined]
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "campaign",
                campaign_id,
                detail={"status": "stopped", "cancelled": cancelled},
            )
        return cancelled

    async def complete_if_done(self, campaign_id: int) -> bool:
        """Mark a running campaign completed once nothing is scheduled or in flight."""
        open_states = (AttemptStatus.SCHEDULED, AttemptStatus.DIALLING, AttemptStatus.ANSWERED)
        async with self._db.transaction() as session:
            remaining = await session.scalar(
                select(func.count())
                .select_from(CampaignAttempt)
                .where(
                    CampaignAttempt.campaign_id == campaign_id,
                    CampaignAttempt.status.in_(open_states),
                )
            )
            if remaining:
                return False
            result = await session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.RUNNING)
                .values(status=CampaignStatus.COMPLETED)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _set_status(
        self,
        campaign_id: int,
        actor: Actor,
        status: CampaignStatus,
        *,
        allowed: tuple[CampaignStatus, ...],
    ) -> None:
        async with self._db.transaction() as session:
            campaign = await self._locked(session, campaign_id)
            if campaign.status is status:
                return
            if campaign.status not in allowed:
                raise CampaignStateError(
                    f"a {campaign.status.value} campaign cannot become {status.value}"
                )
            campaign.status = status
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "campaign",
                campaign_id,
                detail={"status": status.value},
            )

    async def _locked(self, session: AsyncSession, campaign_id: int) -> Campaign:
        campaign = await session.get(Campaign, campaign_id, with_for_update=True)
        if campaign is None:
            raise CampaignNotFound(f"no campaign with id {campaign_id}")
        return campaign

    async def holidays(self, first: date, days: int) -> frozenset[date]:
        """Hospital-local days covered by a hospital-wide holiday (a schedule exception with
        no doctor), from ``first`` for ``days`` days: campaigns do not call on them."""
        tz = self._policy.timezone
        start = datetime.combine(first, time(0), tz)
        end = start + timedelta(days=days)
        async with self._db.session() as session:
            rows = await session.execute(
                select(ScheduleException.starts_at, ScheduleException.ends_at).where(
                    ScheduleException.doctor_id.is_(None),
                    ScheduleException.kind == ExceptionKind.HOLIDAY,
                    ScheduleException.ends_at > start,
                    ScheduleException.starts_at < end,
                )
            )
            spans = rows.all()
        result: set[date] = set()
        for starts_at, ends_at in spans:
            day = starts_at.astimezone(tz).date()
            last = (ends_at - timedelta(microseconds=1)).astimezone(tz).date()
            while day <= last:
                result.add(day)
                day += timedelta(days=1)
        return frozenset(result)

    # -- figures -----------------------------------------------------------------------------

    async def progress(self, campaign_id: int) -> CampaignProgress:
        campaign = await self.get(campaign_id)
        async with self._db.session() as session:
            counts: dict[AttemptStatus, int] = dict(
                (
                    await session.execute(
                        select(CampaignAttempt.status, func.count())
                        .where(CampaignAttempt.campaign_id == campaign_id)
                        .group_by(CampaignAttempt.status)
                    )
                ).all()
            )
            escalated = await session.scalar(
                select(func.count())
                .select_from(FollowUpTask)
                .join(CampaignAttempt, CampaignAttempt.id == FollowUpTask.source_attempt_id)
                .where(CampaignAttempt.campaign_id == campaign_id)
            )
            abandoned = await session.scalar(
                select(func.count())
                .select_from(CampaignAttempt)
                .where(
                    CampaignAttempt.campaign_id == campaign_id,
                    CampaignAttempt.outcome_detail == "abandoned",
                )
            )
        total = sum(counts.values())
        waiting = counts.get(AttemptStatus.SCHEDULED, 0) + counts.get(AttemptStatus.CANCELLED, 0)
        return CampaignProgress(
            campaign_id=campaign_id,
            status=campaign.status,
            scheduled=counts.get(AttemptStatus.SCHEDULED, 0),
            dialled=total - waiting,
            in_flight=counts.get(AttemptStatus.DIALLING, 0) + counts.get(AttemptStatus.ANSWERED, 0),
            answered=sum(counts.get(s, 0) for s in ANSWERED_STATES),
            completed=counts.get(AttemptStatus.COMPLETED, 0),
            failed=sum(counts.get(s, 0) for s in FAILED_STATES),
            cancelled=counts.get(AttemptStatus.CANCELLED, 0),
            escalated=int(escalated or 0),
            abandoned=int(abandoned or 0),
        )

    async def results(self, campaign_id: int) -> list[dict[str, Any]]:
        """One row per attempt with its answers (question key -> answer), for the CSV export."""
        await self.get(campaign_id)
        async with self._db.session() as session:
            attempts = (
                await session.execute(
                    select(CampaignAttempt, Patient.mrn)
                    .join(Patient, Patient.id == CampaignAttempt.patient_id)
                    .where(CampaignAttempt.campaign_id == campaign_id)
                    .order_by(CampaignAttempt.id)
                )
            ).all()
            answers = await session.execute(
                select(SurveyAnswer.attempt_id, SurveyAnswer.question_key, SurveyAnswer.answer)
                .join(CampaignAttempt, CampaignAttempt.id == SurveyAnswer.attempt_id)
                .where(CampaignAttempt.campaign_id == campaign_id)
            )
            by_attempt: dict[int, dict[str, str]] = {}
            for attempt_id, key, value in answers:
                by_attempt.setdefault(attempt_id, {})[key] = value
        return [
            {
                "attempt_id": attempt.id,
                "patient_id": attempt.patient_id,
                "mrn": mrn,
                "attempt_no": attempt.attempt_no,
                "status": attempt.status.value,
                "detail": attempt.outcome_detail or "",
                "scheduled_for": attempt.scheduled_for.isoformat(),
                "dialled_at": attempt.dialled_at.isoformat() if attempt.dialled_at else "",
                "ended_at": attempt.ended_at.isoformat() if attempt.ended_at else "",
                "answers": by_attempt.get(attempt.id, {}),
            }
            for attempt, mrn in attempts
        ]
