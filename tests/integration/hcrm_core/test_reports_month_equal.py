"""The IVR channels, the appointment report and the campaign report's tasks, counted by the
database, equal the same figures computed row by row (tests/support/reports_reference.py,
the code they had before), on a centre seeded as the benchmark seeds it plus rows at the
edges, for every bucket size, on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from benchmarks import reports as bench
from hcrm_core.db import Database
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AttemptStatus,
    AuditAction,
    AuditEvent,
    Call,
    CallDirection,
    CampaignAttempt,
    Channel,
    FollowUpStatus,
    FollowUpTask,
    Slot,
    TaskSource,
)
from hcrm_core.services import reports_campaigns, reports_ivr
from hcrm_core.services.reports_appointments import appointment_report
from hcrm_core.services.reports_ivr import ivr_report
from hcrm_core.services.reports_period import Period, parse_period
from tests.support import reports_reference as reference
from tests.support.factories import utc

TZ = bench.TZ
PERIODS = [
    ("2026-01-01", "2026-01-05", "15min"),
    ("2026-01-01", "2026-01-05", "hour"),
    ("2026-01-02", "2026-01-05", "day"),
    ("2025-12-29", "2026-01-25", "week"),
    ("2025-12-01", "2026-02-28", "month"),
    ("2027-06-01", "2027-06-01", "day"),
]
AT = utc(2026, 1, 3, 15, 0, 0)  # a quarter hour's edge, inside every period
EDGE = utc(2027, 6, 1, 15, 0, 0)  # long after the seeded days: only the edge rows


async def _seed(database: Database) -> None:
    args = argparse.Namespace(agents=3, days=5, calls_per_day=40, seed=7)
    await bench.seed(database, args)
    async with database.transaction() as session:
        slots = list(await session.scalars(select(Slot.id).order_by(Slot.id.desc()).limit(2)))
        attempt = await session.scalar(
            select(CampaignAttempt.id).where(CampaignAttempt.dialled_at >= AT).limit(1)
        )
        assert attempt is not None, "the seed dialled no attempt after the 3rd"
        await _edges(session, slots[0])
        # A task naming its attempt by column, and references that name none.
        for ref, column in (
            (None, attempt),
            (f"ATTEMPT:{attempt}", None),
            (f"attempt:{attempt}x", None),
            ("attempt:", None),
            (f"attempt:{attempt}", None),
        ):
            session.add(
                FollowUpTask(
                    patient_id=1,
                    reason="edge",
                    status=FollowUpStatus.OPEN,
                    source_kind=TaskSource.SURVEY,
                    source_ref=ref,
                    source_attempt_id=column,
                    created_at=AT + timedelta(hours=1),
                )
            )


async def _edges(session: Any, slot: int) -> None:
    """On a day nothing else happened (EDGE): calls answered by voice and by keypad;
    appointments booked by IVR (by voice, by keypad, with no call), by an agent on a call and
    with an empty call id; two IVR cancellations, one found through the later of its audit
    rows (the booking's own row is older), one through its booking's row only."""
    session.add_all(
        [
            _call("e-speech", "speech"),
            _call("e-speech2", "speech"),
            _call("e-keypad", "keypad"),
            _call("e-keypad2", None),
        ]
    )
    made = {
        "A": (Channel.IVR, "e-speech", True),
        "B": (Channel.IVR, "e-speech2", True),
        "C": (Channel.AGENT, "", False),
        "D": (Channel.AGENT, "e-keypad", False),
        "E": (Channel.IVR, None, False),
        "F": (Channel.IVR, "e-keypad2", False),
    }
    ids = {}
    for code, (channel, call, cancelled) in made.items():
        row = _appointment(code, slot, channel, call, cancelled=cancelled)
        session.add(row)
        await session.flush()
        ids[code] = row.id
    for code, action, source in (
        ("A", AuditAction.CREATE, "e-speech"),
        ("A", AuditAction.UPDATE, None),
        ("A", AuditAction.UPDATE, "e-keypad"),
        ("B", AuditAction.CREATE, "e-speech2"),
    ):
        session.add(_audit(ids[code], action, source))
        await session.flush()  # in this order: the later row has the higher id


def _call(linkedid: str, answered_by: str | None) -> Call:
    return Call(
        linkedid=linkedid,
        direction=CallDirection.INBOUND,
        started_at=EDGE - timedelta(minutes=2),
        ivr_entered_at=EDGE - timedelta(minutes=2),
        ivr_left_at=EDGE,
        ivr_last_step="done",
        ivr_context={"answered_by": answered_by} if answered_by else {},
        ended_at=EDGE,
    )


def _appointment(
    code: str, slot: int, channel: Channel, call: str | None, *, cancelled: bool
) -> Appointment:
    starts = EDGE + timedelta(days=2)
    return Appointment(
        patient_id=10 + ord(code),
        doctor_id=1,
        department_id=2,
        slot_id=slot,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=15),
        local_date=starts.astimezone(TZ).date(),
        status=AppointmentStatus.CANCELLED if cancelled else AppointmentStatus.COMPLETED,
        channel=channel,
        confirmation_code=f"EDGE{code}",
        booked_at=EDGE,
        booked_call_id=call,
        cancelled_at=EDGE + timedelta(hours=1) if cancelled else None,
        cancel_channel=Channel.IVR if cancelled else None,
    )


def _audit(appointment_id: int, action: AuditAction, source: str | None) -> AuditEvent:
    return AuditEvent(
        actor="ivr",
        action=action,
        entity="appointment",
        entity_id=str(appointment_id),
        source=source,
        at=EDGE,
    )


def _periods() -> list[Period]:
    return [parse_period(first, last, by, TZ) for first, last, by in PERIODS]


async def test_counted_by_the_database_equal_row_by_row(database: Database) -> None:
    await _seed(database)
    async with database.session() as session:
        cancelled_by_ivr = await session.scalar(
            select(func.count()).where(Appointment.cancel_channel == Channel.IVR)
        )
        reached = await session.scalar(
            select(func.count()).where(CampaignAttempt.status == AttemptStatus.COMPLETED)
        )
    assert cancelled_by_ivr and reached, "the seed made no IVR cancellation or reached call"
    for period in _periods():
        buckets = period.buckets()
        counted: Counter[tuple[int, str, str]] = Counter()
        for index, what, channel, count in await reports_ivr._channels(database, period, buckets):
            counted[index, what, channel] += count
        assert counted == await reference.ivr_channels(database, period), period
        report = await ivr_report(database, period)
        assert sum(report.total.booked.values()) == sum(
            n for (_, what, _), n in counted.items() if what == "booked"
        )

        appointments = await appointment_report(database, period)
        figures = [f.as_dict() for f in [*appointments.per_bucket, appointments.total]]
        assert figures == await reference.appointment_figures(database, period), period

        for ids in (None, [1], [2, 4]):
            tasks: Counter[tuple[int, int, int, str]] = Counter()
            async with database.session() as session:
                groups = await reports_campaigns._task_groups(
                    session, database.dialect, period, buckets, ids
                )
            for campaign, number, index, names, count in groups:
                for name in names:
                    tasks[campaign, number, index, name] += count
            assert tasks == await reference.campaign_tasks(database, period, ids), (period, ids)


async def test_the_edges_by_hand(database: Database) -> None:
    await _seed(database)
    report = await ivr_report(database, parse_period("2027-06-01", "2027-06-01", "day", TZ))
    booked = {k: v for k, v in report.total.booked.items() if v}
    cancelled = {k: v for k, v in report.total.cancelled.items() if v}
    assert booked == {"ivr_speech": 2, "ivr_keypad": 2, "agent": 1, "agent_on_call": 1}
    assert cancelled == {"ivr_keypad": 1, "ivr_speech": 1}
