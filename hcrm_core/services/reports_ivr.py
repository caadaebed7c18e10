"""IVR figures over a period: what became of the calls that entered the phone menus, where
callers hung up in them, and bookings and cancellations by channel.

Computed from the call log only (docs/reports.md). The IVR publishes every step it reaches
and the call log keeps, per call, when it entered and left the menus, the last step and the
context the steps carried. An inbound call that entered the IVR counts in the bucket in which
it entered, with one outcome:

- to an agent: it joined a queue or an agent answered it;
- contained: the IVR let it go (booked, cancelled, heard the closed message, left a
  voicemail...) without a queue or an agent. The IVR's own "leaving" step sets
  ``ivr_left_at`` at the moment the tracker folds it; a hang-up in the menus closes the
  stretch at exactly the hang-up's time (``ivr_left_at == ended_at``). Which of the leave and
  the hang-up the tracker saw first does not matter: only equality tells a hang-up;
- hung up in the menus: it ended while still in the menus, at its last step (a caller sent
  to an agent who hung up before joining the queue hung up at ``to-agent``);
- still in the menus: not ended yet.

Channels: an IVR booking or cancellation was made by speech when its call answered a menu by
voice (the dialog stores ``answered_by: speech``), else by keypad; an agent's booking made
during a call (the desk sends the call's Linkedid) is ``agent_on_call``, any other agent
booking or cancellation (the store keeps no call for them) is ``agent``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, and_, case, cast, func, or_, select

from hcrm_core.db import Database
from hcrm_core.models import Appointment, AuditEvent, Call, CallDirection, Channel
from hcrm_core.services.reports_period import Bucket, Period, bucket_index
from hcrm_core.services.reports_queues import bucket_key, group_unit, quarters_since, report_reads

OUTCOMES = ("contained", "to_agent", "hung_up", "ongoing")
CHANNELS = ("ivr_keypad", "ivr_speech", "agent_on_call", "agent", "web", "outbound")
TO_AGENT_STEP = "to-agent"  # callcenter/ivr/flows/main_menu.py: the IVR hands the call over


@dataclass(slots=True)
class IvrFigures:
    outcomes: Counter[str] = field(default_factory=Counter)
    booked: Counter[str] = field(default_factory=Counter)
    cancelled: Counter[str] = field(default_factory=Counter)

    @property
    def entered(self) -> int:
        return sum(self.outcomes.values())

    def as_dict(self) -> dict[str, Any]:
        entered = self.entered
        contained = self.outcomes["contained"]
        return {
            "entered": entered,
            **{o: self.outcomes[o] for o in OUTCOMES},
            "contained_percent": round(100.0 * contained / entered, 1) if entered else None,
            "booked": sum(self.booked.values()),
            **{f"booked_{c}": self.booked[c] for c in CHANNELS},
            "cancelled": sum(self.cancelled.values()),
            **{f"cancelled_{c}": self.cancelled[c] for c in CHANNELS},
        }


@dataclass(slots=True)
class StepLine:
    """One menu step: callers who hung up there, and calls the IVR finished there."""

    step: str
    hung_up: list[int]
    contained: list[int]

    @property
    def total_hung_up(self) -> int:
        return sum(self.hung_up)

    @property
    def total_contained(self) -> int:
        return sum(self.contained)


@dataclass(frozen=True, slots=True)
class IvrReport:
    period: Period
    buckets: list[Bucket]
    per_bucket: list[IvrFigures]
    total: IvrFigures
    steps: list[StepLine]  # most hang-ups first


async def ivr_report(database: Database, period: Period) -> IvrReport:
    """The IVR figures per bucket; a period without calls is a report of zeros."""
    buckets = period.buckets()
    per_bucket = [IvrFigures() for _ in buckets]
    total = IvrFigures()
    steps: dict[str, StepLine] = {}
    # The two reads on two connections at once: the database works on both while Python
    # waits (the IVR report by quarter hour over a month: 0.5 s, half of it each).
    outcomes, channels = await asyncio.gather(
        _outcomes(database, period, buckets), _channels(database, period, buckets)
    )
    for index, outcome, step, count in outcomes:
        for figures in (per_bucket[index], total):
            figures.outcomes[outcome] += count
        if outcome in ("hung_up", "contained"):
            line = steps.get(step) or steps.setdefault(
                step, StepLine(step, [0] * len(buckets), [0] * len(buckets))
            )
            (line.hung_up if outcome == "hung_up" else line.contained)[index] += count
    for index, what, channel, count in channels:
        for figures in (per_bucket[index], total):
            getattr(figures, what)[channel] += count
    ordered = sorted(steps.values(), key=lambda s: (-s.total_hung_up, -s.total_contained, s.step))
    return IvrReport(period, buckets, per_bucket, total, ordered)


async def _outcomes(
    database: Database, period: Period, buckets: list[Bucket]
) -> list[tuple[int, str, str, int]]:
    """(bucket, outcome, step, calls), summed by the database per quarter hour (or hour)."""
    unit = group_unit(period, buckets)
    quarter = quarters_since(Call.ivr_entered_at, period, database.dialect, unit)
    to_agent = or_(Call.queued_at.is_not(None), Call.agent_interface.is_not(None))
    contained = and_(
        Call.ivr_left_at.is_not(None),
        Call.ivr_left_at != Call.ended_at,
        func.coalesce(Call.ivr_last_step, "") != TO_AGENT_STEP,
    )
    outcome = case(
        (to_agent, "to_agent"),
        (Call.ended_at.is_(None), "ongoing"),
        (contained, "contained"),
        else_="hung_up",
    )
    step = case(
        (or_(to_agent, Call.ended_at.is_(None)), ""),
        else_=func.coalesce(Call.ivr_last_step, "unknown"),
    )
    query = (
        select(quarter.label("q"), outcome.label("o"), step.label("s"), func.count())
        .where(
            Call.direction == CallDirection.INBOUND,
            Call.ivr_entered_at >= period.start,
            Call.ivr_entered_at < period.end,
        )
        .group_by(quarter, outcome, step)
    )
    async with report_reads(database) as connection:
        rows = (await connection.execute(query)).all()
    result = []
    start = period.start
    for q, o, s, count in rows:
        index = bucket_index(buckets, start + int(q) * unit)
        if index is not None:
            result.append((index, str(o), str(s), int(count)))
    return result


async def _channels(
    database: Database, period: Period, buckets: list[Bucket]
) -> list[tuple[int, str, str, int]]:
    """(bucket, "booked" or "cancelled", detailed channel, how many) of the period's
    appointments, counted by the database per step (:func:`bucket_key`)."""
    dialect, start, end = database.dialect, period.start, period.end
    answered_by = Call.ivr_context["answered_by"].as_string()
    key, index_of = bucket_key(Appointment.booked_at, period, buckets, dialect)
    on_call = func.coalesce(Appointment.booked_call_id, "") != ""
    booked = (
        select(key, Appointment.channel, on_call, answered_by, func.count())
        .select_from(Appointment)
        # Only an IVR booking's call says how the caller answered.
        .outerjoin(
            Call,
            and_(Appointment.channel == Channel.IVR, Call.linkedid == Appointment.booked_call_id),
        )
        .where(Appointment.booked_at >= start, Appointment.booked_at < end)
        .group_by(key, Appointment.channel, on_call, answered_by)
    )
    cancel_key, cancel_index = bucket_key(Appointment.cancelled_at, period, buckets, dialect)
    channel = func.coalesce(Appointment.cancel_channel, Appointment.channel)
    cancelled = (
        select(
            cancel_key.label("step"),
            channel.label("channel"),
            case((channel == Channel.IVR, _cancelling_call()), else_=None).label("caller"),
        )
        .where(Appointment.cancelled_at >= start, Appointment.cancelled_at < end)
        .subquery("cancelled")
    )
    cancels = (
        select(cancelled.c.step, cancelled.c.channel, answered_by, func.count())
        .select_from(cancelled)
        .outerjoin(Call, Call.linkedid == cancelled.c.caller)
        .group_by(cancelled.c.step, cancelled.c.channel, answered_by)
    )
    result: list[tuple[int, str, str, int]] = []
    async with report_reads(database) as connection:
        for step, made_by, called, answer, count in await connection.execute(booked):
            index = index_of(step)
            if index is not None:
                detailed = _detailed(Channel(made_by), bool(called), answer == "speech")
                result.append((index, "booked", detailed, int(count)))
        # Only IVR cancellations have a call here: an agent's is always ``agent``.
        for step, made_by, answer, count in await connection.execute(cancels):
            index = cancel_index(step)
            if index is not None:
                detailed = _detailed(Channel(made_by), False, answer == "speech")
                result.append((index, "cancelled", detailed, int(count)))
    return result


def _detailed(channel: Channel, on_call: bool, spoken: bool) -> str:
    if channel is Channel.IVR:
        return "ivr_speech" if spoken else "ivr_keypad"
    if channel is Channel.AGENT:
        return "agent_on_call" if on_call else "agent"
    return channel.value


def _cancelling_call() -> Any:
    """The Linkedid of the IVR call that cancelled the appointment, in SQL: the audit row of
    an IVR cancellation names its call as its source (the latest such row, an IVR booking's
    own row being older)."""
    return (
        select(AuditEvent.source)
        .where(
            AuditEvent.entity == "appointment",
            AuditEvent.actor == "ivr",
            AuditEvent.entity_id == cast(Appointment.id, String),
            AuditEvent.source.is_not(None),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
        .correlate(Appointment)
        .scalar_subquery()
    )
