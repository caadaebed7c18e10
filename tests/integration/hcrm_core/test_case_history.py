"""Complaint and task status history: written by the services where statuses change, read by
the reports, so a report of a past period never drifts; the migration's backfill reads old
cases as the reports read a case without history (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import Connection, delete, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from hcrm_core.actors import Actor
from hcrm_core.migrate import alembic_config, upgrade_async
from hcrm_core.models import (
    Complaint,
    ComplaintStatus,
    ComplaintStatusChange,
    FollowUpStatus,
    FollowUpTask,
    Role,
    TaskSource,
    TaskStatusChange,
)
from hcrm_core.services.complaints import ComplaintChanges, ComplaintService, file_complaint
from hcrm_core.services.privacy import erase_patient
from hcrm_core.services.reports_complaints import complaint_report
from hcrm_core.services.reports_period import Period, parse_period
from hcrm_core.services.reports_task_figures import task_report
from hcrm_core.services.slot_followups import follow_up
from hcrm_core.services.tasks import TaskService
from tests.support.factories import make_patient
from tests.support.report_data import _user

UTC_ZONE = ZoneInfo("UTC")
BEFORE_HISTORY = "0018_reports_agent_quarters"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _figures(database, period: Period, now: datetime) -> dict[str, object]:
    """Every figure of both reports, field by field."""
    complaints = await complaint_report(database, period, now=now)
    tasks = await task_report(database, period, now=now)
    return {
        "complaints": [f.as_dict() for f in complaints.per_bucket],
        "complaints_total": complaints.total.as_dict(),
        "categories": {k: v.as_dict() for k, v in complaints.by_category.items()},
        "tasks": [f.as_dict() for f in tasks.per_bucket],
        "tasks_total": tasks.total.as_dict(),
        "owners": {k: v.as_dict() for k, v in tasks.by_owner.items()},
    }


async def _world(database, policy):
    async with database.transaction() as session:
        alice, sue = _user("alice", Role.AGENT, "1001"), _user("sue", Role.SUPERVISOR, None)
        session.add_all([alice, sue])
        await session.flush()
    patient = await make_patient(database, policy)
    return Actor.user(alice.id, "alice"), Actor.user(sue.id, "sue"), patient.id


async def _without_history(database) -> None:
    async with database.transaction() as session:
        await session.execute(delete(TaskStatusChange))
        await session.execute(delete(ComplaintStatusChange))


async def test_a_past_period_reads_the_same_after_statuses_change(database, policy):
    alice, sue, patient_id = await _world(database, policy)
    start = datetime.now(UTC)
    today = start.date().isoformat()
    period = parse_period(today, today, "hour", UTC_ZONE)
    end = period.end
    clock = Clock(start + timedelta(seconds=30))
    complaints = ComplaintService(database, UTC_ZONE, clock=clock)
    tasks = TaskService(database, UTC_ZONE, clock=clock)

    filed = [
        await file_complaint(database, sue, patient_id=patient_id, category=c, description="x")
        for c in ("staff", "billing", "care")
    ]
    answered, untouched, closed = (c.id for c in filed)
    await complaints.update(answered, sue, ComplaintChanges(status="investigating"))
    await complaints.update(answered, sue, ComplaintChanges(status="responded"))
    await complaints.update(closed, sue, ComplaintChanges(status="responded"))
    await complaints.update(
        closed, sue, ComplaintChanges(status="closed", closing_summary="apologised")
    )
    done, late, worked = [
        await tasks.create(
            sue, patient_id=patient_id, reason=r, due_at=start + timedelta(seconds=1)
        )
        for r in ("call back", "check results", "book scan")
    ]
    for task in (done, worked):
        await tasks.claim(task.id, alice)
    await tasks.update(done.id, alice, supervisor=False, status="done", outcome="called")

    after_end = end + timedelta(hours=1)
    first = await _figures(database, period, after_end)
    assert first["complaints_total"] | {"time_to_close_average_hours": None} == {
        "received": 3,
        "severity_low": 0,
        "severity_medium": 3,
        "severity_high": 0,
        "severity_critical": 0,
        "open": 2,
        "overdue": 0,
        "answered_late": 0,
        "closed": 1,
        "time_to_close_average_hours": None,
    }
    total = first["tasks_total"]
    assert (total["created"], total["source_manual"], total["done"]) == (3, 3, 1)
    assert (total["open"], total["overdue"], total["cancelled"]) == (2, 2, 0)
    assert list(first["owners"]) == ["alice", "unassigned"]  # late is nobody's
    assert (first["owners"]["alice"]["done"], first["owners"]["alice"]["open"]) == (1, 1)

    # The day after: every case moves on.
    clock.now = end + timedelta(hours=2)
    await complaints.update(answered, sue, ComplaintChanges(status="closed", closing_summary="ok"))
    await complaints.update(untouched, sue, ComplaintChanges(status="responded"))
    await complaints.update(closed, sue, ComplaintChanges(status="reopened"))
    await complaints.update(untouched, sue, ComplaintChanges(severity="critical"))
    await tasks.assign(late.id, sue, user_id=sue.user_id)
    await tasks.claim(late.id, sue)
    await tasks.update(late.id, sue, supervisor=True, status="cannot_reach", outcome="no line")
    await tasks.update(done.id, sue, supervisor=True, status="open")
    await tasks.update(worked.id, sue, supervisor=True, status="cancelled")
    again = await _figures(database, period, end + timedelta(hours=3))
    assert again == first

    # A period not over yet reads the cases as they are now: the same as their own columns
    # (what a case without history, or the backfill, gives).
    now = end + timedelta(hours=3)
    tomorrow = (end.date()).isoformat()
    running = parse_period(today, tomorrow, "day", UTC_ZONE)
    current = await _figures(database, running, now)
    assert current["complaints_total"]["closed"] == 1  # answered; closed was reopened
    assert (current["tasks_total"]["cancelled"], current["tasks_total"]["cannot_reach"]) == (1, 1)
    assert current["complaints_total"]["severity_critical"] == 1  # its severity as it is now
    await _without_history(database)
    assert await _figures(database, running, now) == current


async def test_history_rows_say_who_changed_what_and_when(database, policy):
    alice, sue, patient_id = await _world(database, policy)
    clock = Clock(datetime.now(UTC) + timedelta(minutes=5))
    tasks = TaskService(database, UTC_ZONE, clock=clock)
    task = await tasks.create(sue, patient_id=patient_id, reason="call back")
    await tasks.claim(task.id, alice)
    await tasks.update(task.id, alice, supervisor=False, notes="no status change")
    await tasks.update(task.id, alice, supervisor=False, status="done", outcome="called")
    async with database.session() as session:
        rows = (
            await session.execute(
                select(
                    TaskStatusChange.status, TaskStatusChange.owner_user_id, TaskStatusChange.actor
                )
                .where(TaskStatusChange.task_id == task.id)
                .order_by(TaskStatusChange.at, TaskStatusChange.id)
            )
        ).all()
    assert rows == [
        (FollowUpStatus.OPEN, None, "user:sue"),
        (FollowUpStatus.IN_PROGRESS, alice.user_id, "user:alice"),
        (FollowUpStatus.DONE, alice.user_id, "user:alice"),
    ]


async def test_appointment_follow_ups_and_erasure_write_history_too(database, policy):
    """Paths that change tasks outside the inbox: a task about a changed appointment (the
    patient cannot be called), and an erasure cancelling the patient's open tasks."""
    _, sue, patient_id = await _world(database, policy)
    made = await TaskService(database, UTC_ZONE).create(sue, patient_id=patient_id, reason="r")
    async with database.transaction() as session:
        now = datetime.now(UTC)
        assert await follow_up(session, UTC_ZONE, patient_id, 1, "moved", now) == "task"
    await erase_patient(database, sue, patient_id)
    async with database.session() as session:
        rows = (
            await session.execute(
                select(
                    TaskStatusChange.task_id, TaskStatusChange.status, TaskStatusChange.actor
                ).order_by(TaskStatusChange.task_id, TaskStatusChange.at, TaskStatusChange.id)
            )
        ).all()
    other = rows[-1].task_id
    assert other != made.id
    assert [tuple(r) for r in rows] == [
        (made.id, FollowUpStatus.OPEN, "user:sue"),
        (made.id, FollowUpStatus.CANCELLED, "erasure"),
        (other, FollowUpStatus.OPEN, "slot-followups"),
        (other, FollowUpStatus.CANCELLED, "erasure"),
    ]


