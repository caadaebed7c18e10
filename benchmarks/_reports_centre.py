"""The rest of a seeded centre for ``benchmarks/reports.py``: what the IVR, appointment,
campaign, complaint, task and segmentation reports read, in proportion to the queue calls.

Rows have the shapes the live code writes (hcrm_core/models): IVR steps are folded into the
call by the tracker's own ``apply_ivr`` (as ``IvrProgress`` the dialogs publish), an IVR
booking keeps its call's Linkedid (``booked_call_id``) and an IVR cancellation its audit row
(actor ``ivr``, source the Linkedid); attempts, tasks and complaints: ``_reports_outreach``.
Ids are given here (bulk inserts with their links); the PostgreSQL sequences are moved past
them at the end (:func:`sync_sequences`).

Per 4,100 queue calls a day (``scale`` 1): 40 doctors with 32 quarter-hour slots a day, about
1,200 appointments due (95 % of slots: booked by IVR 30 %, agent 50 %, web 15 %, outbound
5 %; 12 % cancelled; the rest attended or not, no-shows 6 % if the reminder reached the
patient, 15 % if not), some 1,600 campaign attempts (reminders the day before, with a second
call for half the unreached; surveys, post-discharge and adherence calls), 650 IVR-only
calls (bookings, cancellations, the closed message, hang-ups in the menus), 60 % of the
queue calls through the menus first, 10 complaints and about 300 tasks, and 20 patients per
daily call (82,000) with conditions, tags and five saved segments.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from benchmarks._reports_outreach import DayRows, Outreach, pick
from callcenter.ami.events import AmiEvent, Headers
from callcenter.calls.state import IvrProgress, LiveCall, apply_ivr
from hcrm_core.db import Database
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AuditAction,
    AuditEvent,
    Campaign,
    CampaignKind,
    CampaignStatus,
    Channel,
    ChronicCondition,
    Department,
    Doctor,
    Patient,
    PatientTag,
    PatientTagLink,
    Segment,
    Slot,
)

SLOTS_PER_DAY = 32  # quarter hours from 09:00
BOOKED_AHEAD_DAYS = 28
_HANG_UP_STEPS = (
    ("language", 10),
    ("identify-mrn", 25),
    ("main-menu", 25),
    ("book-department", 10),
    ("book-slots", 15),
    ("book-confirm", 5),
    ("review-list", 6),
    ("cancel-confirm", 2),
    ("to-agent", 2),
)
_CAMPAIGN_KINDS = (
    ("Appointment reminders", CampaignKind.REMINDER),
    ("Post-call survey", CampaignKind.SURVEY),
    ("Post-discharge follow-up", CampaignKind.POST_DISCHARGE),
    ("Medication adherence", CampaignKind.ADHERENCE),
)
_SEGMENTS = {
    "Lapsed chronic care": {"chronic_care": True, "rfm_groups": ["at_risk", "lapsed"]},
    "VIP champions": {"vip": True, "rfm_groups": ["champions"]},
    "New patients": {"rfm_groups": ["new"]},
    "Diabetes programme not seen": {"tags": ["diabetes-programme"], "no_visit_for_days": 180},
    "Older Mandarin speakers": {"age_bands": ["65-79", "80+"], "languages": ["zh"]},
}


def _event(name: str, at: float, linkedid: str, **headers: str) -> AmiEvent:
    common = {"Linkedid": linkedid, "Uniqueid": linkedid, **headers}
    return AmiEvent(name, Headers(list(common.items())), at)


class Centre(Outreach):
    """Seeds the centre around the queue calls, day by day (``day``), after ``setup``."""

    def __init__(
        self,
        rng: random.Random,
        tz: ZoneInfo,
        first_day: date,
        days: int,
        calls_per_day: int,
        agent_ids: list[int],
    ) -> None:
        super().__init__(rng, tz, first_day, days, calls_per_day, agent_ids)
        self.doctors: list[tuple[int, int]] = []  # (doctor id, department id)
        self._booked: set[tuple[int, int, date]] = set()

    async def setup(self, database: Database) -> None:
        """Departments, doctors, slots, patients (conditions, tags), campaigns, segments."""
        rng = self.rng
        departments = [
            {"id": i, "code": f"D{i}", "name": f"Department {i}", "visit_fee_cents": 5000 * i}
            for i in range(1, 9)
        ]
        count = max(4, round(40 * self.scale))
        doctors = [
            {
                "id": i,
                "department_id": 1 + i % 8,
                "family_name": f"Doctor{i}",
                "given_name": "A",
                "specialty": "general",
            }
            for i in range(1, count + 1)
        ]
        self.doctors = [(d["id"], d["department_id"]) for d in doctors]
        async with database.transaction() as session:
            await session.execute(insert(Department), departments)
            await session.execute(insert(Doctor), doctors)
            await session.execute(
                insert(Campaign),
                [
                    {
                        "id": i,
                        "name": name,
                        "kind": kind,
                        "status": CampaignStatus.RUNNING,
                        "settings": {},
                        "created_at": self.first_moment - timedelta(days=60),
                    }
                    for i, (name, kind) in enumerate(_CAMPAIGN_KINDS, 1)
                ],
            )
            self.campaigns = {kind: i for i, (_, kind) in enumerate(_CAMPAIGN_KINDS, 1)}
        for chunk in _chunks(self._patients(), 5000):
            async with database.transaction() as session:
                await session.execute(insert(Patient), chunk)
        async with database.transaction() as session:
            conditions = [
                {"patient_id": p, "code": rng.choice(("E11", "I10", "J45")), "name": "chronic"}
                for p in range(1, self.patients + 1)
                if p % 5 == 0
            ]
            await session.execute(insert(ChronicCondition), conditions)
            tags = ["diabetes-programme", "heart-failure", "pregnancy"]
            await session.execute(
                insert(PatientTag), [{"id": i, "name": n} for i, n in enumerate(tags, 1)]
            )
            links = [
                {"patient_id": p, "tag_id": 1 + p % 3}
                for p in range(1, self.patients + 1)
                if p % 10 == 0
            ]
            await session.execute(insert(PatientTagLink), links)
            await session.execute(
                insert(Segment),
                [{"name": name, "definition": d} for name, d in _SEGMENTS.items()],
            )
        for chunk in _chunks(self._slots(), 10000):
            async with database.transaction() as session:
                await session.execute(insert(Slot), chunk)

    def _patients(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for p in range(1, self.patients + 1):
            yield {
                "id": p,
                "mrn": f"B{p:08d}",
                "family_name": f"Family{p}",
                "given_name": "Pat",
                "search_name": f"family{p} pat",
                "date_of_birth": date(1930 + rng.randrange(90), 1 + rng.randrange(12), 1),
                "preferred_language": rng.choice(("en", "en", "en", "es", "zh")),
                "vip": rng.random() < 0.02,
                "chronic_care": p % 5 == 0 and rng.random() < 0.6,
            }

    def _slot_days(self) -> range:
        return range(self.days + BOOKED_AHEAD_DAYS)

    def _slot_id(self, offset: int, doctor_index: int, n: int) -> int:
        return 1 + (offset * len(self.doctors) + doctor_index) * SLOTS_PER_DAY + n

    def _slots(self) -> Iterator[dict[str, Any]]:
        for offset in self._slot_days():
            day = self.first_day + timedelta(days=offset)
            for index, (doctor, department) in enumerate(self.doctors):
                for n in range(SLOTS_PER_DAY):
                    starts = self._local(day, 9 + n / 4)
                    yield {
                        "id": self._slot_id(offset, index, n),
                        "doctor_id": doctor,
                        "department_id": department,
                        "starts_at": starts,
                        "ends_at": starts + timedelta(minutes=15),
                        "local_date": day,
                        "available": True,
                    }

    # -- each day ----------------------------------------------------------------------

    def queue_call_ivr(self, start: float, linkedid: str) -> list[tuple[float, IvrProgress]]:
        """The menus a queue call went through before it joined (60 % of them), as the
        dialogs publish them: language, identified, main menu, handed to an agent."""
        if self.rng.random() >= 0.6:
            return []
        patient = self.rng.randrange(1, self.patients + 1)
        return [
            (start + 0.5, IvrProgress(linkedid, "language", {"language": "en"})),
            (start + 1.5, IvrProgress(linkedid, "identified", {}, patient_id=patient)),
            (start + 2.5, IvrProgress(linkedid, "main-menu")),
            (start + 4.0, IvrProgress(linkedid, "to-agent", {"queue": "q"}, left=True)),
        ]

    def day(self, offset: int) -> tuple[DayRows, list[tuple[str, list[AmiEvent], list[Any]]]]:
        """The rows of the appointments due on day ``offset`` (booked earlier) and of
        everything else that happened that day; and the IVR-only calls to fold (Linkedid,
        AMI events, IVR progress)."""
        rows = DayRows()
        calls: list[tuple[str, list[AmiEvent], list[Any]]] = []
        day = self.first_day + timedelta(days=offset)
        for index in range(len(self.doctors)):
            for n in range(SLOTS_PER_DAY):
                if self.rng.random() < 0.95:
                    self._appointment(rows, calls, offset, index, n, held=True)
        if offset == self.days - 1:  # the future: booked within the period, still booked
            for later in range(self.days, self.days + BOOKED_AHEAD_DAYS):
                for index in range(len(self.doctors)):
                    for n in range(SLOTS_PER_DAY):
                        if self.rng.random() < 0.95 * (1 - (later - self.days) / 29):
                            self._appointment(rows, calls, later, index, n, held=False)
        for _ in range(self._scaled(40)):
            calls.append(self._ivr_call(self._local(day, 8 + 10 * self.rng.random()), "closed"))
        for _ in range(self._scaled(300)):
            step = pick(self.rng, _HANG_UP_STEPS)
            at = self._local(day, 8 + 10 * self.rng.random())
            calls.append(self._ivr_call(at, step, hang_up=True))
        self._campaign_calls(rows, day)
        self._tasks(rows, day)
        self._complaints(rows, day)
        return rows, calls

    def _appointment(
        self,
        rows: DayRows,
        calls: list[tuple[str, list[AmiEvent], list[Any]]],
        offset: int,
        index: int,
        n: int,
        *,
        held: bool,
    ) -> None:
        rng = self.rng
        doctor, department = self.doctors[index]
        day = self.first_day + timedelta(days=offset)
        starts = self._local(day, 9 + n / 4)
        appointment_id = self._next("appointment")
        # Booked up to four weeks ahead; the future's within the seeded days.
        ahead = rng.randint(max(1, offset - self.days + 1), BOOKED_AHEAD_DAYS)
        booked_at = self._local(day - timedelta(days=ahead), 8 + 10 * rng.random())
        channel = pick(
            rng, ((Channel.IVR, 30), (Channel.AGENT, 50), (Channel.WEB, 15), (Channel.OUTBOUND, 5))
        )
        patient = rng.randrange(1, self.patients + 1)
        if not held:  # one booked appointment per patient, department and day
            while (patient, department, day) in self._booked:
                patient = rng.randrange(1, self.patients + 1)
            self._booked.add((patient, department, day))
        row: dict[str, Any] = {
            "id": appointment_id,
            "patient_id": patient,
            "doctor_id": doctor,
            "department_id": department,
            "slot_id": self._slot_id(offset, index, n),
            "starts_at": starts,
            "ends_at": starts + timedelta(minutes=15),
            "local_date": day,
            "status": AppointmentStatus.BOOKED,
            "channel": channel,
            "confirmation_code": f"B{appointment_id:09d}",
            "booked_at": booked_at,
            "booked_by_user_id": None,
            "booked_call_id": None,
            "cancelled_at": None,
            "cancelled_by_user_id": None,
            "cancel_channel": None,
        }
        if channel is Channel.IVR and booked_at >= self.first_moment:
            linkedid = f"bench-ivrb-{appointment_id}"
            calls.append(self._ivr_call(booked_at, "done", appointment_id=appointment_id))
            row["booked_call_id"] = linkedid
            self._audit(rows, booked_at, AuditAction.CREATE, appointment_id, patient, linkedid)
        elif channel is Channel.AGENT:
            row["booked_by_user_id"] = rng.choice(self.agent_ids)
            booked_offset = (booked_at.astimezone(self.tz).date() - self.first_day).days
            if 0 <= booked_offset < self.days and rng.random() < 0.6:
                n_call = booked_offset * self.calls_per_day + rng.randint(1, self.calls_per_day)
                row["booked_call_id"] = f"bench-{n_call}"
        reminded = self._reminder(rows, appointment_id, patient, starts, booked_at)
        if rng.random() < 0.12:
            self._cancel(rows, calls, row, starts)
        elif held:
            no_show = rng.random() < (0.06 if reminded else 0.15)
            row["status"] = AppointmentStatus.NO_SHOW if no_show else AppointmentStatus.COMPLETED
        rows.add(Appointment, row)

    def _cancel(
        self,
        rows: DayRows,
        calls: list[tuple[str, list[AmiEvent], list[Any]]],
        row: dict[str, Any],
        starts: datetime,
    ) -> None:
        rng = self.rng
        span = (starts - row["booked_at"]).total_seconds() - 3600
        at = row["booked_at"] + timedelta(seconds=max(60.0, span * rng.random()))
        if at >= self.last_moment:
            return  # after the seeded days: still booked
        channel = pick(
            rng, ((Channel.IVR, 40), (Channel.AGENT, 40), (Channel.WEB, 15), (Channel.OUTBOUND, 5))
        )
        row.update(status=AppointmentStatus.CANCELLED, cancelled_at=at, cancel_channel=channel)
        appointment_id = row["id"]
        if channel is Channel.AGENT:
            row["cancelled_by_user_id"] = rng.choice(self.agent_ids)
        if channel is Channel.IVR and at >= self.first_moment:
            linkedid = f"bench-ivrc-{appointment_id}"
            calls.append(self._ivr_call(at, "done", cancelled_id=appointment_id))
            self._audit(rows, at, AuditAction.UPDATE, appointment_id, row["patient_id"], linkedid)

    def _audit(
        self,
        rows: DayRows,
        at: datetime,
        action: AuditAction,
        appointment_id: int,
        patient: int,
        linkedid: str,
    ) -> None:
        rows.add(
            AuditEvent,
            {
                "at": at,
                "actor": "ivr",
                "actor_user_id": None,
                "source": linkedid,
                "action": action,
                "entity": "appointment",
                "entity_id": str(appointment_id),
                "patient_id": patient,
                "detail": {"status": "cancelled", "channel": "ivr"}
                if action is AuditAction.UPDATE
                else {"channel": "ivr"},
            },
        )

    def _ivr_call(
        self,
        at: datetime,
        step: str,
        *,
        hang_up: bool = False,
        appointment_id: int | None = None,
        cancelled_id: int | None = None,
    ) -> tuple[str, list[AmiEvent], list[Any]]:
        """An inbound call the menus finished (``step`` the leaving step) or that hung up
        at ``step``; a fifth of the callers answered a menu by voice."""
        rng = self.rng
        if appointment_id is not None:
            linkedid = f"bench-ivrb-{appointment_id}"
        elif cancelled_id is not None:
            linkedid = f"bench-ivrc-{cancelled_id}"
        else:
            linkedid = f"bench-ivr-{self._next('ivr')}"
        start = at.timestamp() - 60
        context = {"answered_by": "speech", "confidence": 0.9} if rng.random() < 0.2 else {}
        progress: list[tuple[float, IvrProgress]] = [
            (start + 1, IvrProgress(linkedid, "language", {"language": "en"})),
            (start + 20, IvrProgress(linkedid, "main-menu", context)),
        ]
        if hang_up:
            if step not in ("language", "main-menu"):
                progress.append((start + 40, IvrProgress(linkedid, step)))
            end = start + 45
        else:
            detail: dict[str, Any] = {}
            if appointment_id is not None:
                detail["appointment_id"] = appointment_id
            if cancelled_id is not None:
                detail["cancelled_appointment_id"] = cancelled_id
            progress.append((start + 59, IvrProgress(linkedid, step, detail, left=True)))
            end = start + 62
        events = [
            _event(
                "Newchannel",
                start,
                linkedid,
                Context="hospital-inbound",
                CallerIDNum="2125550100",
                CallerIDName="",
                Exten="s",
            ),
            _event("Hangup", end, linkedid, Cause="16"),
        ]
        return linkedid, events, progress


def fold_with_ivr(
    linkedid: str,
    events: list[AmiEvent],
    progress: list[tuple[float, IvrProgress]],
    inbound: frozenset[str],
) -> LiveCall:
    """The call as the tracker folds it: AMI events and the IVR's progress in time order."""
    call = LiveCall(
        linkedid=linkedid, started_at=datetime.fromtimestamp(events[0].received_at, UTC)
    )
    steps = sorted(progress, key=lambda p: p[0])
    i = 0
    for event in events:
        while i < len(steps) and steps[i][0] <= event.received_at:
            apply_ivr(call, steps[i][1], datetime.fromtimestamp(steps[i][0], UTC))
            i += 1
        call.apply(event, inbound)
    return call


async def sync_sequences(database: Database) -> None:
    """PostgreSQL: the id sequences past the ids given here."""
    if database.dialect != "postgresql":
        return
    async with database.transaction() as session:
        for table in (
            "departments",
            "doctors",
            "slots",
            "patients",
            "appointments",
            "campaigns",
            "campaign_attempts",
            "patient_tags",
            "followup_tasks",
            "complaints",
        ):
            await session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
