"""The IVR's hand-off to the queues kept in the database, on SQLite and PostgreSQL.

The main menu's keys lead to the queues that have one, ``0`` to the agent key's queue; an
identified VIP or chronic-care patient waits at a higher priority (``QUEUE_PRIO``), and the
queue's maximum wait and overflow go to the dialplan with the caller. Dialogs run against the
scripted AGI channel of test_identify_lockout over the real database.
"""

from __future__ import annotations

from typing import cast

import pytest
from sqlalchemy import update

from callcenter.agi import prompts as kit_prompts
from callcenter.agi.channel import AgiChannel
from callcenter.bus import EventBus
from callcenter.ivr.build_prompts import language_prompts
from callcenter.ivr.flows.main_menu import IvrServices, inbound
from callcenter.ivr.prompts import Spoken
from callcenter.ivr.queue_handoff import QueueRouting, queue_prompt
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import CallQueue, Patient
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.patients import PatientService
from hcrm_core.services.queues import (
    PRIORITY_CHRONIC_CARE,
    PRIORITY_VIP,
    Members,
    QueueSettings,
    create_queue,
)
from tests.integration.callcenter.ivr.test_identify_lockout import (
    DOB_KEYS,
    Bus,
    ScriptedAgi,
    patient,
)

__all__ = ["patient"]  # the fixture, shared with the lockout tests


async def _call(database: Database, keys: list[str], *, routing: bool = True) -> ScriptedAgi:
    agi, bus = ScriptedAgi(keys, "call-1"), Bus()
    services = IvrServices(
        patients=PatientService(database, BookingPolicy()),
        booking=None,  # type: ignore[arg-type]
        cancelling=None,  # type: ignore[arg-type]
        routing=QueueRouting(database) if routing else None,
    )
    await inbound(cast(AgiChannel, agi), bus=cast(EventBus, bus), services=services)
    agi.variables.pop("CHANNEL(language)", None)
    return agi


async def _flags(database: Database, patient: Patient, **flags: bool) -> None:
    async with database.transaction() as session:
        await session.execute(update(Patient).where(Patient.id == patient.id).values(**flags))


async def test_a_vip_pressing_0_waits_ahead_in_the_agent_keys_queue(
    database: Database, patient: Patient
) -> None:
    await _flags(database, patient, vip=True)
    agi = await _call(database, [DOB_KEYS, "0"])
    assert agi.variables == {"CALLCENTER_QUEUE": "appointments", "QUEUE_PRIO": str(PRIORITY_VIP)}


async def test_a_queue_key_of_the_main_menu_leads_to_its_queue_with_its_limits(
    database: Database, patient: Patient
) -> None:
    await _flags(database, patient, chronic_care=True)
    await create_queue(
        database,
        "cardio",
        QueueSettings(
            display_name="Cardiology nurses",
            menu_digit="3",
            max_wait_seconds=90,
            overflow="queue",
            overflow_queue="enquiries",
        ),
        Members(everyone=True),
        Actor.system(),
    )
    agi = await _call(database, [DOB_KEYS, "3"])
    # The main menu says the key: "For" <the queue's name> "press 3" (rendered by prompts build).
    spoken = agi.played.index(queue_prompt("cardio"))
    assert agi.played[spoken - 1] == kit_prompts.FOR
    assert agi.asked[-1] == kit_prompts.PRESS[3]
    assert language_prompts("en", queues=[("cardio", "Cardiology nurses")])[
        queue_prompt("cardio")
    ] == Spoken("Cardiology nurses", "en")
    assert agi.variables == {
        "CALLCENTER_QUEUE": "cardio",
        "QUEUE_PRIO": str(PRIORITY_CHRONIC_CARE),
        "CALLCENTER_QUEUE_MAXWAIT": "90",
        "CALLCENTER_QUEUE_OVERFLOW": "enquiries",
    }


@pytest.mark.parametrize("routing", [True, False])
async def test_without_queue_data_callers_go_to_appointments_as_before(
    database: Database, patient: Patient, routing: bool
) -> None:
    async with database.transaction() as session:
        await session.execute(update(CallQueue).values(menu_digit=None))
    agi = await _call(database, [DOB_KEYS, "0"], routing=routing)
    assert agi.variables == {"CALLCENTER_QUEUE": "appointments"}
