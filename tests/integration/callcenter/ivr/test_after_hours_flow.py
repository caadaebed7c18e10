"""The closed branch of the inbound IVR at fixed clock times, on a scripted channel.

The whole inbound dialog runs over the real opening-hours service (SQLite and PostgreSQL): a
caller with a withheld number presses 0 for an agent; the appointments queue keeps weekday
hours 08:00-18:00 in New York. The same branch on the real Asterisk is
test_after_hours_asterisk.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import PurePosixPath
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.agi.channel import AgiChannel, Recorded
from callcenter.agi.context import CallContext
from callcenter.agi.errors import CallerHungUp, SoundMissing
from callcenter.agi.localised import LocalisedIvr
from callcenter.bus import EventBus
from callcenter.calls.state import IvrProgress
from callcenter.ivr import after_hours_prompts as closed
from callcenter.ivr import prompts
from callcenter.ivr.flows.after_hours import TRANSFER_VARIABLE, AfterHoursServices, closed_flow
from callcenter.ivr.flows.main_menu import AGENT_QUEUE, QUEUE_VARIABLE, IvrServices, inbound
from hcrm_core.actors import Actor
from hcrm_core.models import AfterHoursKind, AfterHoursRequest, FollowUpTask
from hcrm_core.services.opening_hours import ClosedOptions, OpeningHoursService, make_interval
from hcrm_core.services.patients import PatientService
from tests.support.factories import make_patient
from tests.unit.callcenter.agi.test_dialog import FakeAgi, Published

NY = ZoneInfo("America/New_York")
ADMIN = Actor.user(1, "sue")
RECORDINGS = PurePosixPath("/var/spool/asterisk/monitor")
SATURDAY_NIGHT = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # Friday 22:00 EST
MONDAY_8AM_EST = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)


class ClosedAgi(FakeAgi):
    """A FakeAgi that answers, says date-times, records and keeps the variables it is given."""

    def __init__(
        self,
        keys: list[str | None],
        *,
        hang_up_recording: bool = False,
        missing: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(keys)
        self.missing = missing
        self.env.caller_id = ""  # withheld: the language menu is asked
        self.linkedid = "1700000000.7"
        self.variables: list[tuple[str, str]] = []
        self.said: list[tuple[int, str]] = []
        self.recorded: list[PurePosixPath] = []
        self.hang_up_recording = hang_up_recording

    async def answer(self) -> None:
        return None

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        if prompt in self.missing:
            raise SoundMissing(prompt)
        return await super().stream_file(prompt, escape_digits)

    async def set_variable(self, name: str, value: str) -> None:
        self.variables.append((name, value))

    async def say_datetime(
        self, epoch: int, *, escape_digits: str = "", fmt: str, timezone: str
    ) -> str | None:
        self.said.append((epoch, fmt))
        self.played.append("datetime")
        return None

    async def record_file(self, path: PurePosixPath, **_: object) -> Recorded:
        self.recorded.append(path)
        if self.hang_up_recording:
            raise CallerHungUp("hung up while recording")
        return Recorded(digit="#")


async def _hours(database, now: datetime) -> OpeningHoursService:
    hours = OpeningHoursService(database, NY, clock=lambda: now)
    week = [make_interval(day, "08:00", "18:00") for day in range(5)]
    await hours.replace_week(AGENT_QUEUE, week, ADMIN)
    return hours


def _services(hours: OpeningHoursService, now: datetime) -> AfterHoursServices:
    return AfterHoursServices(hours, "America/New_York", RECORDINGS, clock=lambda: now)


async def _call(database, agi: ClosedAgi, after_hours: AfterHoursServices | None) -> list[str]:
    bus = Published()
    services = IvrServices(
        cast(PatientService, None),  # a withheld number: no lookup
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        after_hours=after_hours,
    )
    await inbound(cast(AgiChannel, agi), bus=cast(EventBus, bus), services=services)
    return [item.step for item in bus.items if isinstance(item, IvrProgress)]


async def _requests(database) -> list[AfterHoursRequest]:
    async with database.session() as session:
        return list(await session.scalars(select(AfterHoursRequest)))


async def test_open_hours_and_queues_without_hours_go_to_the_agent_as_before(database):
    monday_noon = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    hours = await _hours(database, monday_noon)
    agi = ClosedAgi(["1", "0"])  # English, then 0 at the first identify prompt
    steps = await _call(database, agi, _services(hours, monday_noon))
    assert agi.variables[-1] == (QUEUE_VARIABLE, AGENT_QUEUE) and "closed" not in steps
    # No services at all (tools, tests): always open.
    agi = ClosedAgi(["1", "0"])
    await _call(database, agi, None)
    assert agi.variables[-1] == (QUEUE_VARIABLE, AGENT_QUEUE)


async def test_closed_names_the_next_opening_and_stores_a_callback(database):
    hours = await _hours(database, SATURDAY_NIGHT)
    agi = ClosedAgi(["1", "0", "7", None, "2"])  # a wrong key, silence, then 2
    steps = await _call(database, agi, _services(hours, SATURDAY_NIGHT))
    assert agi.played[agi.played.index(closed.CLOSED) :][:4] == [
        closed.CLOSED,
        closed.OPENS_AT,
        "datetime",
        closed.OPENS_AFTER,
    ]
    assert agi.said == [(int(MONDAY_8AM_EST.timestamp()), "A B d 'digits/at' I M p")]
    assert agi.asked[-3:] == [prompts.PRESS[2]] * 3  # the menu ends on "press 2"
    assert closed.VOICEMAIL_FOR in agi.played and closed.EMERGENCY_FOR not in agi.played
    assert agi.played[-2:] == [closed.CALLBACK_SAVED, prompts.GOODBYE]
    assert all(name != QUEUE_VARIABLE for name, _ in agi.variables)  # never queued
    assert steps[-1] == "closed" and steps.count("closed-menu") == 3  # entered, 2 failures
    (request,) = await _requests(database)
    assert (request.kind, request.queue, request.recording_path) == (
        AfterHoursKind.CALLBACK,
        AGENT_QUEUE,
        None,
    )
    assert request.linkedid == "1700000000.7"


async def test_a_voicemail_is_recorded_and_kept_even_when_the_caller_hangs_up(database):
    hours = await _hours(database, SATURDAY_NIGHT)
    agi = ClosedAgi(["1", "0", "1"])
    await _call(database, agi, _services(hours, SATURDAY_NIGHT))
    (path,) = agi.recorded
    assert path.parent == RECORDINGS and path.name.startswith("after-hours-")
    assert agi.played[-2:] == [closed.MESSAGE_SAVED, prompts.GOODBYE]
    hung_up = ClosedAgi(["1", "0", "1"], hang_up_recording=True)
    with pytest.raises(CallerHungUp):
        await _call(database, hung_up, _services(hours, SATURDAY_NIGHT))
    first, second = sorted(await _requests(database), key=lambda r: r.id)
    assert first.recording_path == f"{path}.wav"
    assert second.recording_path == f"{hung_up.recorded[0]}.wav"
    assert {first.kind, second.kind} == {AfterHoursKind.VOICEMAIL}


async def test_the_emergency_option_transfers_to_the_configured_number(database):
    hours = await _hours(database, SATURDAY_NIGHT)
    await hours.set_options(
        ClosedOptions(AGENT_QUEUE, "9", "+12125550111", voicemail=False, callback=False), ADMIN
    )
    agi = ClosedAgi(["1", "0", "9"])
    steps = await _call(database, agi, _services(hours, SATURDAY_NIGHT))
    assert agi.variables[-1] == (TRANSFER_VARIABLE, "Local/+12125550111@callcenter-outbound-dial")
    assert agi.asked[-1] == prompts.PRESS[9] and closed.VOICEMAIL_FOR not in agi.played
    assert steps[-1] == "closed-emergency"
    assert await _requests(database) == []


async def test_zero_or_three_failures_at_the_closed_menu_say_goodbye(database):
    hours = await _hours(database, SATURDAY_NIGHT)
    for keys in (["1", "0", "0"], ["1", "0", "5", None, "8"]):
        agi = ClosedAgi(keys)
        await _call(database, agi, _services(hours, SATURDAY_NIGHT))
        assert agi.played[-1] == prompts.GOODBYE and not agi.recorded
    assert await _requests(database) == []


@pytest.mark.parametrize(
    ("now", "opening"),
    [
        # Spring forward: Sunday 01:30 EST -> Monday 08:00 EDT.
        (datetime(2026, 3, 8, 6, 30, tzinfo=UTC), datetime(2026, 3, 9, 12, 0, tzinfo=UTC)),
        # Fall back: Sunday 01:30 EST (the second one) -> Monday 08:00 EST.
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), datetime(2026, 11, 2, 13, 0, tzinfo=UTC)),
        # Friday 18:00 EDT, the Friday before spring forward -> Monday 08:00 EDT.
        (datetime(2026, 3, 6, 23, 0, tzinfo=UTC), datetime(2026, 3, 9, 12, 0, tzinfo=UTC)),
    ],
)
async def test_the_next_opening_is_right_across_daylight_saving_changes(database, now, opening):
    hours = await _hours(database, now)
    agi = ClosedAgi(["1", "0", "0"])
    await _call(database, agi, _services(hours, now))
    assert agi.said[0][0] == int(opening.timestamp())


async def test_a_holiday_moves_the_next_opening_and_mandarin_says_it_in_its_order(database):
    hours = await _hours(database, SATURDAY_NIGHT)
    await hours.add_holiday(date(2026, 12, 7), "Staff day", ADMIN)
    agi = ClosedAgi(["2", "0", "0"])  # 普通话
    await _call(database, agi, _services(hours, SATURDAY_NIGHT))
    epoch, fmt = agi.said[0]
    assert epoch == int(datetime(2026, 12, 8, 13, 0, tzinfo=UTC).timestamp())  # Tuesday
    assert fmt != "A B d 'digits/at' I M p"  # the Mandarin format (core_sounds_zh)


async def test_an_identified_patients_request_becomes_a_follow_up_task(database, policy):
    hours = await _hours(database, SATURDAY_NIGHT)
    patient = await make_patient(database, policy, phones=("+12125550142",))
    agi = ClosedAgi(["2"])
    agi.env.caller_id = "+12125550142"
    ivr = LocalisedIvr(
        cast(AgiChannel, agi), CallContext("1700000000.9", cast(EventBus, Published()))
    )
    ivr.call.patient_id = patient.id
    assert await closed_flow(ivr, _services(hours, SATURDAY_NIGHT), AGENT_QUEUE)
    (request,) = await _requests(database)
    assert (request.patient_id, request.caller_number) == (patient.id, "+12125550142")
    async with database.session() as session:
        task = await session.get(FollowUpTask, request.task_id)
        assert task is not None and task.patient_id == patient.id


async def test_a_queues_own_closed_message_replaces_the_standard_one(database):
    hours = await _hours(database, SATURDAY_NIGHT)
    await hours.set_options(
        ClosedOptions(AGENT_QUEUE, closed_messages={"en": "Closed for the staff party."}), ADMIN
    )
    agi = ClosedAgi(["1", "0", "0"])
    await _call(database, agi, _services(hours, SATURDAY_NIGHT))
    assert closed.closed_message_prompt(AGENT_QUEUE) in agi.played
    assert closed.CLOSED not in agi.played and closed.OPENS_AT in agi.played
    mandarin = ClosedAgi(["2", "0", "0"])  # no Mandarin text: the standard message
    await _call(database, mandarin, _services(hours, SATURDAY_NIGHT))
    assert closed.CLOSED in mandarin.played
    not_built = ClosedAgi(["1", "0", "0"], missing={closed.closed_message_prompt(AGENT_QUEUE)})
    await _call(database, not_built, _services(hours, SATURDAY_NIGHT))  # before `prompts build`
    assert closed.CLOSED in not_built.played
