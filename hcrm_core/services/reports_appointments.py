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
from datetime import datetime

from sqlalchemy import select

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
from hcrm_core.services.reports_period import Bucket, Period, bucket_index

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
    start, end = period.start, period.end
    async with database.session() as session:
        booked = await session.execute(
            select(Appointment.booked_at, Appointment.channel).where(
                Appointment.booked_at >= start, Appointment.booked_at < end
            )
        )
        for at, channel in booked:
            _count(buckets, per_bucket, total, at, "booked", channel)
        cancelled = await session.execute(
            select(Appointment.cancelled_at, Appointment.cancel_channel, Appointment.channel).where(
                Appointment.cancelled_at >= start, Appointment.cancelled_at < end
            )
        )
        for cancelled_at, cancel_channel, channel in cancelled:
            assert cancelled_at is not None  # the filter above
            _count(buckets, per_bucket, total, cancelled_at, "cancelled", cancel_channel or channel)
        reached = (
            select(CampaignAttempt.appointment_id)
            .join(Campaign, Campaign.id == CampaignAttempt.campaign_id)
            .where(
                Campaign.kind == CampaignKind.REMINDER,
                CampaignAttempt.status.in_(_REACHED),
                CampaignAttempt.appointment_id.is_not(None),
            )
        )
        held = await session.execute(
            select(
                Appointment.starts_at,
                Appointment.status,
                Appointment.id.in_(reached).label("reminded"),
            ).where(
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
                Appointment.status.in_((AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW)),
            )
        )
        for at, status, reminded in held:
            index = bucket_index(buckets, at)
            if index is None:
                continue
            no_show = int(status is AppointmentStatus.NO_SHOW)
            for figures in (per_bucket[index], total):
                pair = figures.reminded if reminded else figures.not_reminded
                pair[0] += 1
                pair[1] += no_show
    return AppointmentReport(period, buckets, per_bucket, total)


def _count(
    buckets: list[Bucket],
    per_bucket: list[AppointmentFigures],
    total: AppointmentFigures,
    at: datetime,
    what: str,
    channel: Channel,
) -> None:
    index = bucket_index(buckets, at)
    if index is None:
        return
    for figures in (per_bucket[index], total):
        getattr(figures, what)[channel.value] += 1
