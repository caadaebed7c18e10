"""Keeping departments, doctors and their weeks: each rule, the audit, one transaction per change.

The slot keeper is a recording stand-in here (it checks it runs inside the change's
transaction); test_doctors_slots.py runs the real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.errors import DoctorNotFound, ValidationFailed
from hcrm_core.models import (
    AuditEvent,
    Department,
    Doctor,
    ExceptionKind,
    Role,
    ScheduleException,
    ScheduleTemplate,
)
from hcrm_core.services.doctors_admin import (
    DepartmentFields,
    DoctorFields,
    DoctorsAdmin,
    Editor,
    NotAllowed,
)
from hcrm_core.services.doctors_schedules import (
    ExceptionFields,
    ScheduleAdmin,
    TemplateFields,
    TemplateNotFound,
)
from tests.support.factories import make_hospital

ADMIN = Editor(Actor.user(1, "ada", "10.0.0.1"), Role.ADMIN)
SUPERVISOR = Editor(Actor.user(2, "sam", "10.0.0.2"), Role.SUPERVISOR)
AGENT = Editor(Actor.user(3, "alice", "10.0.0.3"), Role.AGENT)


@dataclass
class RecordingKeeper:
    """Records each refresh with what the transaction shows of the doctor's week by then."""

    affected: list[int] = field(default_factory=list)
    calls: list[tuple[int, int, int]] = field(default_factory=list)
    fail: bool = False

    async def refresh_doctor(self, session: AsyncSession, doctor_id: int) -> list[int]:
        templates = await session.scalar(
            select(func.count()).where(ScheduleTemplate.doctor_id == doctor_id)
        )
        exceptions = await session.scalar(
            select(func.count()).where(ScheduleException.doctor_id == doctor_id)
        )
        self.calls.append((doctor_id, templates or 0, exceptions or 0))
        if self.fail:
            raise RuntimeError("keeper failed")
        return list(self.affected)


@pytest.fixture
def keeper() -> RecordingKeeper:
    return RecordingKeeper()


@pytest.fixture
def admin(database, keeper) -> DoctorsAdmin:
    return DoctorsAdmin(database, keeper)


@pytest.fixture
def week(database, keeper, policy) -> ScheduleAdmin:
    return ScheduleAdmin(database, keeper, policy)


def _today(policy) -> date:
    return datetime.now(policy.timezone).date()


def _monday_after(policy, weeks: int = 1) -> date:
    today = _today(policy)
    return today + timedelta(days=7 * weeks - today.weekday())


async def _audit_rows(database, entity: str) -> list[AuditEvent]:
    async with database.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.entity == entity).order_by(AuditEvent.id)
        )
        return list(rows)


async def _count(database, model) -> int:
    async with database.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


def _morning(weekday: int = 5, **kw) -> TemplateFields:
    base = {"weekday": weekday, "start_time": time(9), "end_time": time(12), "slot_minutes": 20}
    return TemplateFields(**{**base, **kw})


# -- departments ------------------------------------------------------------------------------


async def test_department_create_edit_deactivate_audited(database, admin):
    fields = DepartmentFields(
        code=" ortho ",
        name="Orthopaedics",
        names={"zh": "骨科", "es": "Ortopedia", "fr": " "},
        synonyms=["bones", "Bones", " joints ", ""],
        menu_order=3,
    )
    department = await admin.create_department(fields, ADMIN)
    assert (department.code, department.names, department.synonyms) == (
        "ORTHO",
        {"zh": "骨科", "es": "Ortopedia"},
        ["bones", "joints"],
    )
    edited = DepartmentFields("ORTHO", "Orthopaedic surgery", {"zh": "骨科"}, ["bones"], 4)
    await admin.update_department(department.id, edited, ADMIN)
    await admin.set_department_active(department.id, False, ADMIN)
    assert not (await admin.department(department.id)).active
    rows = await _audit_rows(database, "department")
    assert [r.action.value for r in rows] == ["create", "update", "update"]
    assert rows[0].actor == "user:ada" and rows[0].detail["code"] == "ORTHO"
    assert rows[1].detail["changed"]["name"] == ["Orthopaedics", "Orthopaedic surgery"]
    assert rows[2].detail["changed"] == {"active": [True, False]}


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        (DepartmentFields("", "X"), "code"),
        (DepartmentFields("CARD!", "X"), "code"),
        (DepartmentFields("NEW", " "), "name"),
        (DepartmentFields("NEW", "X", names={"Chinese!": "x"}), "names"),
        (DepartmentFields("NEW", "X", synonyms=["x" * 61]), "synonyms"),
        (DepartmentFields("NEW", "X", menu_order=1000), "menu_order"),
    ],
)
async def test_bad_departments_are_refused_naming_the_field(database, admin, fields, field_name):
    with pytest.raises(ValidationFailed) as refused:
        await admin.create_department(fields, ADMIN)
    assert refused.value.field == field_name
    assert await _count(database, Department) == 0
    assert await _audit_rows(database, "department") == []


