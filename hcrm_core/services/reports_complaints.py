"""Complaint figures over a period: received (by category and severity), and what became of
them: closed and how long that took, still open, overdue against the policy's due times.

Computed from the complaints (docs/reports.md). A complaint counts in the bucket in which it
was received (``created_at``); what became of it is its state when the report is made:

- open: not closed (received, investigating, responded, reopened);
- overdue: open and past its due time under the complaints policy (not acknowledged by
  ``acknowledge_due_at``, or not answered by ``respond_due_at``), as the complaints inbox
  shows it;
- answered late: answered (responded or closed) after ``respond_due_at``;
- time to close: from received to closed, of the closed ones.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.models import Complaint, ComplaintSeverity, ComplaintStatus
from hcrm_core.models.base import utcnow
from hcrm_core.services.complaints import is_past_due
from hcrm_core.services.reports_period import Bucket, Period, average_hours, bucket_index

SEVERITIES = tuple(s.value for s in ComplaintSeverity)
# What the figures read of a complaint (and is_past_due of the complaints inbox).
_COLUMNS = (
    Complaint.category,
    Complaint.severity,
    Complaint.status,
    Complaint.created_at,
    Complaint.acknowledge_due_at,
    Complaint.respond_due_at,
    Complaint.responded_at,
    Complaint.resolved_at,
)


@dataclass(slots=True)
class ComplaintFigures:
    received: int = 0
    by_severity: Counter[str] = field(default_factory=Counter)
    open: int = 0
    overdue: int = 0
    answered_late: int = 0
    closed: int = 0
    close_seconds_total: float = 0.0

    def add(self, complaint: Any, now: datetime) -> None:
        """One complaint (a row with the columns of :data:`_COLUMNS`)."""
        self.received += 1
        self.by_severity[complaint.severity.value] += 1
        if complaint.status is ComplaintStatus.CLOSED:
            self.closed += 1
            if complaint.resolved_at is not None:
                self.close_seconds_total += (
                    complaint.resolved_at - complaint.created_at
                ).total_seconds()
        else:
            self.open += 1
            self.overdue += int(is_past_due(complaint, now))
        answered = complaint.responded_at or complaint.resolved_at
        due = complaint.respond_due_at
        self.answered_late += int(answered is not None and due is not None and answered > due)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            **{f"severity_{s}": self.by_severity[s] for s in SEVERITIES},
            "open": self.open,
            "overdue": self.overdue,
            "answered_late": self.answered_late,
            "closed": self.closed,
            "time_to_close_average_hours": average_hours(self.close_seconds_total, self.closed),
        }


@dataclass(frozen=True, slots=True)
class ComplaintReport:
    period: Period
    buckets: list[Bucket]
    per_bucket: list[ComplaintFigures]
    total: ComplaintFigures
    by_category: dict[str, ComplaintFigures]


async def complaint_report(
    database: Database, period: Period, *, now: datetime | None = None
) -> ComplaintReport:
    """Complaints received in the period, per bucket and per category; their state as of
    ``now``. A period without complaints is a report of zeros."""
    now = now or utcnow()
    buckets = period.buckets()
    per_bucket = [ComplaintFigures() for _ in buckets]
    total = ComplaintFigures()
    by_category: dict[str, ComplaintFigures] = {}
    async with database.session() as session:
        complaints = await session.execute(
            select(*_COLUMNS).where(
                Complaint.created_at >= period.start, Complaint.created_at < period.end
            )
        )
        for complaint in complaints:
            index = bucket_index(buckets, complaint.created_at)
            if index is None:
                continue
            category = by_category.setdefault(complaint.category, ComplaintFigures())
            for figures in (per_bucket[index], total, category):
                figures.add(complaint, now)
    ordered = dict(sorted(by_category.items(), key=lambda kv: (-kv[1].received, kv[0])))
    return ComplaintReport(period, buckets, per_bucket, total, ordered)
