"""Opening hours, holidays, closed options and after-hours requests on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hcrm_core.actors import Actor
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AfterHoursKind, AuditEvent, FollowUpTask, Holiday, OpeningInterval
from hcrm_core.services.opening_hours import (
    ClosedOptions,
    OpeningHoursNotFound,
    OpeningHoursService,
    make_interval,
)
from tests.support.factories import make_patient

NY = ZoneInfo("America/New_York")
ADMIN = Actor.user(1, "sue", "10.0.0.9")
# The service's "now": Saturday 2026-02-28, noon in New York.
NOW = datetime(2026, 2, 28, 17, 0, tzinfo=UTC)


def service(database) -> OpeningHoursService:
    return OpeningHoursService(database, NY, clock=lambda: NOW)


async def _audit(database, entity: str) -> list[AuditEvent]:
    async with database.session() as session:
        rows = await session.scalars(select(AuditEvent).where(AuditEvent.entity == entity))
        return list(rows)


async def test_a_queue_without_hours_is_always_open(database):
    hours = service(database)
    assert await hours.is_open("appointments", datetime(2026, 3, 8, 7, 30, tzinfo=UTC))
    await hours.add_holiday(date(2026, 3, 8), "Test day", ADMIN)
    assert await hours.is_open("appointments", datetime(2026, 3, 8, 15, 0, tzinfo=UTC))


async def test_weekly_hours_with_both_daylight_saving_changes_and_holidays(database):
    hours = service(database)
    week = [make_interval(day, "08:00", "18:00") for day in range(5)]
    week.append(make_interval("sunday", "01:00", "04:00"))  # spans both changes
    await hours.replace_week("appointments", week, ADMIN)
    # Spring forward: Sunday 01:00-04:00 local is 06:00-08:00 UTC (two hours).
    assert await hours.is_open("appointments", datetime(2026, 3, 8, 7, 0, tzinfo=UTC))
    assert not await hours.is_open("appointments", datetime(2026, 3, 8, 8, 0, tzinfo=UTC))
    # Monday after: 08:00 EDT is 12:00 UTC.
    assert await hours.next_opening(
        "appointments", datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    ) == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    # Fall back: 01:00 EDT to 04:00 EST is 05:00-09:00 UTC (four hours).
    assert await hours.is_open("appointments", datetime(2026, 11, 1, 8, 59, tzinfo=UTC))
    assert not await hours.is_open("appointments", datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
    assert await hours.next_opening(
        "appointments", datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    ) == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)  # Monday 08:00 EST
    # A hospital-wide holiday on Monday 9 March, and one only for another queue on Tuesday.
    await hours.add_holiday(date(2026, 3, 9), "Founders' day", ADMIN)
    await hours.add_holiday(date(2026, 3, 10), "Lab training", ADMIN, queue="lab")
    assert await hours.next_opening(
        "appointments", datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    ) == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert [(h.day, h.queue) for h in await hours.holidays()] == [
        (date(2026, 3, 9), None),
        (date(2026, 3, 10), "lab"),
    ]
    assert len(await _audit(database, "holiday")) == 2
    (changed,) = await _audit(database, "opening_hours")
    assert changed.actor == "user:sue" and "Sunday 01:00-04:00" in changed.detail["after"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("monday", "18:00", "08:00"), "closes"),
        (("monday", "08:00", "08:00"), "closes"),
        (("someday", "08:00", "18:00"), "weekday"),
        ((7, "08:00", "18:00"), "weekday"),
        (("monday", "8am", "18:00"), "opens"),
        (("monday", "24:00", "24:00"), "opens"),
        (("monday", "08:00", "24:01"), "closes"),
    ],
)
def test_bad_intervals_name_the_field(args, field):
    with pytest.raises(ValidationFailed) as raised:
        make_interval(*args)
    assert raised.value.field == field


async def test_bad_changes_are_refused_and_nothing_is_half_written(database):
    hours = service(database)
    await hours.add_interval("appointments", make_interval("monday", "08:00", "12:00"), ADMIN)
    with pytest.raises(ValidationFailed, match="overlaps") as raised:
        await hours.add_interval("appointments", make_interval(0, "11:00", "13:00"), ADMIN)
    assert raised.value.field == "opens"
    with pytest.raises(ValidationFailed, match="overlaps"):
        await hours.replace_week(
            "appointments",
            [make_interval(1, "08:00", "12:00"), make_interval(1, "09:00", "10:00")],
            ADMIN,
        )
    with pytest.raises(ValidationFailed) as raised:
        await hours.add_holiday(date(2026, 2, 27), "Yesterday", ADMIN)
    assert raised.value.field == "day"
    await hours.add_holiday(date(2026, 2, 28), "Today", ADMIN)  # today is not past
    with pytest.raises(ValidationFailed, match="already a holiday"):
        await hours.add_holiday(date(2026, 2, 28), "Again", ADMIN)
    with pytest.raises(ValidationFailed) as raised:
        await hours.add_holiday(date(2026, 3, 1), " ", ADMIN)
    assert raised.value.field == "name"
    with pytest.raises(ValidationFailed) as raised:
        await hours.add_interval("bad queue!", make_interval(0, "13:00", "14:00"), ADMIN)
    assert raised.value.field == "queue"
    with pytest.raises(OpeningHoursNotFound):
        await hours.remove_holiday(999, ADMIN)
    async with database.session() as session:
        assert len(list(await session.scalars(select(OpeningInterval)))) == 1
        assert len(list(await session.scalars(select(Holiday)))) == 1
    (row,) = await hours.week("appointments")
    await hours.remove_interval(row.id, ADMIN)
    assert await hours.week("appointments") == []
    assert [a.action.value for a in await _audit(database, "opening_hours")] == [
        "create",
        "delete",
    ]


async def test_closed_options_default_off_and_are_validated(database):
    hours = service(database)
    assert await hours.options("appointments") == ClosedOptions("appointments")
    kept = await hours.set_options(
        ClosedOptions("appointments", "9", "+12125550111", voicemail=True, callback=False), ADMIN
    )
    assert await hours.options("appointments") == kept
    for bad, field in [
        (ClosedOptions("appointments", "9", None), "emergency_number"),
        (ClosedOptions("appointments", None, "+12125550111"), "emergency_digit"),
        (ClosedOptions("appointments", "1", "+12125550111"), "emergency_digit"),
        (ClosedOptions("appointments", "9", "911; Dial(x)"), "emergency_number"),
    ]:
        with pytest.raises(ValidationFailed) as raised:
            await hours.set_options(bad, ADMIN)
        assert raised.value.field == field
    assert await hours.options("appointments") == kept
    assert len(await _audit(database, "after_hours_options")) == 1
    own = await hours.set_options(
        ClosedOptions("lab", closed_messages={"en": "  The lab is closed.  ", "zh": " "}), ADMIN
    )
    assert own.closed_messages == {"en": "The lab is closed."}
    assert (await hours.all_options())[1].closed_messages == {"en": "The lab is closed."}
    for messages, field in [
        ({"fr": "Fermé"}, "closed_messages"),
        ({"en": "x" * 301}, "closed_messages.en"),
    ]:
        with pytest.raises(ValidationFailed) as raised:
            await hours.set_options(ClosedOptions("lab", closed_messages=messages), ADMIN)
        assert raised.value.field == field


async def test_requests_are_stored_and_an_identified_patient_gets_a_task(database, policy):
    hours = service(database)
    patient = await make_patient(database, policy, phones=("+12125550142",))
    voicemail = await hours.record_request(
        AfterHoursKind.VOICEMAIL,
        "appointments",
        caller_number="+12125550142",
        patient_id=patient.id,
        recording_path="/var/spool/asterisk/monitor/after-hours/1.wav",
        linkedid="1700000000.1",
    )
    callback = await hours.record_request(
        AfterHoursKind.CALLBACK, "appointments", caller_number="+12125550199", patient_id=None
    )
    listed = await hours.requests()
    assert {r.id for r in listed} == {voicemail.id, callback.id}
    assert callback.task_id is None and voicemail.task_id is not None
    async with database.session() as session:
        task = await session.get(FollowUpTask, voicemail.task_id)
        assert task is not None and task.patient_id == patient.id
        assert "voicemail" in task.reason
    assert (await hours.request(voicemail.id)).recording_path.endswith("1.wav")
    assert len(await _audit(database, "after_hours_request")) == 2