async def test_department_code_is_unique_and_a_busy_department_stays_active(
    database, policy, admin
):
    hospital = await make_hospital(database, policy, days=1)
    with pytest.raises(ValidationFailed, match="already the code of Cardiology") as refused:
        await admin.create_department(DepartmentFields("card", "Heart two"), ADMIN)
    assert refused.value.field == "code"
    with pytest.raises(ValidationFailed, match="2 active doctor") as refused:
        await admin.set_department_active(hospital.cardiology.id, False, ADMIN)
    assert refused.value.field == "active"
    with pytest.raises(NotAllowed):
        await admin.create_department(DepartmentFields("NEW", "New"), SUPERVISOR)


# -- doctors ----------------------------------------------------------------------------------


async def test_doctor_create_edit_move_and_deactivate(database, policy, admin, keeper):
    hospital = await make_hospital(database, policy, days=7)
    doctor = await admin.create_doctor(
        DoctorFields(hospital.cardiology.id, " Eve ", "Pulse", "Cardiac imaging"), ADMIN
    )
    assert (doctor.given_name, doctor.title, doctor.active) == ("Eve", "Dr.", True)
    assert keeper.calls == []  # no week yet: nothing to refresh
    moved = await admin.update_doctor(
        hospital.dr_heart.id,
        DoctorFields(hospital.dermatology.id, "Ada", "Heart", "Heart failure", "Prof."),
        ADMIN,
    )
    assert moved.item.department_id == hospital.dermatology.id
    skin_slots = await hospital.free_slots(department_id=hospital.dermatology.id, limit=200)
    assert hospital.dr_heart.id in {s.doctor_id for s in skin_slots}
    keeper.affected = [41, 42]
    off = await admin.set_doctor_active(hospital.dr_beat.id, False, ADMIN)
    assert off.affected_appointments == [41, 42] and not off.item.active
    assert keeper.calls == [(hospital.dr_beat.id, 5, 0)]
    again = await admin.set_doctor_active(hospital.dr_beat.id, False, ADMIN)
    assert again.affected_appointments == [] and len(keeper.calls) == 1  # nothing changed
    back = await admin.set_doctor_active(hospital.dr_beat.id, True, ADMIN)
    assert back.item.active and len(keeper.calls) == 2
    rows = await _audit_rows(database, "doctor")
    assert [r.action.value for r in rows] == ["create", "update", "update", "update"]
    assert rows[1].detail["changed"]["title"] == ["Dr.", "Prof."]
    listed = await admin.doctors(department_id=hospital.dermatology.id, active=True)
    assert {d.family_name for d in listed} == {"Heart", "Skin"}
    assert [d.family_name for d in await admin.doctors(text="PULS")] == ["Pulse"]
    assert listed[0].department.code == "DERM"