def _task(patient_id: int, status: FollowUpStatus, created: datetime, **more) -> FollowUpTask:
    return FollowUpTask(
        patient_id=patient_id,
        reason="r",
        source_kind=TaskSource.MANUAL,
        status=status,
        created_at=created,
        **more,
    )


def _complaint(patient_id: int, status: ComplaintStatus, created: datetime, **more) -> Complaint:
    return Complaint(
        patient_id=patient_id,
        category="staff",
        description="d",
        status=status,
        created_at=created,
        acknowledge_due_at=created + timedelta(days=1),
        respond_due_at=created + timedelta(days=3),
        **more,
    )


async def _migrate(url: str, revision: str, *, down: bool) -> None:
    if not down:
        await upgrade_async(url, revision)
        return
    engine = create_async_engine(url)
    config = alembic_config(url)

    def _run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


async def test_migration_backfills_old_cases_as_the_reports_read_them(database, policy):
    """Cases written without history (as before migration 0019): down to 0018, up again; the
    backfilled history gives the reports the figures they read from the cases' own columns,
    for the period's end and for now."""
    alice, _, patient_id = await _world(database, policy)
    day = datetime(2026, 11, 3, tzinfo=UTC)
    h = timedelta(hours=1)
    s, c = FollowUpStatus, ComplaintStatus
    async with database.transaction() as session:
        session.add_all(
            [
                _task(patient_id, s.OPEN, day + h, due_at=day + 2 * h),
                _task(patient_id, s.IN_PROGRESS, day + h, owner_user_id=alice.user_id),
                _task(
                    patient_id,
                    s.DONE,
                    day + 2 * h,
                    claimed_by_user_id=alice.user_id,
                    claimed_at=day + 3 * h,
                    closed_at=day + 30 * h,
                ),
                _task(patient_id, s.CANCELLED, day + 3 * h, closed_at=day + 4 * h),
                _complaint(patient_id, c.RECEIVED, day + h),
                _complaint(
                    patient_id,
                    c.CLOSED,
                    day + 2 * h,
                    acknowledged_at=day + 3 * h,
                    responded_at=day + 80 * h,
                    resolved_at=day + 90 * h,
                    updated_at=day + 90 * h,
                ),
                _complaint(
                    patient_id,
                    c.REOPENED,
                    day + 3 * h,
                    acknowledged_at=day + 4 * h,
                    updated_at=day + 20 * h,
                ),
                _complaint(
                    patient_id,
                    c.INVESTIGATING,
                    day + 4 * h,
                    acknowledged_at=day + 5 * h,
                    responded_at=day + 6 * h,
                    updated_at=day + 7 * h,
                ),
            ]
        )
    one_day = parse_period("2026-11-03", "2026-11-03", "hour", UTC_ZONE)
    whole = parse_period("2026-11-01", "2026-11-30", "day", UTC_ZONE)
    later = datetime(2026, 12, 1, tzinfo=UTC)
    read = {p: await _figures(database, p, later) for p in (one_day, whole)}
    assert read[one_day]["complaints_total"]["closed"] == 0  # closed on the 6th
    month = read[whole]["complaints_total"]
    assert (month["open"], month["overdue"], month["answered_late"], month["closed"]) == (
        3,
        3,
        1,
        1,
    )
    assert read[one_day]["tasks_total"]["overdue"] == 1

    await _migrate(database.url, BEFORE_HISTORY, down=True)
    async with database.write_engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(sync.dialect.get_table_names(sync)))
    assert "task_status_changes" not in tables and "complaint_status_changes" not in tables
    await _migrate(database.url, "head", down=False)
    async with database.session() as session:
        backfilled = (
            await session.execute(
                text("SELECT count(*), min(actor), max(actor) FROM task_status_changes")
            )
        ).one()
        complaint_rows = await session.scalar(text("SELECT count(*) FROM complaint_status_changes"))
    assert tuple(backfilled) == (4 + 2 + 2, "backfill", "backfill")  # created, claimed, finished
    assert complaint_rows == 1 + 4 + 3 + 4  # each one's steps, then its status if another
    for period, figures in read.items():
        assert await _figures(database, period, later) == figures
