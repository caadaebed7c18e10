"""Campaign attempts, follow-up tasks and complaints of a seeded centre for
``benchmarks/reports.py`` (:class:`Outreach`, the base of ``_reports_centre.Centre``).

Rows have the shapes the live code writes: reminder attempts name their appointment, tasks
made by the dialer say ``attempt:<id>``, and every task and complaint has its status history
(``task_status_changes``, ``complaint_status_changes``: the steps ``case_history`` reads of
its columns, as the services write them when the status changes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from hcrm_core.models import (
    Appointment,
    AttemptStatus,
    AuditEvent,
    CampaignAttempt,
    CampaignKind,
    Complaint,
    ComplaintSeverity,
    ComplaintStatus,
    ComplaintStatusChange,
    FollowUpStatus,
    FollowUpTask,
    TaskSource,
    TaskStatusChange,
)
from hcrm_core.services.case_history import complaint_story, task_story

_CATEGORIES = ("waiting time", "staff attitude", "billing", "appointment", "facilities")
_TASK_SOURCES = (  # made by people and the IVR, per 4,100 calls a day
    (TaskSource.IVR_NO_AGENT, 20),
    (TaskSource.VOICEMAIL, 30),
    (TaskSource.CALLBACK_REQUEST, 60),
    (TaskSource.MISSED_CALLBACK, 10),
    (TaskSource.MANUAL, 20),
    (TaskSource.APPOINTMENT_CHANGE, 10),
)


def pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


@dataclass
class DayRows:
    """One day's rows, by model, to insert in one transaction (the order of ``tables``)."""

    tables: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, model: Any, row: dict[str, Any]) -> None:
        self.tables.setdefault(model, []).append(row)


_INSERT_ORDER = (
    Appointment,
    AuditEvent,
    CampaignAttempt,
    FollowUpTask,
    TaskStatusChange,
    Complaint,
    ComplaintStatusChange,
)
# Who changed a case's status, in its history rows (the live code writes "user:alice"...).
_ACTOR = "bench"


async def insert_day(session: Any, rows: DayRows) -> None:
    for model in _INSERT_ORDER:
        if rows.tables.get(model):
            await session.execute(insert(model), rows.tables[model])