async def test_bad_doctors_are_refused_naming_the_field(database, policy, admin):
    hospital = await make_hospital(database, policy, days=1)
    empty = await admin.create_department(DepartmentFields("GONE", "Closed ward"), ADMIN)
    await admin.set_department_active(empty.id, False, ADMIN)
    cases = [
        (DoctorFields(4242, "A", "B", "C"), "department_id", "no department with id 4242"),
        (DoctorFields(empty.id, "A", "B", "C"), "department_id", "Closed ward is inactive"),
        (DoctorFields(hospital.cardiology.id, "", "B", "C"), "given_name", "required"),
        (DoctorFields(hospital.cardiology.id, "A", "B" * 101, "C"), "family_name", "at most"),
        (DoctorFields(hospital.cardiology.id, "A", "B", " "), "specialty", "required"),
        (DoctorFields(hospital.cardiology.id, "A", "B", "C", "T" * 21), "title", "at most"),
    ]
    for fields, field_name, message in cases:
        with pytest.raises(ValidationFailed, match=message) as refused:
            await admin.create_doctor(fields, ADMIN)
        assert refused.value.field == field_name
    with pytest.raises(ValidationFailed, match="inactive") as refused:
        await admin.update_doctor(
            hospital.dr_skin.id, DoctorFields(empty.id, "Cai", "Skin", "Derm"), ADMIN
        )
    assert refused.value.field == "department_id"
    with pytest.raises(DoctorNotFound):
        await admin.set_doctor_active(9999, False, ADMIN)
    assert await _count(database, Doctor) == 3
    assert await _audit_rows(database, "doctor") == []


# -- weekly sessions --------------------------------------------------------------------------


async def test_template_add_edit_delete_refresh_inside_the_transaction(
    database, policy, week, keeper
):
    hospital = await make_hospital(database, policy, days=1)
    doctor_id = hospital.dr_skin.id
    keeper.affected = [7]
    added = await week.add_template(doctor_id, _morning(location=" Room 12 "), ADMIN)
    assert added.item.location == "Room 12" and added.affected_appointments == [7]
    # The keeper saw the new session (6 = the five weekdays + Saturday): same transaction.
    assert keeper.calls[-1] == (doctor_id, 6, 0)
    edited = await week.update_template(
        doctor_id, added.item.id, _morning(end_time=time(13), location="Room 12"), ADMIN
    )
    assert edited.item.end_time == time(13)
    unchanged = await week.update_template(
        doctor_id, added.item.id, _morning(end_time=time(13), location="Room 12"), ADMIN
    )
    assert unchanged.affected_appointments == [] and len(keeper.calls) == 2
    await week.delete_template(doctor_id, added.item.id, ADMIN)
    assert keeper.calls[-1] == (doctor_id, 5, 0)
    rows = await _audit_rows(database, "schedule_template")
    assert [r.action.value for r in rows] == ["create", "update", "delete"]
    assert rows[0].detail["start_time"] == "09:00:00" and rows[0].detail["doctor_id"] == doctor_id
    assert rows[1].detail["changed"]["end_time"] == ["12:00:00", "13:00:00"]
    assert rows[2].detail["session"] == "Saturday 09:00-13:00"
    skin_monday = (await week.templates(doctor_id))[0]
    with pytest.raises(TemplateNotFound):  # another doctor's session
        await week.delete_template(hospital.dr_heart.id, skin_monday.id, ADMIN)


async def test_bad_templates_are_refused_naming_the_field(database, policy, week, keeper):
    hospital = await make_hospital(database, policy, days=1)
    doctor_id = hospital.dr_skin.id  # weekdays 09:00-12:00
    today = _today(policy)
    cases = [
        (_morning(weekday=0, start_time=time(11)), "start_time", "overlaps .*Monday 09:00-12:00"),
        (_morning(slot_minutes=25), "slot_minutes", "25 minutes does not divide the 180-minute"),
        (_morning(slot_minutes=4), "slot_minutes", "between 5 and 240"),
        (_morning(end_time=time(8)), "end_time", "after the start"),
        (_morning(weekday=7), "weekday", "Monday"),
        (
            _morning(valid_from=today + timedelta(days=9), valid_until=today),
            "valid_until",
            "before valid_from",
        ),
        (_morning(valid_until=today - timedelta(days=1)), "valid_until", "already past"),
        (_morning(location="x" * 121), "location", "at most 120"),
    ]
    for fields, field_name, message in cases:
        with pytest.raises(ValidationFailed, match=message) as refused:
            await week.add_template(doctor_id, fields, ADMIN)
        assert refused.value.field == field_name, message
    with pytest.raises(DoctorNotFound):
        await week.add_template(9999, _morning(), ADMIN)
    assert await _count(database, ScheduleTemplate) == 15
    assert await _audit_rows(database, "schedule_template") == []
    assert keeper.calls == []


