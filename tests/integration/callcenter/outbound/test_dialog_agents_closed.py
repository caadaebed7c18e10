"""A campaign dialog does not transfer a patient into a closed agent queue.

The reminder dialog runs on a scripted channel with stand-in attempt and answer services, over
the real opening-hours service (SQLite and PostgreSQL): the campaign's agent queue keeps weekday
hours 08:00-18:00 in New York. Pressing 3 (an agent) while it is open sets the queue for the
dialplan as before; while it is closed the patient hears so and a callback request is stored
(an after-hours request of kind callback with the patient's follow-up task).
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callcenter.agi import prompts as kit_prompts
from callcenter.agi.channel import AgiChannel
from callcenter.bus import EventBus
from callcenter.outbound import prompts
from callcenter.outbound.dialogs import QUEUE_VARIABLE, DialogServices, outbound_call
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import (
    AfterHoursKind,
    AfterHoursRequest,
    AttemptStatus,
    CampaignKind,
    FollowUpTask,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.campaigns_answers import DialogInfo
from hcrm_core.services.campaigns_config import parse_config
from hcrm_core.services.opening_hours import OpeningHoursService, make_interval
from tests.support.factories import make_patient

NY = ZoneInfo("America/New_York")
QUEUE = "appointments"
MONDAY_NOON = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
SATURDAY_NIGHT = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # Friday 22:00 in New York
PHONE = "+12125550142"


class CampaignAgi:
    def __init__(self, keys: list[str]) -> None:
        self.keys = deque(keys)
        self.played: list[str] = []
        self.variables: dict[str, str] = {}
        self.linkedid = "cc7"
        self.env = SimpleNamespace(caller_id="", uniqueid="cc7")

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        self.played.append(prompt)
        return None

    async def get_data(self, prompt: str, *, timeout_ms: int, max_digits: int) -> str | None:
        return self.keys.popleft()

    async def say_datetime(self, epoch: int, **_: Any) -> str | None:
        return None

    async def get_variable(self, name: str) -> str | None:
        return None  # no AMD

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value


class StandIns:
    """The attempt (7, of a reminder campaign) and its outcome."""

    def __init__(self, patient_id: int) -> None:
        self.patient_id = patient_id
        self.finished: list[tuple[AttemptStatus, str | None]] = []

    async def dialog(self, attempt_id: int) -> DialogInfo:
        return DialogInfo(
            attempt_id=attempt_id,
            campaign_id=3,
            kind=CampaignKind.REMINDER,
            config=parse_config(CampaignKind.REMINDER, {}),
            patient_id=self.patient_id,
            language="en",
            appointment_id=11,
            appointment_starts_at=datetime(2027, 1, 5, 14, 30, tzinfo=UTC),
            department_code=None,
            phone=PHONE,
        )

    async def finish(self, attempt_id: int, status: AttemptStatus, *, detail: str | None) -> None:
        self.finished.append((status, detail))


async def _call(database: Database, now: datetime) -> tuple[CampaignAgi, StandIns]:
    patient = await make_patient(database, BookingPolicy(), phones=(PHONE,))
    hours = OpeningHoursService(database, NY, clock=lambda: now)
    week = [make_interval(day, "08:00", "18:00") for day in range(5)]
    await hours.replace_week(QUEUE, week, Actor.user(1, "sue"))
    stand_ins = StandIns(patient.id)
    services = DialogServices(
        attempts=cast(Any, stand_ins),
        answers=cast(Any, stand_ins),
        appointments=cast(Any, None),
        bus=cast(EventBus, SimpleNamespace(publish=lambda item: None)),
        timezone="America/New_York",
        channel_prefix="cc",
        hours=hours,
    )
    agi = CampaignAgi(["3"])  # "to speak to someone, press 3"
    await outbound_call(cast(AgiChannel, agi), services=services)
    return agi, stand_ins


async def _requests(database: Database) -> list[AfterHoursRequest]:
    async with database.session() as session:
        return list(await session.scalars(select(AfterHoursRequest)))


async def test_while_open_the_patient_is_transferred_as_before(database: Database) -> None:
    agi, stand_ins = await _call(database, MONDAY_NOON)
    assert agi.variables == {QUEUE_VARIABLE: QUEUE}
    assert agi.played[-1] == kit_prompts.TO_AGENT
    assert stand_ins.finished == [(AttemptStatus.COMPLETED, "to_agent")]
    assert await _requests(database) == []


async def test_while_closed_a_callback_request_is_stored_instead(database: Database) -> None:
    agi, stand_ins = await _call(database, SATURDAY_NIGHT)
    assert agi.variables == {}  # no queue: the dialplan hangs up
    assert agi.played[-1] == prompts.AGENTS_CLOSED
    assert kit_prompts.TO_AGENT not in agi.played
    assert stand_ins.finished == [(AttemptStatus.COMPLETED, "agents_closed_callback")]
    (request,) = await _requests(database)
    assert (request.kind, request.queue, request.caller_number, request.patient_id) == (
        AfterHoursKind.CALLBACK,
        QUEUE,
        PHONE,
        stand_ins.patient_id,
    )
    async with database.session() as session:
        task = await session.get(FollowUpTask, request.task_id)
    assert task is not None and task.patient_id == stand_ins.patient_id


def test_the_closed_prompt_is_said_in_both_languages() -> None:
    assert prompts.AGENTS_CLOSED in prompts.catalogue("en", "General")
    assert prompts.AGENTS_CLOSED in prompts.catalogue("zh", "General")
