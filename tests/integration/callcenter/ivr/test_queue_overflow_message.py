"""A queue's "message" overflow: past its maximum wait, leave a message or be called back.

On SQLite and PostgreSQL: the queue setting and its refusals, the hand-off that names the
dialplan's ``leave-message`` extension (and the identified patient) to the channel, and the
``queue-overflow`` route that serves the closed branch's message menu and stores the same
after-hours requests for the queue. The same on the real Asterisk is
test_queue_overflow_asterisk.py.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from pathlib import PurePosixPath
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.agi.channel import AgiChannel, Recorded
from callcenter.asterisk import const
from callcenter.bus import EventBus
from callcenter.calls.state import IvrProgress
from callcenter.ivr import after_hours_prompts as closed
from callcenter.ivr import prompts
from callcenter.ivr.flows.after_hours import AfterHoursServices
from callcenter.ivr.flows.main_menu import IvrServices, inbound
from callcenter.ivr.flows.overflow import queue_overflow
from callcenter.ivr.plugin import build_routes
from callcenter.ivr.queue_handoff import PATIENT_VARIABLE, QueueRouting
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AfterHoursKind, AfterHoursRequest, FollowUpTask, Patient
from hcrm_core.policy import BookingPolicy
from hcrm_core.services import queues as svc
from hcrm_core.services.opening_hours import ClosedOptions, OpeningHoursService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.queues import Members, QueueSettings
from tests.integration.callcenter.ivr.test_identify_lockout import (
    DOB_KEYS,
    Bus,
    ScriptedAgi,
    patient,
)

__all__ = ["patient"]  # the fixture, shared with the lockout tests
ADMIN = Actor.user(1, "sue")
RECORDINGS = PurePosixPath("/var/spool/asterisk/monitor")
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
QUEUE = "cardio"


async def _message_queue(database: Database, **settings: Any) -> None:
    values: dict[str, Any] = {"display_name": "Cardiology", "menu_digit": "3"}
    values |= {"max_wait_seconds": 3, "overflow": "message"} | settings
    await svc.create_queue(database, QUEUE, QueueSettings(**values), Members(everyone=True), ADMIN)


def _services(database: Database) -> AfterHoursServices:
    hours = OpeningHoursService(database, ZoneInfo("America/New_York"), clock=lambda: NOW)
    return AfterHoursServices(hours, "America/New_York", RECORDINGS, clock=lambda: NOW)


class OverflowAgi:
    """The channel the dialplan hands to ``queue-overflow``: its argument, its language and
    the variables the IVR set on it before the queue."""

    def __init__(self, keys: list[str | None], *, args: tuple[str, ...] = (QUEUE,), **kw: Any):
        self.keys = deque(keys)
        self.linkedid = "1700000000.9"
        self.played: list[str] = []
        self.asked: list[str] = []
        self.recorded: list[PurePosixPath] = []
        self.variables: dict[str, str] = dict(kw.get("variables", {}))
        self.env = SimpleNamespace(
            caller_id="+12125550142", arguments=args, language=kw.get("language", "en")
        )

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        self.played.append(prompt)
        return None

    async def get_data(self, prompt: str, *, timeout_ms: int, max_digits: int) -> str | None:
        self.asked.append(prompt)
        return self.keys.popleft()

    async def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def record_file(self, path: PurePosixPath, **_: object) -> Recorded:
        self.recorded.append(path)
        return Recorded(digit="#")


async def _overflow(database: Database, agi: OverflowAgi) -> list[IvrProgress]:
    bus = Bus()
    await queue_overflow(
        cast(AgiChannel, agi), bus=cast(EventBus, bus), after_hours=_services(database)
    )
    return bus.published


async def _requests(database: Database) -> list[AfterHoursRequest]:
    async with database.session() as session:
        return list(await session.scalars(select(AfterHoursRequest).order_by(AfterHoursRequest.id)))


async def test_the_message_overflow_is_a_queue_setting_with_its_refusals(database: Database):
    await _message_queue(database)
    queue = await svc.get_queue(database, QUEUE)
    assert (queue.overflow, queue.overflow_queue, queue.max_wait_seconds) == ("message", None, 3)
    with pytest.raises(ValidationFailed) as refused:
        await svc.update_queue(database, QUEUE, QueueSettings(max_wait_seconds=0), ADMIN)
    assert refused.value.field == "max_wait_seconds"
    with pytest.raises(ValidationFailed) as refused:
        await svc.create_queue(
            database,
            const.QUEUE_OVERFLOW_MESSAGE,
            QueueSettings(display_name="Messages"),
            Members(everyone=True),
            ADMIN,
        )
    assert refused.value.field == "name"  # the dialplan's own extension
    assert (await svc.get_queue(database, QUEUE)).max_wait_seconds == 3


async def test_the_hand_off_names_the_message_extension_and_the_patient(
    database: Database, patient: Patient
) -> None:
    await _message_queue(database)
    agi, bus = ScriptedAgi([DOB_KEYS, "3"], "call-1"), Bus()
    services = IvrServices(
        patients=PatientService(database, BookingPolicy()),
        booking=None,  # type: ignore[arg-type]
        cancelling=None,  # type: ignore[arg-type]
        routing=QueueRouting(database),
    )
    await inbound(cast(AgiChannel, agi), bus=cast(EventBus, bus), services=services)
    agi.variables.pop("CHANNEL(language)", None)
    assert agi.variables == {
        "CALLCENTER_QUEUE": QUEUE,
        "CALLCENTER_QUEUE_MAXWAIT": "3",
        "CALLCENTER_QUEUE_OVERFLOW": const.QUEUE_OVERFLOW_MESSAGE,
        PATIENT_VARIABLE: str(patient.id),
    }


async def test_a_caller_past_the_wait_asks_to_be_called_back(
    database: Database, patient: Patient
) -> None:
    await _message_queue(database)
    agi = OverflowAgi(["5", "2"], variables={PATIENT_VARIABLE: str(patient.id)}, language="zh")
    steps = await _overflow(database, agi)
    assert agi.played[0] == closed.OVERFLOW_SORRY
    assert closed.OVERFLOW_CALLBACK_FOR in agi.played and closed.CALLBACK_FOR not in agi.played
    assert closed.EMERGENCY_FOR not in agi.played and closed.OPENS_AT not in agi.played
    assert agi.played[-2:] == [closed.OVERFLOW_CALLBACK_SAVED, prompts.GOODBYE]
    assert "CHANNEL(language)" not in agi.variables  # the channel keeps the caller's language
    assert steps[0].step == "overflow" and steps[-1].context["choice"] == "callback"
    (request,) = await _requests(database)
    assert (request.kind, request.queue, request.patient_id, request.recording_path) == (
        AfterHoursKind.CALLBACK,
        QUEUE,
        patient.id,
        None,
    )
    assert (request.caller_number, request.linkedid) == ("+12125550142", "1700000000.9")
    async with database.session() as session:
        task = await session.get(FollowUpTask, request.task_id)
    assert task is not None and task.patient_id == patient.id


async def test_a_caller_past_the_wait_leaves_a_message(database: Database) -> None:
    await _message_queue(database)
    agi = OverflowAgi(["1"])  # nobody identified: no patient variable
    await _overflow(database, agi)
    (path,) = agi.recorded
    assert path.parent == RECORDINGS
    assert agi.played[-2:] == [closed.MESSAGE_SAVED, prompts.GOODBYE]
    (request,) = await _requests(database)
    assert (request.kind, request.queue, request.patient_id, request.task_id) == (
        AfterHoursKind.VOICEMAIL,
        QUEUE,
        None,
        None,
    )
    assert request.recording_path == f"{path}.wav"


async def test_the_queue_closed_options_are_followed_and_strangers_are_not_served(
    database: Database,
) -> None:
    await _message_queue(database)
    hours = _services(database).hours
    await hours.set_options(ClosedOptions(QUEUE, "9", "+12125550111", voicemail=False), ADMIN)
    agi = OverflowAgi(["9", "1", "2"])  # neither the emergency key nor the message is offered
    await _overflow(database, agi)
    assert closed.VOICEMAIL_FOR not in agi.played and agi.asked[-1] == prompts.PRESS[2]
    assert [r.kind for r in await _requests(database)] == [AfterHoursKind.CALLBACK]
    for args in ((), ("../etc",), ("Cardio;x",)):
        stranger = OverflowAgi(["2"], args=args)
        assert await _overflow(database, stranger) == [] and stranger.played == []
    assert len(await _requests(database)) == 1


def test_the_route_is_served() -> None:
    routes = build_routes(
        cast(EventBus, Bus()),
        patients=None,  # type: ignore[arg-type]
        scheduling=None,  # type: ignore[arg-type]
        appointments=None,  # type: ignore[arg-type]
        timezone="UTC",
    )
    assert const.AGI_ROUTE_QUEUE_OVERFLOW in routes
    assert const.QUEUE_OVERFLOW_MESSAGE in svc.RESERVED_NAMES