async def test_templates_may_share_a_weekday_when_hours_or_validity_differ(database, policy, week):
    hospital = await make_hospital(database, policy, days=1)
    doctor_id = hospital.dr_skin.id
    await week.add_template(
        doctor_id, _morning(weekday=0, start_time=time(12), end_time=time(14)), ADMIN
    )
    until = _monday_after(policy, 2)
    winter = await week.add_template(doctor_id, _morning(weekday=6, valid_until=until), ADMIN)
    spring = _morning(weekday=6, valid_from=until + timedelta(days=1), start_time=time(10))
    await week.add_template(doctor_id, spring, ADMIN)
    with pytest.raises(ValidationFailed, match="overlaps") as refused:
        await week.update_template(
            doctor_id, winter.item.id, _morning(weekday=6, valid_until=until + timedelta(7)), ADMIN
        )
    assert refused.value.field == "start_time"


async def test_nothing_is_half_written_when_the_refresh_fails(database, policy, week, keeper):
    hospital = await make_hospital(database, policy, days=1)
    keeper.fail = True
    with pytest.raises(RuntimeError):
        await week.add_template(hospital.dr_skin.id, _morning(), ADMIN)
    with pytest.raises(RuntimeError):
        await week.add_exception(
            hospital.dr_skin.id,
            ExceptionFields(ExceptionKind.LEAVE, _today(policy) + timedelta(days=1)),
            SUPERVISOR,
        )
    assert await _count(database, ScheduleTemplate) == 15
    assert await _count(database, ScheduleException) == 0
    assert await _count(database, AuditEvent) == 0


# -- exceptions -------------------------------------------------------------------------------


async def test_supervisor_keeps_leave_but_not_the_week(database, policy, week, keeper):
    hospital = await make_hospital(database, policy, days=1)
    doctor_id = hospital.dr_heart.id
    first = _today(policy) + timedelta(days=3)
    keeper.affected = [99]
    leave = await week.add_exception(
        doctor_id,
        ExceptionFields(ExceptionKind.LEAVE, first, first + timedelta(days=4), reason="congress"),
        SUPERVISOR,
    )
    assert leave.affected_appointments == [99]
    assert leave.item.starts_at == datetime.combine(first, time(0), tzinfo=policy.timezone)
    assert leave.item.ends_at == datetime.combine(
        first + timedelta(days=5), time(0), tzinfo=policy.timezone
    )
    assert keeper.calls[-1] == (doctor_id, 5, 1)
    sick = await week.add_exception(
        doctor_id,
        ExceptionFields(ExceptionKind.SICK, first, start_time=time(10), end_time=time(11)),
        SUPERVISOR,
    )
    assert sick.item.kind == ExceptionKind.SICK
    assert [e.id for e in await week.exceptions(doctor_id)] == [leave.item.id, sick.item.id]
    await week.delete_exception(doctor_id, sick.item.id, SUPERVISOR)
    for change in (
        week.add_template(doctor_id, _morning(), SUPERVISOR),
        week.delete_template(doctor_id, 1, SUPERVISOR),
        week.add_exception(doctor_id, ExceptionFields(ExceptionKind.LEAVE, first), AGENT),
    ):
        with pytest.raises(NotAllowed):
            await change
    rows = await _audit_rows(database, "schedule_exception")
    assert [(r.action.value, r.actor) for r in rows] == [
        ("create", "user:sam"),
        ("create", "user:sam"),
        ("delete", "user:sam"),
    ]
    assert rows[0].detail["kind"] == "leave" and rows[0].detail["reason"] == "congress"


