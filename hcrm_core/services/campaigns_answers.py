"""What a campaign call's dialog reads and writes: the call's facts, answers, escalation, opt-out.

Each answer is stored as it is given (a patient hanging up half-way keeps the answers given);
an answer crossing its question's threshold adds a priority 1 follow-up task in the same
transaction. Opting out sets do-not-call and cancels every queued attempt of the patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import PatientInactive, PatientNotFound
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AttemptStatus,
    AuditAction,
    Campaign,
    CampaignAttempt,
    CampaignKind,
    Department,
    FollowUpTask,
    Patient,
    SurveyAnswer,
    TaskSource,
    utcnow,
)
from hcrm_core.services.audit import add_audit
from hcrm_core.services.campaigns_config import CampaignConfig, parse_config
from hcrm_core.services.campaigns_errors import AttemptNotFound, NotDialable
from hcrm_core.services.tasks import create_task

ESCALATION_PRIORITY = 1


@dataclass(frozen=True, slots=True)
class DialogInfo:
    """What the dialog says and asks on one answered call."""

    attempt_id: int
    campaign_id: int
    kind: CampaignKind
    config: CampaignConfig
    patient_id: int
    language: str
    appointment_id: int | None
    appointment_starts_at: datetime | None
    department_code: str | None
    # The appointment was cancelled (an ``appointment-changed`` call then says so).
    appointment_cancelled: bool = False
    # The number dialled (E.164), kept on a callback request when the agents are closed.
    phone: str = ""


class AnswerService:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def dialog(self, attempt_id: int) -> DialogInfo:
        async with self._db.session() as session:
            found = (
                await session.execute(
                    select(CampaignAttempt, Campaign, Patient.preferred_language)
                    .join(Campaign, Campaign.id == CampaignAttempt.campaign_id)
                    .join(Patient, Patient.id == CampaignAttempt.patient_id)
                    .where(CampaignAttempt.id == attempt_id)
                )
            ).first()
            if found is None:
                raise AttemptNotFound(f"no attempt with id {attempt_id}")
            attempt, campaign, language = found
            starts_at, department, status = None, None, None
            if attempt.appointment_id is not None:
                row = (
                    await session.execute(
                        select(Appointment.starts_at, Department.code, Appointment.status)
                        .join(Department, Department.id == Appointment.department_id)
                        .where(Appointment.id == attempt.appointment_id)
                    )
                ).first()
                if row is not None:
                    starts_at, department, status = row
        return DialogInfo(
            attempt_id=attempt.id,
            campaign_id=campaign.id,
            kind=campaign.kind,
            config=parse_config(campaign.kind, campaign.settings),
            patient_id=attempt.patient_id,
            language=language,
            appointment_id=attempt.appointment_id,
            appointment_starts_at=starts_at,
            department_code=department,
            appointment_cancelled=status == AppointmentStatus.CANCELLED,
            phone=attempt.phone_e164,
        )

    async def record_answer(
        self, info: DialogInfo, question_key: str, value: str, *, now: datetime | None = None
    ) -> bool:
        """Store one answer against the patient; returns True when it escalated (a
        high-priority follow-up task was created for a nurse or agent)."""
        now = now or utcnow()
        question = info.config.question(question_key)
        if question is None:
            raise NotDialable("unknown_question", f"no question {question_key!r}")
        async with self._db.transaction() as session:
            session.add(
                SurveyAnswer(
                    attempt_id=info.attempt_id,
                    patient_id=info.patient_id,
                    question_key=question_key,
                    answer=value[:64],
                    answered_at=now,
                )
            )
            if not question.escalates(value):
                return False
            reason = question.escalation_reason or f"{question_key}: {value}"
            await self._add_task(session, info, reason, now)
        return True

    async def store_answer(
        self, info: DialogInfo, key: str, value: str, *, now: datetime | None = None
    ) -> None:
        """Store an answer that is not a configured question (a reminder's confirm/cancel)."""
        async with self._db.transaction() as session:
            session.add(
                SurveyAnswer(
                    attempt_id=info.attempt_id,
                    patient_id=info.patient_id,
                    question_key=key[:64],
                    answer=value[:64],
                    answered_at=now or utcnow(),
                )
            )

    async def escalate(self, info: DialogInfo, reason: str, *, now: datetime | None = None) -> None:
        now = now or utcnow()
        async with self._db.transaction() as session:
            await self._add_task(session, info, reason, now)

    @staticmethod
    async def _add_task(
        session: AsyncSession, info: DialogInfo, reason: str, now: datetime
    ) -> None:
        """The escalation's task (audited); none for a patient erased or merged meanwhile,
        whose answer is still kept."""
        try:
            task = await create_task(
                session,
                patient_id=info.patient_id,
                reason=f"campaign {info.campaign_id}: {reason}"[:200],
                source_kind=TaskSource.SURVEY,
                source_ref=f"attempt:{info.attempt_id}",
                priority=ESCALATION_PRIORITY,
                due_at=None,
                actor=Actor("dialer", source=f"attempt:{info.attempt_id}"),
            )
        except (PatientNotFound, PatientInactive):
            return
        task.due_date = now.date()
        task.source_attempt_id = info.attempt_id

    async def opt_out(self, attempt_id: int, actor: Actor) -> int:
        """The patient asked not to be called: do-not-call at once, queued attempts cancelled.

        Returns how many scheduled attempts (of any campaign) were cancelled."""
        async with self._db.transaction() as session:
            attempt = await session.get(CampaignAttempt, attempt_id)
            if attempt is None:
                raise AttemptNotFound(f"no attempt with id {attempt_id}")
            patient_id = attempt.patient_id
            await session.execute(
                update(Patient).where(Patient.id == patient_id).values(do_not_call=True)
            )
            result = await session.execute(
                update(CampaignAttempt)
                .where(
                    CampaignAttempt.patient_id == patient_id,
                    CampaignAttempt.status == AttemptStatus.SCHEDULED,
                )
                .values(status=AttemptStatus.CANCELLED, outcome_detail="opted_out")
                .execution_options(synchronize_session=False)
            )
            cancelled = int(result.rowcount)  # type: ignore[attr-defined]
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "patient",
                patient_id,
                patient_id=patient_id,
                detail={"do_not_call": True, "attempt_id": attempt_id, "cancelled": cancelled},
            )
        return cancelled

    async def answers(self, attempt_id: int) -> dict[str, str]:
        async with self._db.session() as session:
            rows = await session.execute(
                select(SurveyAnswer.question_key, SurveyAnswer.answer).where(
                    SurveyAnswer.attempt_id == attempt_id
                )
            )
            return {key: value for key, value in rows}

    async def open_tasks_for(self, patient_id: int) -> list[FollowUpTask]:
        async with self._db.session() as session:
            return list(
                await session.scalars(
                    select(FollowUpTask)
                    .where(FollowUpTask.patient_id == patient_id)
                    .order_by(FollowUpTask.priority, FollowUpTask.id)
                )
            )
