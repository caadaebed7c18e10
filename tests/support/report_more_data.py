"""Seeded data for the IVR, campaign, complaint and task reports: one day, 2026-11-03 in
America/New_York (EST, UTC-5: the local day is 05:00 to 05:00 UTC), plus rows just outside
it. The figures the tests expect are worked out by hand in the comments here.

``NOW`` is when the reports are made; the comments' open, overdue and time-to-done are the
cases at NOW (a report of a period not over at NOW; the day alone is over, and reads the
cases as they were at its end). The rows have no status history: reports read them from their
own timestamps, as migration 0019 backfilled old cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hcrm_core.db import Database
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AttemptStatus,
    AuditAction,
    AuditEvent,
    Call,
    CallDirection,
    Campaign,
    CampaignAttempt,
    CampaignKind,
    Channel,
    Complaint,
    ComplaintSeverity,
    ComplaintStatus,
    FollowUpStatus,
    FollowUpTask,
    TaskSource,
)
from hcrm_core.policy import BookingPolicy
from tests.support.factories import make_hospital, make_patient, utc

NY = ZoneInfo("America/New_York")
DAY = "2026-11-03"
NOW = utc(2026, 11, 20, 12)
NEXT_DAY = utc(2026, 11, 4, 14)  # outside the day


@dataclass(frozen=True)
class MoreSeeded:
    patient_id: int
    discharge_id: int
    survey_id: int


def _ivr_call(
    linkedid: str,
    entered: datetime,
    *,
    left: float | None = None,
    ended: float | None = None,
    step: str,
    queued: bool = False,
    direction: CallDirection = CallDirection.INBOUND,
    context: dict[str, object] | None = None,
) -> Call:
    """An IVR call; ``left`` and ``ended`` are minutes after it entered."""
    left_at = entered + timedelta(minutes=left) if left is not None else None
    return Call(
        linkedid=linkedid,
        direction=direction,
        started_at=entered,
        ivr_entered_at=entered,
        ivr_left_at=left_at,
        ivr_last_step=step,
        ivr_context=context or {},
        queue="general" if queued else None,
        queued_at=left_at if queued else None,
        queue_wait_seconds=5.0 if queued else None,
        agent_interface="PJSIP/7001" if queued else None,
        answered_at=left_at + timedelta(seconds=5) if queued and left_at else None,
        ended_at=entered + timedelta(minutes=ended) if ended is not None else None,
    )


def ivr_calls() -> list[Call]:
    """8 IVR calls in the day: contained 2 (at done), to an agent 1, hung up 4 (main-menu 2,
    book-slots 1, to-agent 1), ongoing 1; an outbound dialog and the next day's call are
    left out."""
    return [
        _ivr_call(
            "ivr-1",
            utc(2026, 11, 3, 14),
            left=3,
            ended=3.5,
            step="done",
            context={"answered_by": "speech"},
        ),
        # The IVR's leave folded a moment after the hang-up was stamped: still contained.
        _ivr_call("ivr-2", utc(2026, 11, 3, 14, 10), left=2.3, ended=2.2, step="done"),
        # Hung up: the end closes the IVR stretch at the hang-up itself.
        _ivr_call("ivr-3", utc(2026, 11, 3, 15), left=1, ended=1, step="main-menu"),
        _ivr_call("ivr-4", utc(2026, 11, 3, 15, 5), left=1, ended=1, step="main-menu"),
        _ivr_call("ivr-5", utc(2026, 11, 3, 15, 10), ended=1, step="book-slots"),
        _ivr_call("ivr-6", utc(2026, 11, 3, 16), left=1, ended=4, step="to-agent", queued=True),
        # Sent to an agent, hung up before joining the queue.
        _ivr_call("ivr-7", utc(2026, 11, 3, 16, 20), left=1, ended=1.1, step="to-agent"),
        _ivr_call("ivr-8", utc(2026, 11, 3, 16, 30), step="main-menu"),
        _ivr_call(
            "out-1",
            utc(2026, 11, 3, 17),
            left=1,
            ended=2,
            step="outbound-hello",
            direction=CallDirection.OUTBOUND,
        ),
        _ivr_call("ivr-9", NEXT_DAY, left=1, ended=2, step="done"),
    ]


async def _appointments(database: Database, policy: BookingPolicy, patient_id: int) -> None:
    """Booked in the day: IVR by speech (ivr-1), agent on a call, agent without one, web.
    Cancelled in the day: one by the IVR's keypad (ivr-2, its audit row names the call), one
    by an agent."""
    hospital = await make_hospital(database, policy, days=14)
    slots = await hospital.free_slots(department_id=hospital.cardiology.id, limit=6)
    old = utc(2026, 10, 20, 12)
    plan = [
        (utc(2026, 11, 3, 14, 2), Channel.IVR, "ivr-1", None, None),
        (utc(2026, 11, 3, 17), Channel.AGENT, "desk-call", None, None),
        (utc(2026, 11, 3, 18), Channel.AGENT, None, None, None),
        (utc(2026, 11, 3, 19), Channel.WEB, None, None, None),
        (old, Channel.AGENT, None, utc(2026, 11, 3, 14, 11), Channel.IVR),
        (old, Channel.IVR, None, utc(2026, 11, 3, 20), Channel.AGENT),
    ]
    # A patient each: one active appointment per patient, department and day.
    patients = [patient_id] + [(await make_patient(database, policy)).id for _ in plan[1:]]
    async with database.transaction() as session:
        for n, (booked, channel, call, cancelled, cancel_channel) in enumerate(plan):
            slot = slots[n]
            appointment = Appointment(
                patient_id=patients[n],
                doctor_id=slot.doctor_id,
                department_id=hospital.cardiology.id,
                slot_id=slot.slot_id,
                starts_at=slot.starts_at,
                ends_at=slot.starts_at + timedelta(minutes=30),
                local_date=slot.starts_at.astimezone(NY).date(),
                status=AppointmentStatus.CANCELLED if cancelled else AppointmentStatus.BOOKED,
                channel=channel,
                confirmation_code=f"M{n:05d}",
                booked_at=booked,
                booked_call_id=call,
                cancelled_at=cancelled,
                cancel_channel=cancel_channel,
            )
            session.add(appointment)
            await session.flush()
            if cancel_channel is Channel.IVR:
                session.add(
                    AuditEvent(
                        at=cancelled,
                        actor="ivr",
                        action=AuditAction.UPDATE,
                        entity="appointment",
                        entity_id=str(appointment.id),
                        source="ivr-2",
                        detail={"status": "cancelled"},
                    )
                )


def _attempt(
    campaign: Campaign,
    patient_id: int,
    number: int,
    status: AttemptStatus,
    dialled: datetime | None,
    detail: str | None = None,
) -> CampaignAttempt:
    return CampaignAttempt(
        campaign_id=campaign.id,
        patient_id=patient_id,
        phone_e164="+12125550100",
        attempt_no=number,
        status=status,
        scheduled_for=dialled or NEXT_DAY,
        dialled_at=dialled,
        ended_at=dialled + timedelta(minutes=1) if dialled else None,
        outcome_detail=detail,
    )


async def _campaigns(database: Database, patient_id: int) -> tuple[int, int]:
    """Discharge calls: dialled 6 (attempt 1: 3, attempt 2: 2, attempt 3: 1), reached 2,
    completed 1, opted out 1, no answer 1, busy 2, failed 1, escalated 1, not-reached task 1.
    Survey: dialled 4, reached 3 (to agent 1, hung up 1, still in its dialog 1), machine 1."""
    async with database.transaction() as session:
        discharge = Campaign(name="Discharge calls", kind=CampaignKind.POST_DISCHARGE)
        survey = Campaign(name="Survey", kind=CampaignKind.SURVEY)
        session.add_all([discharge, survey])
        await session.flush()
        day = utc(2026, 11, 3)
        a = [
            _attempt(discharge, patient_id, 1, AttemptStatus.NO_ANSWER, day.replace(hour=15)),
            _attempt(
                discharge, patient_id, 2, AttemptStatus.COMPLETED, day.replace(hour=16), "answered"
            ),
            _attempt(discharge, patient_id, 1, AttemptStatus.BUSY, day.replace(hour=15, minute=30)),
            _attempt(discharge, patient_id, 2, AttemptStatus.BUSY, day.replace(hour=16, minute=30)),
            _attempt(
                discharge,
                patient_id,
                3,
                AttemptStatus.FAILED,
                day.replace(hour=17, minute=30),
                "congestion",
            ),
            _attempt(
                discharge,
                patient_id,
                1,
                AttemptStatus.COMPLETED,
                day.replace(hour=15, minute=45),
                "opted_out",
            ),
            _attempt(
                survey, patient_id, 1, AttemptStatus.COMPLETED, day.replace(hour=18), "to_agent"
            ),
            _attempt(
                survey,
                patient_id,
                1,
                AttemptStatus.COMPLETED,
                day.replace(hour=18, minute=10),
                "hung_up_in_dialog",
            ),
            _attempt(survey, patient_id, 1, AttemptStatus.MACHINE, day.replace(hour=18, minute=20)),
            _attempt(
                survey, patient_id, 1, AttemptStatus.ANSWERED, day.replace(hour=18, minute=30)
            ),
            _attempt(survey, patient_id, 1, AttemptStatus.SCHEDULED, None),
            _attempt(survey, patient_id, 1, AttemptStatus.NO_ANSWER, NEXT_DAY),
        ]
        session.add_all(a)
        await session.flush()
        session.add_all(
            [
                FollowUpTask(
                    patient_id=patient_id,
                    reason="pain score 9",
                    source_kind=TaskSource.SURVEY,
                    source_ref=f"attempt:{a[1].id}",
                    source_attempt_id=a[1].id,
                    created_at=day.replace(hour=16, minute=5),
                    status=FollowUpStatus.DONE,
                    closed_at=day.replace(hour=18, minute=5),
                ),
                FollowUpTask(
                    patient_id=patient_id,
                    reason="not reached after 3 calls",
                    source_kind=TaskSource.CAMPAIGN,
                    source_ref=f"attempt:{a[4].id}",
                    created_at=day.replace(hour=17, minute=31),
                    status=FollowUpStatus.OPEN,
                ),
            ]
        )
    return discharge.id, survey.id


def _complaint(
    patient_id: int,
    category: str,
    severity: ComplaintSeverity,
    status: ComplaintStatus,
    created: datetime,
    *,
    due: datetime,
    responded: datetime | None = None,
    resolved: datetime | None = None,
) -> Complaint:
    return Complaint(
        patient_id=patient_id,
        category=category,
        description="...",
        severity=severity,
        status=status,
        created_at=created,
        acknowledge_due_at=created + timedelta(days=1),
        respond_due_at=due,
        acknowledged_at=None if status is ComplaintStatus.RECEIVED else created,
        responded_at=responded,
        resolved_at=resolved,
        resolution="done" if resolved else None,
    )


def complaints(patient_id: int) -> list[Complaint]:
    """Received 4 (one of each severity): open 2, overdue 1 (never acknowledged), answered
    late 2, closed 2 after 24 h and 48 h (36.0 h on average). billing: 2 (one closed, 24 h;
    one answered late), staff: 2 (one overdue; one closed late, 48 h)."""
    c = ComplaintStatus
    s = ComplaintSeverity
    return [
        _complaint(
            patient_id,
            "billing",
            s.HIGH,
            c.CLOSED,
            utc(2026, 11, 3, 14),
            due=utc(2026, 11, 5, 14),
            responded=utc(2026, 11, 4, 10),
            resolved=utc(2026, 11, 4, 14),
        ),
        _complaint(
            patient_id,
            "billing",
            s.LOW,
            c.RESPONDED,
            utc(2026, 11, 3, 15),
            due=utc(2026, 11, 10, 15),
            responded=utc(2026, 11, 12, 15),
        ),
        _complaint(
            patient_id, "staff", s.CRITICAL, c.RECEIVED, utc(2026, 11, 3, 16), due=utc(2026, 11, 5)
        ),
        _complaint(
            patient_id,
            "staff",
            s.MEDIUM,
            c.CLOSED,
            utc(2026, 11, 3, 17),
            due=utc(2026, 11, 4, 17),
            resolved=utc(2026, 11, 5, 17),
        ),
        _complaint(patient_id, "staff", s.LOW, c.RECEIVED, NEXT_DAY, due=utc(2026, 11, 9)),
    ]


def tasks(patient_id: int, alice: int, bob: int) -> list[FollowUpTask]:
    """Created 7 (manual 2, survey 1, campaign 1, ivr_no_agent 1, voicemail 1, complaint 1):
    done 2 (after 2 h and 6 h: 4.0 h), could not reach 1, cancelled 1, open 3, overdue 2.
    alice 3 (done 1, open 1 overdue, cancelled 1), bob 2 (done 1, could not reach 1: he
    claimed it), unassigned 2 (open 2, overdue 1)."""
    day = utc(2026, 11, 3)
    t = FollowUpStatus
    k = TaskSource

    def task(
        kind: TaskSource, status: FollowUpStatus, created: datetime, **more: object
    ) -> FollowUpTask:
        return FollowUpTask(
            patient_id=patient_id,
            reason=kind.value,
            source_kind=kind,
            status=status,
            created_at=created,
            **more,
        )

    return [
        task(
            k.MANUAL,
            t.DONE,
            day.replace(hour=14),
            owner_user_id=alice,
            closed_at=day.replace(hour=16),
        ),
        task(
            k.SURVEY,
            t.OPEN,
            day.replace(hour=14, minute=30),
            owner_user_id=alice,
            due_at=utc(2026, 11, 19),
        ),
        task(
            k.CAMPAIGN,
            t.CANNOT_REACH,
            day.replace(hour=15),
            claimed_by_user_id=bob,
            closed_at=utc(2026, 11, 4),
        ),
        task(
            k.IVR_NO_AGENT,
            t.OPEN,
            day.replace(hour=15, minute=30),
            due_date=utc(2026, 11, 25).date(),
        ),
        task(k.VOICEMAIL, t.IN_PROGRESS, day.replace(hour=16), due_date=utc(2026, 11, 10).date()),
        task(
            k.COMPLAINT, t.DONE, day.replace(hour=18), owner_user_id=bob, closed_at=utc(2026, 11, 4)
        ),
        task(
            k.MANUAL,
            t.CANCELLED,
            day.replace(hour=19),
            owner_user_id=alice,
            closed_at=day.replace(hour=20),
        ),
        task(k.MANUAL, t.OPEN, NEXT_DAY, owner_user_id=alice),
    ]


async def seed_more_reports(
    database: Database,
    policy: BookingPolicy,
    *,
    alice: int,
    bob: int,
    with_campaigns: bool = True,
    with_appointments: bool = True,
) -> MoreSeeded:
    """Everything above. ``with_campaigns=False`` leaves out the campaigns and their two
    tasks (the task report then counts only :func:`tasks`); ``with_appointments=False`` the
    hospital and its appointments (for a database that has its hospital already)."""
    patient = await make_patient(database, policy)
    if with_appointments:
        await _appointments(database, policy, patient.id)
    discharge = survey = 0
    if with_campaigns:
        discharge, survey = await _campaigns(database, patient.id)
    async with database.transaction() as session:
        session.add_all(ivr_calls())
        session.add_all(complaints(patient.id))
        session.add_all(tasks(patient.id, alice, bob))
    return MoreSeeded(patient.id, discharge, survey)