async def test_bad_exceptions_are_refused_naming_the_field(database, policy, week, keeper):
    hospital = await make_hospital(database, policy, days=1)
    doctor_id = hospital.dr_heart.id  # weekdays 09:00-12:00
    today = _today(policy)
    monday = _monday_after(policy)
    leave, sick, extra = ExceptionKind.LEAVE, ExceptionKind.SICK, ExceptionKind.EXTRA_SESSION
    cases = [
        (ExceptionFields(leave, today, today - timedelta(days=1)), "ends_on", "before the first"),
        (
            ExceptionFields(sick, today + timedelta(1), start_time=time(11), end_time=time(10)),
            "end_time",
            "after the start",
        ),
        (
            ExceptionFields(leave, today - timedelta(days=3), today - timedelta(1)),
            "ends_on",
            "past",
        ),
        (ExceptionFields(leave, today, today + timedelta(days=400)), "ends_on", "at most"),
        (ExceptionFields(ExceptionKind.HOLIDAY, today), "kind", "use one of"),
        (ExceptionFields(leave, monday, slot_minutes=15), "slot_minutes", "only an extra"),
        (ExceptionFields(leave, monday, reason="r" * 201), "reason", "at most 200"),
        (
            ExceptionFields(extra, monday, end_time=time(16), slot_minutes=15),
            "start_time",
            "required",
        ),
        (
            ExceptionFields(extra, monday, start_time=time(14), end_time=time(16)),
            "slot_minutes",
            "required",
        ),
        (
            ExceptionFields(
                extra, monday, monday + timedelta(1), time(14), time(16), slot_minutes=15
            ),
            "ends_on",
            "one date",
        ),
        (
            ExceptionFields(extra, monday, start_time=time(14), end_time=time(16), slot_minutes=35),
            "slot_minutes",
            "does not divide",
        ),
        (
            ExceptionFields(extra, monday, start_time=time(11), end_time=time(13), slot_minutes=30),
            "start_time",
            "overlaps .*Monday 09:00-12:00",
        ),
        (
            ExceptionFields(
                extra,
                today + timedelta(days=200),
                start_time=time(14),
                end_time=time(16),
                slot_minutes=30,
            ),
            "starts_on",
            "horizon",
        ),
    ]
    for fields, field_name, message in cases:
        with pytest.raises(ValidationFailed, match=message) as refused:
            await week.add_exception(doctor_id, fields, SUPERVISOR)
        assert refused.value.field == field_name, message
    assert await _count(database, ScheduleException) == 0
    assert await _audit_rows(database, "schedule_exception") == []
    assert keeper.calls == []


async def test_extra_sessions_add_time_once(database, policy, week):
    hospital = await make_hospital(database, policy, days=1)
    doctor_id = hospital.dr_heart.id
    saturday = _monday_after(policy) + timedelta(days=5)
    extra = ExceptionFields(
        ExceptionKind.EXTRA_SESSION,
        saturday,
        start_time=time(14),
        end_time=time(16),
        slot_minutes=30,
        location="Day clinic",
    )
    added = await week.add_exception(doctor_id, extra, SUPERVISOR)
    assert (added.item.slot_minutes, added.item.location, added.item.adds_time) == (
        30,
        "Day clinic",
        True,
    )
    with pytest.raises(ValidationFailed, match="another extra session 14:00-16:00") as refused:
        await week.add_exception(
            doctor_id,
            ExceptionFields(ExceptionKind.EXTRA_SESSION, saturday, None, time(15), time(17), 30),
            SUPERVISOR,
        )
    assert refused.value.field == "start_time"
    # A weekly session may not be laid over it either.
    with pytest.raises(ValidationFailed, match="extra session on") as refused:
        await week.add_template(doctor_id, _morning(weekday=5, end_time=time(15)), ADMIN)
    assert refused.value.field == "start_time"