class Outreach:
    """Ids, times and the day's attempts, tasks and complaints, in proportion to the calls
    (``scale`` 1: 4,100 queue calls a day)."""

    def __init__(
        self,
        rng: random.Random,
        tz: ZoneInfo,
        first_day: date,
        days: int,
        calls_per_day: int,
        agent_ids: list[int],
    ) -> None:
        self.rng, self.tz, self.first_day, self.days = rng, tz, first_day, days
        self.calls_per_day = calls_per_day
        self.scale = calls_per_day / 4100
        self.agent_ids = agent_ids
        self.patients = max(500, 20 * calls_per_day)
        self.campaigns: dict[CampaignKind, int] = {}
        self._ids: dict[str, int] = {}
        self.first_moment = self._local(first_day, 0)
        self.last_moment = self._local(first_day + timedelta(days=days), 0)

    def _next(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def _local(self, day: date, hours: float) -> datetime:
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz)
        return (midnight + timedelta(hours=hours)).astimezone(UTC)

    def _scaled(self, per_day: float) -> int:
        value = per_day * self.scale
        return int(value) + int(self.rng.random() < value - int(value))

    def _reminder(
        self, rows: DayRows, appointment_id: int, patient: int, starts: datetime, booked: datetime
    ) -> bool:
        """The reminder calls the day before (80 % of appointments booked by then); whether
        one reached the patient."""
        rng = self.rng
        eve = starts.astimezone(self.tz).date() - timedelta(days=1)
        dialled = self._local(eve, 10 + 7 * rng.random())
        if dialled <= booked or dialled >= self.last_moment or rng.random() >= 0.8:
            return False
        for number in (1, 2):
            status, detail = self._attempt_outcome()
            attempt_id = self._attempt(
                rows, CampaignKind.REMINDER, patient, number, dialled, status, detail
            )
            rows.tables[CampaignAttempt][-1]["appointment_id"] = appointment_id
            if status in (AttemptStatus.COMPLETED, AttemptStatus.ANSWERED):
                return True
            if number == 2 or rng.random() < 0.5:
                self._task(rows, dialled + timedelta(minutes=5), TaskSource.CAMPAIGN, attempt_id)
                return False
            dialled += timedelta(hours=2)
        return False

    def _attempt_outcome(self) -> tuple[AttemptStatus, str | None]:
        status = pick(
            self.rng,
            (
                (AttemptStatus.COMPLETED, 60),
                (AttemptStatus.NO_ANSWER, 20),
                (AttemptStatus.MACHINE, 8),
                (AttemptStatus.BUSY, 5),
                (AttemptStatus.FAILED, 4),
                (AttemptStatus.CANCELLED, 1),
            ),
        )
        detail = None
        if status is AttemptStatus.COMPLETED:
            detail = pick(
                self.rng,
                (
                    ("confirmed", 85),
                    ("opted_out", 3),
                    ("to_agent", 4),
                    ("hung_up_in_dialog", 6),
                    ("cancelled", 2),
                ),
            )
        return status, detail

    def _attempt(
        self,
        rows: DayRows,
        kind: CampaignKind,
        patient: int,
        number: int,
        dialled: datetime,
        status: AttemptStatus,
        detail: str | None,
    ) -> int:
        attempt_id = self._next("attempt")
        rows.add(
            CampaignAttempt,
            {
                "id": attempt_id,
                "campaign_id": self.campaigns[kind],
                "patient_id": patient,
                "appointment_id": None,
                "phone_e164": "+12125550100",
                "attempt_no": number,
                "status": status,
                "scheduled_for": dialled - timedelta(seconds=30),
                "dialled_at": dialled,
                "ended_at": dialled + timedelta(seconds=20 + 100 * self.rng.random()),
                "outcome_detail": detail,
            },
        )
        return attempt_id

    def _campaign_calls(self, rows: DayRows, day: date) -> None:
        """Surveys after calls (escalations become tasks), post-discharge and adherence."""
        rng = self.rng
        for kind, per_day in (
            (CampaignKind.SURVEY, 250),
            (CampaignKind.POST_DISCHARGE, 80),
            (CampaignKind.ADHERENCE, 80),
        ):
            for _ in range(self._scaled(per_day)):
                dialled = self._local(day, 10 + 8 * rng.random())
                status, detail = self._attempt_outcome()
                patient = rng.randrange(1, self.patients + 1)
                attempt_id = self._attempt(rows, kind, patient, 1, dialled, status, detail)
                if status is AttemptStatus.COMPLETED and rng.random() < 0.08:
                    self._task(rows, dialled + timedelta(minutes=3), TaskSource.SURVEY, attempt_id)

    def _tasks(self, rows: DayRows, day: date) -> None:
        for source, per_day in _TASK_SOURCES:
            for _ in range(self._scaled(per_day)):
                self._task(rows, self._local(day, 8 + 10 * self.rng.random()), source, None)

    def _task(
        self, rows: DayRows, at: datetime, source: TaskSource, attempt_id: int | None
    ) -> None:
        rng = self.rng
        status = pick(
            rng,
            (
                (FollowUpStatus.DONE, 70),
                (FollowUpStatus.CANNOT_REACH, 8),
                (FollowUpStatus.CANCELLED, 5),
                (FollowUpStatus.OPEN, 12),
                (FollowUpStatus.IN_PROGRESS, 5),
            ),
        )
        closed = None
        if status not in (FollowUpStatus.OPEN, FollowUpStatus.IN_PROGRESS):
            closed = at + timedelta(hours=48 * rng.random())
        owner = rng.choice(self.agent_ids) if rng.random() < 0.7 else None
        claimed = rng.choice(self.agent_ids) if owner is None and rng.random() < 0.5 else None
        task_id = self._next("task")
        row = {
            "id": task_id,
            "patient_id": rng.randrange(1, self.patients + 1),
            "reason": f"{source.value} follow-up",
            "priority": 3,
            "due_date": at.astimezone(self.tz).date() + timedelta(days=2),
            "due_at": at + timedelta(hours=4) if rng.random() < 0.3 else None,
            "status": status,
            "owner_user_id": owner,
            "claimed_by_user_id": claimed,
            "claimed_at": at if claimed else None,
            "created_at": at,
            "closed_at": closed,
            "source_kind": source,
            "source_ref": f"attempt:{attempt_id}" if attempt_id else None,
            "source_attempt_id": None,
            "updated_at": None,
        }
        rows.add(FollowUpTask, row)
        for step in task_story(SimpleNamespace(**row)):
            rows.add(
                TaskStatusChange,
                {
                    "task_id": task_id,
                    "status": step.status,
                    "owner_user_id": step.owner_user_id,
                    "at": step.at,
                    "actor": _ACTOR,
                },
            )

    def _complaints(self, rows: DayRows, day: date) -> None:
        rng = self.rng
        for _ in range(self._scaled(10)):
            at = self._local(day, 8 + 10 * rng.random())
            status = pick(
                rng,
                (
                    (ComplaintStatus.CLOSED, 75),
                    (ComplaintStatus.RESPONDED, 10),
                    (ComplaintStatus.INVESTIGATING, 8),
                    (ComplaintStatus.RECEIVED, 5),
                    (ComplaintStatus.REOPENED, 2),
                ),
            )
            answered = at + timedelta(days=14 * rng.random())
            acknowledged = at + timedelta(days=3 * rng.random())
            complaint_id = self._next("complaint")
            row = {
                "id": complaint_id,
                "patient_id": rng.randrange(1, self.patients + 1),
                "category": rng.choice(_CATEGORIES),
                "description": "seeded",
                "status": status,
                "severity": pick(
                    rng,
                    (
                        (ComplaintSeverity.LOW, 40),
                        (ComplaintSeverity.MEDIUM, 40),
                        (ComplaintSeverity.HIGH, 15),
                        (ComplaintSeverity.CRITICAL, 5),
                    ),
                ),
                "created_at": at,
                "acknowledge_due_at": at + timedelta(days=2),
                "respond_due_at": at + timedelta(days=10),
                "acknowledged_at": None if status is ComplaintStatus.RECEIVED else acknowledged,
                "responded_at": answered
                if status in (ComplaintStatus.RESPONDED, ComplaintStatus.CLOSED)
                else None,
                "resolved_at": answered + timedelta(days=2)
                if status is ComplaintStatus.CLOSED
                else None,
                "updated_at": None,
            }
            rows.add(Complaint, row)
            for step in complaint_story(SimpleNamespace(**row)):
                rows.add(
                    ComplaintStatusChange,
                    {"complaint_id": complaint_id, **step._asdict(), "actor": _ACTOR},
                )
