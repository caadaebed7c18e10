"""Selecting whom a campaign calls, and when each is first due.

One query per campaign, in SQL on both engines: filters by department, chronic condition,
appointment or discharge dates, last contact and a saved segment's members, and always by
consent to be called and do-not-call. Reminders target appointments (one call per booked
appointment, the day before); post-discharge follow-ups are due on day N after discharge; the
rest are due at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    CampaignAttempt,
    CampaignKind,
    ChronicCondition,
    Patient,
    PatientPhone,
    Segment,
)
from hcrm_core.services.campaigns_config import CampaignConfig
from hcrm_core.services.campaigns_window import window_start_on
from hcrm_core.services.segments import segment_members


@dataclass(frozen=True, slots=True)
class Target:
    patient_id: int
    phone_e164: str
    appointment_id: int | None
    due: datetime


def _local_day_bounds(
    first: date | None, last: date | None, tz: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(first, time(0), tz) if first else None
    end = datetime.combine(last + timedelta(days=1), time(0), tz) if last else None
    return start, end


def _phone_subquery() -> Select[tuple[int, str]]:
    """Each patient's number to call: the primary one, else the first recorded."""
    ranked = select(
        PatientPhone.patient_id,
        PatientPhone.e164,
        func.row_number()
        .over(
            partition_by=PatientPhone.patient_id,
            order_by=(PatientPhone.is_primary.desc(), PatientPhone.id),
        )
        .label("rank"),
    ).subquery()
    return select(ranked.c.patient_id, ranked.c.e164).where(ranked.c.rank == 1)


async def check_segment(session: AsyncSession, config: CampaignConfig) -> None:
    """Refuse settings naming a segment that does not exist (422 at ``targets.segment_id``)."""
    segment_id = config.targets.segment_id
    if segment_id is not None and await session.get(Segment, segment_id) is None:
        raise ValidationFailed("targets.segment_id", "no such segment")


async def _base_query(
    session: AsyncSession, config: CampaignConfig, now: datetime, tz: ZoneInfo
) -> Select[tuple[int, str]]:
    targets = config.targets
    phones = _phone_subquery().subquery()
    query = (
        select(Patient.id, phones.c.e164)
        .join(phones, phones.c.patient_id == Patient.id)
        .where(Patient.active, Patient.consent_call, ~Patient.do_not_call)
    )
    if targets.segment_id is not None:
        members = await segment_members(session, targets.segment_id, now=now, tz=tz)
        query = query.where(Patient.id.in_(members.scalar_subquery()))
    if targets.patient_ids is not None:
        query = query.where(Patient.id.in_(targets.patient_ids))
    if targets.condition_code:
        query = query.where(
            exists().where(
                ChronicCondition.patient_id == Patient.id,
                ChronicCondition.code.startswith(targets.condition_code.upper()),
            )
        )
    start, end = _local_day_bounds(targets.discharged_from, targets.discharged_to, tz)
    if start is not None:
        query = query.where(Patient.discharged_at >= start)
    if end is not None:
        query = query.where(Patient.discharged_at < end)
    if targets.discharged_from or targets.discharged_to:
        query = query.where(Patient.discharged_at.is_not(None))
    if targets.not_contacted_days:
        since = now - timedelta(days=targets.not_contacted_days)
        query = query.where(
            ~exists().where(
                CampaignAttempt.patient_id == Patient.id, CampaignAttempt.dialled_at >= since
            )
        )
    return query


def _appointment_filter(config: CampaignConfig, tz: ZoneInfo) -> list[object]:
    targets = config.targets
    conditions: list[object] = [
        Appointment.patient_id == Patient.id,
        Appointment.status == AppointmentStatus.BOOKED,
    ]
    if targets.department_id is not None:
        conditions.append(Appointment.department_id == targets.department_id)
    if targets.appointment_from is not None:
        conditions.append(Appointment.local_date >= targets.appointment_from)
    if targets.appointment_to is not None:
        conditions.append(Appointment.local_date <= targets.appointment_to)
    return conditions


async def select_targets(
    session: AsyncSession,
    kind: CampaignKind,
    config: CampaignConfig,
    *,
    now: datetime,
    tz: ZoneInfo,
    not_in_campaign: int | None = None,
) -> list[Target]:
    """Every patient (or appointment, for reminders) the campaign is to call, with due times.

    None for an ``appointment-changed`` campaign: the slot keeper adds its calls one by one,
    as the hospital moves or cancels appointments. ``not_in_campaign`` leaves out the
    appointments (reminders) or patients (the other kinds) that campaign already has an
    attempt for: the newcomers of continuous enrolment (:mod:`campaigns_enrolment`)."""
    if kind is CampaignKind.APPOINTMENT_CHANGED:
        return []
    query = await _base_query(session, config, now, tz)
    if kind is CampaignKind.REMINDER:
        if not_in_campaign is not None:
            query = query.where(
                ~exists().where(
                    CampaignAttempt.campaign_id == not_in_campaign,
                    CampaignAttempt.appointment_id == Appointment.id,
                )
            )
        rows = await session.execute(
            query.add_columns(Appointment.id, Appointment.local_date)
            .join(Appointment, and_(*_appointment_filter(config, tz)))  # type: ignore[arg-type]
            .where(Appointment.starts_at > now)
            .order_by(Appointment.starts_at)
        )
        return [
            Target(pid, phone, appointment_id, _due(day - timedelta(days=1), config, tz, now))
            for pid, phone, appointment_id, day in rows
        ]
    if not_in_campaign is not None:
        query = query.where(
            ~exists().where(
                CampaignAttempt.campaign_id == not_in_campaign,
                CampaignAttempt.patient_id == Patient.id,
            )
        )
    targets = config.targets
    if targets.department_id is not None or targets.appointment_from or targets.appointment_to:
        query = query.where(exists().where(*_appointment_filter(config, tz)))  # type: ignore[arg-type]
    if kind is CampaignKind.POST_DISCHARGE:
        rows = await session.execute(
            query.add_columns(Patient.discharged_at)
            .where(Patient.discharged_at.is_not(None))
            .order_by(Patient.id)
        )
        return [
            Target(
                pid,
                phone,
                None,
                _due(
                    discharged.astimezone(tz).date() + timedelta(days=config.followup_day),
                    config,
                    tz,
                    now,
                ),
            )
            for pid, phone, discharged in rows
        ]
    rows = await session.execute(query.order_by(Patient.id))
    return [Target(pid, phone, None, now) for pid, phone in rows]


def _due(day: date, config: CampaignConfig, tz: ZoneInfo, now: datetime) -> datetime:
    return max(now, window_start_on(day, config.window, tz))
