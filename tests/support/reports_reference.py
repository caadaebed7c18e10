"""The reports' figures the plain way, row by row in Python: the code the IVR channels, the
appointment report and the campaign report's tasks had before they were counted by the
database (issue 17, a month in under a second). Tests hold the reports equal to these."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from hcrm_core.db import Database
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AttemptStatus,
    AuditEvent,
    Call,
    Campaign,
    CampaignAttempt,
    CampaignKind,
    Channel,
    FollowUpTask,
    TaskSource,
)
from hcrm_core.services.reports_period import Period, bucket_index


def _detailed(channel: Channel, linkedid: str | None, speech: set[str]) -> str:
    if channel is Channel.IVR:
        return "ivr_speech" if linkedid in speech else "ivr_keypad"
    if channel is Channel.AGENT:
        return "agent_on_call" if linkedid else "agent"
    return channel.value


async def ivr_channels(database: Database, period: Period) -> Counter[tuple[int, str, str]]:
    """(bucket, "booked" or "cancelled", detailed channel) -> appointments."""
    start, end = period.start, period.end
    buckets = period.buckets()
    async with database.session() as session:
        booked = (
            await session.execute(
                select(
                    Appointment.booked_at, Appointment.channel, Appointment.booked_call_id
                ).where(Appointment.booked_at >= start, Appointment.booked_at < end)
            )
        ).all()
        cancelled = (
            await session.execute(
                select(
                    Appointment.id,
                    Appointment.cancelled_at,
                    func.coalesce(Appointment.cancel_channel, Appointment.channel),
                ).where(Appointment.cancelled_at >= start, Appointment.cancelled_at < end)
            )
        ).all()
        ivr_cancels = [str(a) for a, _, c in cancelled if c is Channel.IVR]
        # The audit rows in the order they were written: the last one wins.
        cancel_calls: dict[str, str] = {}
        if ivr_cancels:
            rows = await session.execute(
                select(AuditEvent.entity_id, AuditEvent.source)
                .where(
                    AuditEvent.entity == "appointment",
                    AuditEvent.actor == "ivr",
                    AuditEvent.entity_id.in_(ivr_cancels),
                    AuditEvent.source.is_not(None),
                )
                .order_by(AuditEvent.id)
            )
            cancel_calls = {str(e): str(s) for e, s in rows}
        contexts = await session.execute(select(Call.linkedid, Call.ivr_context))
        speech = {
            linkedid
            for linkedid, context in contexts
            if (context or {}).get("answered_by") == "speech"
        }
    counted: Counter[tuple[int, str, str]] = Counter()
    for at, channel, linkedid in booked:
        index = bucket_index(buckets, at)
        if index is not None:
            counted[index, "booked", _detailed(channel, linkedid, speech)] += 1
    for appointment_id, when, channel in cancelled:
        index = bucket_index(buckets, when)
        caller = cancel_calls.get(str(appointment_id))
        if index is not None:
            counted[index, "cancelled", _detailed(channel, caller, speech)] += 1
    return counted


async def appointment_figures(database: Database, period: Period) -> list[dict[str, Any]]:
    """Each bucket's figures as ``AppointmentFigures.as_dict`` gives them, then the total."""
    from hcrm_core.services.reports_appointments import AppointmentFigures

    buckets = period.buckets()
    per_bucket = [AppointmentFigures() for _ in buckets]
    total = AppointmentFigures()
    start, end = period.start, period.end

    def count(at: Any, what: str, channel: Channel) -> None:
        index = bucket_index(buckets, at)
        if index is not None:
            for figures in (per_bucket[index], total):
                getattr(figures, what)[channel.value] += 1

    reached = (
        select(CampaignAttempt.appointment_id)
        .join(Campaign, Campaign.id == CampaignAttempt.campaign_id)
        .where(
            Campaign.kind == CampaignKind.REMINDER,
            CampaignAttempt.status.in_((AttemptStatus.ANSWERED, AttemptStatus.COMPLETED)),
            CampaignAttempt.appointment_id.is_not(None),
        )
    )
    async with database.session() as session:
        for at, channel in await session.execute(
            select(Appointment.booked_at, Appointment.channel).where(
                Appointment.booked_at >= start, Appointment.booked_at < end
            )
        ):
            count(at, "booked", channel)
        for at, cancel_channel, channel in await session.execute(
            select(Appointment.cancelled_at, Appointment.cancel_channel, Appointment.channel).where(
                Appointment.cancelled_at >= start, Appointment.cancelled_at < end
            )
        ):
            count(at, "cancelled", cancel_channel or channel)
        held = await session.execute(
            select(Appointment.starts_at, Appointment.status, Appointment.id.in_(reached)).where(
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
                Appointment.status.in_((AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW)),
            )
        )
        for at, status, reminded in held:
            index = bucket_index(buckets, at)
            if index is None:
                continue
            for figures in (per_bucket[index], total):
                pair = figures.reminded if reminded else figures.not_reminded
                pair[0] += 1
                pair[1] += int(status is AppointmentStatus.NO_SHOW)
    return [f.as_dict() for f in [*per_bucket, total]]


async def campaign_tasks(
    database: Database, period: Period, campaign_ids: list[int] | None
) -> Counter[tuple[int, int, int, str]]:
    """(campaign, attempt number, bucket, "escalated" or "not_reached_tasks") -> tasks."""
    buckets = period.buckets()
    counted: Counter[tuple[int, int, int, str]] = Counter()
    async with database.session() as session:
        rows = await session.execute(
            select(
                FollowUpTask.source_kind, FollowUpTask.source_ref, FollowUpTask.source_attempt_id
            ).where(
                FollowUpTask.created_at >= period.start,
                FollowUpTask.source_kind.in_((TaskSource.SURVEY, TaskSource.CAMPAIGN)),
            )
        )
        made: dict[int, list[str]] = {}
        for kind, ref, attempt_id in rows:
            if attempt_id is None and ref and ref.startswith("attempt:") and ref[8:].isdigit():
                attempt_id = int(ref[8:])
            if attempt_id is not None:
                figure = "escalated" if kind is TaskSource.SURVEY else "not_reached_tasks"
                made.setdefault(int(attempt_id), []).append(figure)
        attempts = await session.execute(
            select(
                CampaignAttempt.id,
                CampaignAttempt.campaign_id,
                CampaignAttempt.attempt_no,
                CampaignAttempt.dialled_at,
            ).where(CampaignAttempt.id.in_(sorted(made)))
        )
        for attempt_id, campaign_id, number, dialled_at in attempts:
            index = bucket_index(buckets, dialled_at) if dialled_at else None
            if index is not None and (not campaign_ids or campaign_id in campaign_ids):
                for figure in made[attempt_id]:
                    counted[campaign_id, number, index, figure] += 1
    return counted
