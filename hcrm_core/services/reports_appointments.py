"""Appointment figures over a period: bookings by channel, cancellations, and the no-show
rate of reminded and of not reminded patients.

- booked: appointments made in the bucket (``booked_at``), by the channel they came from;
- cancelled: appointments cancelled in the bucket (``cancelled_at``), by channel;
- no-show rate: of the appointments that took place in the bucket (``starts_at``) and whose
  outcome is recorded (completed or no-show), the share marked no-show;
- reminded: an appointment whose reminder call reached the patient (an attempt of a reminder
  campaign for it, answered or completed); the rest are "not reminded".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hcrm_core.db import Database
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AttemptStatus,
    Campaign,
    CampaignAttempt,
    CampaignKind,
    Channel,
)
from hcrm_core.services.reports_period import Bucket, Period
from hcrm_core.services.reports_queues import bucket_key, report_reads

CHANNELS = tuple(c.value for c in Channel)
_REACHED = (AttemptStatus.ANSWERED, AttemptStatus.COMPLETED)


@dataclass(slots=True)
class AppointmentFigures:
    booked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    cancelled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    # (took place, no-show) for reminded and not reminded appointments.
    reminded: list[int] = field(default_factory=lambda: [0, 0])
    not_reminded: list[int] = field(default_factory=lambda: [0, 0])

    @staticmethod
    def _rate(pair: list[int]) -> float | None:
        return round(100.0 * pair[1] / pair[0], 1) if pair[0] else None

    def as_dict(self) -> dict[str, object]:
        held = [self.reminded[0] + self.not_reminded[0], self.reminded[1] + self.not_reminded[1]]
        return {
            "booked": sum(self.booked.values()),
            **{f"booked_{c}": self.booked[c] for c in CHANNELS},
            "cancelled": sum(self.cancelled.values()),
            **{f"cancelled_{c}": self.cancelled[c] for c in CHANNELS},
            "outcomes": held[0],
            "no_shows": held[1],
            "no_show_percent": self._rate(held),
            "reminded_outcomes": self.reminded[0],
            "reminded_no_show_percent": self._rate(self.reminded),
            "not_reminded_outcomes": self.not_reminded[0],
            "not_reminded_no_show_percent": self._rate(self.not_reminded),
        }


@dataclass(frozen=True, slots=True)
class AppointmentReport:
    period: Period
    buckets: list[Bucket]
    per_bucket: list[AppointmentFigures]
    total: AppointmentFigures


async def appointment_report(database: Database, period: Period) -> AppointmentReport:
    buckets = period.buckets()
    per_bucket = [AppointmentFigures() for _ in buckets]
    total = AppointmentFigures()
    async with report_reads(database) as connection:
        for index, what, channel, count in await _made(connection, database.dialect, period):
            for figures in (per_bucket[index], total):
                getattr(figures, what)[channel] += count
        for index, reminded, no_show, count in await _held(connection, database.dialect, period):
            for figures in (per_bucket[index], total):
                pair = figures.reminded if reminded else figures.not_reminded
                pair[0] += count
                pair[1] += count if no_show else 0
    return AppointmentReport(period, buckets, per_bucket, total)


async def _made(
    connection: AsyncConnection, dialect: str, period: Period
) -> list[tuple[int, str, str, int]]:
    """(bucket, "booked" or "cancelled", channel, how many), counted by the database per step
    (:func:`bucket_key`)."""
    buckets = period.buckets()
    result = []
    for what, at, channel in (
        ("booked", Appointment.booked_at, Appointment.channel),
        (
            "cancelled",
            Appointment.cancelled_at,
            func.coalesce(Appointment.cancel_channel, Appointment.channel),
        ),
    ):
        key, index_of = bucket_key(at, period, buckets, dialect)
        query = (
            select(key, channel, func.count())
            .where(at >= period.start, at < period.end)
            .group_by(key, channel)
        )
        for step, made_by, count in await connection.execute(query):
            index = index_of(step)
            if index is not None:
                result.append((index, what, Channel(made_by).value, int(count)))
    return result


async def _held(
    connection: AsyncConnection, dialect: str, period: Period
) -> list[tuple[int, bool, bool, int]]:
    """(bucket, reminded, no-show, how many) of the appointments due in the period whose
    outcome is recorded, counted by the database per step."""
    key, index_of = bucket_key(Appointment.starts_at, period, period.buckets(), dialect)
    reached = (
        select(CampaignAttempt.appointment_id)
        .join(Campaign, Campaign.id == CampaignAttempt.campaign_id)
        .where(
            Campaign.kind == CampaignKind.REMINDER,
            CampaignAttempt.status.in_(_REACHED),
            CampaignAttempt.appointment_id.is_not(None),
        )
    )
    reminded = Appointment.id.in_(reached)
    no_show = Appointment.status == AppointmentStatus.NO_SHOW
    query = (
        select(key, reminded, no_show, func.count())
        .where(
            Appointment.starts_at >= period.start,
            Appointment.starts_at < period.end,
            Appointment.status.in_((AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW)),
        )
        .group_by(key, reminded, no_show)
    )
    result = []
    for step, was_reminded, missed, count in await connection.execute(query):
        index = index_of(step)
        if index is not None:
            result.append((index, bool(was_reminded), bool(missed), int(count)))
    return result
