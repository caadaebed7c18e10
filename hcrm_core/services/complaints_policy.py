"""When a complaint must be acknowledged and answered: working days per severity.

Pure: the due moments are computed from the time received, the hospital's zone, the
severity's working days, weekends and the hospital-wide holidays.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hcrm_core.models import ComplaintSeverity


@dataclass(frozen=True, slots=True)
class Deadline:
    acknowledge_days: int
    respond_days: int


def _default_deadlines() -> dict[ComplaintSeverity, Deadline]:
    return {
        ComplaintSeverity.LOW: Deadline(2, 10),
        ComplaintSeverity.MEDIUM: Deadline(1, 5),
        ComplaintSeverity.HIGH: Deadline(1, 3),
        ComplaintSeverity.CRITICAL: Deadline(1, 1),
    }


@dataclass(frozen=True, slots=True)
class ComplaintPolicy:
    """Working days to acknowledge and to respond, per severity (Monday to Friday)."""

    deadlines: Mapping[ComplaintSeverity, Deadline] = field(default_factory=_default_deadlines)
    weekend: frozenset[int] = frozenset({5, 6})

    def due(
        self,
        severity: ComplaintSeverity,
        received: datetime,
        zone: ZoneInfo,
        holidays: Collection[date] = (),
    ) -> tuple[datetime, datetime]:
        """The acknowledge-by and respond-by moments for a complaint received at ``received``."""
        rule = self.deadlines[severity]
        return (
            self.add_working_days(received, rule.acknowledge_days, zone, holidays),
            self.add_working_days(received, rule.respond_days, zone, holidays),
        )

    def add_working_days(
        self, start: datetime, days: int, zone: ZoneInfo, holidays: Collection[date] = ()
    ) -> datetime:
        """``days`` working days after ``start``, at the same local clock time."""
        local = start.astimezone(zone)
        day = local.date()
        left = days
        while left > 0:
            day += timedelta(days=1)
            if day.weekday() not in self.weekend and day not in holidays:
                left -= 1
        moment = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone)
        return moment.astimezone(start.tzinfo)


DEFAULT_POLICY = ComplaintPolicy()
