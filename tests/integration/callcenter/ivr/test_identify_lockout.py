"""The IVR's identity lockout across calls, on SQLite and PostgreSQL.

A caller ID can be spoofed and a date of birth guessed call after call: every wrong date of
birth for a patient is an audit row, and once ``ivr.identify_max_failures`` of them fall within
the window, the IVR takes no date of birth for that patient any more and hands the caller to an
agent, saying why. Dialogs run against a scripted AGI channel (as in
tests/unit/callcenter/ivr/) over the real database.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import select

from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext, ToAgent
from callcenter.agi.localised import LocalisedIvr
from callcenter.bus import EventBus
from callcenter.calls.state import IvrProgress
from callcenter.ivr import prompts
from callcenter.ivr.flows.identify import LOCKED_STEP, identify
from callcenter.ivr.flows.main_menu import QUEUE_VARIABLE, IvrServices, inbound
from callcenter.ivr.lockout import ENTITY, IdentityLockout
from callcenter.settings import IvrSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AuditAction, AuditEvent, Patient
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.patients import PatientService
from tests.support.factories import make_patient

PHONE = "+12125550142"
DOB = date(1961, 4, 2)
DOB_KEYS = "02041961"
WRONG_DOB = "01011970"
MRN_DIGITS = "424242"


class ScriptedAgi:
    """A channel whose caller presses ``keys`` in turn; records prompts and variables."""

    def __init__(self, keys: list[str], linkedid: str) -> None:
        self.keys = deque(keys)
        self.asked: list[str] = []
        self.played: list[str] = []
        self.variables: dict[str, str] = {}
        self.linkedid = linkedid
        self.env = SimpleNamespace(caller_id=PHONE)

    async def answer(self) -> None:
        return None

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        self.played.append(prompt)
        return None

    async def get_data(self, prompt: str, *, timeout_ms: int, max_digits: int) -> str | None:
        self.asked.append(prompt)
        assert self.keys, f"the dialog asked for more keys than scripted ({prompt})"
        return self.keys.popleft()

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return None

    async def say_datetime(self, epoch: int, **_: Any) -> str | None:
        return None


class Bus:
    def __init__(self) -> None:
        self.published: list[IvrProgress] = []

    def publish(self, item: IvrProgress) -> None:
        self.published.append(item)


@pytest.fixture
async def patient(database: Database) -> Patient:
    return await make_patient(
        database, BookingPolicy(), phones=(PHONE,), date_of_birth=DOB, mrn=f"MRN{MRN_DIGITS}"
    )


def _lockout(database: Database, max_failures: int = 5) -> IdentityLockout:
    return IdentityLockout(
        database, IvrSettings(identify_max_failures=max_failures, identify_window_hours=24)
    )


async def _identify(
    database: Database, lockout: IdentityLockout | None, keys: list[str], linkedid: str
) -> tuple[ScriptedAgi, Bus, Patient | ToAgent]:
    agi, bus = ScriptedAgi(keys, linkedid), Bus()
    ivr = LocalisedIvr(cast(AgiChannel, agi), CallContext(linkedid, cast(EventBus, bus)))
    try:
        outcome: Patient | ToAgent = await identify(
            ivr, PatientService(database, BookingPolicy()), lockout=lockout
        )
    except ToAgent as transfer:
        outcome = transfer
    return agi, bus, outcome


# One call that fails everything: the caller-ID date of birth, then the record number twice.
ALL_WRONG = [WRONG_DOB, MRN_DIGITS, WRONG_DOB, MRN_DIGITS, WRONG_DOB]


async def test_wrong_dates_of_birth_across_calls_lock_the_patient_out(
    database: Database, patient: Patient
) -> None:
    lockout = _lockout(database)
    _, _, first = await _identify(database, lockout, ALL_WRONG, "call-1")
    assert isinstance(first, ToAgent) and first.step == "identify-mrn"
    assert await lockout.failures(patient.id) == 3

    # Second call: failures 4 and 5; at the record number's second try the patient is locked
    # and the date of birth keyed there is not even compared.
    _, bus, second = await _identify(database, lockout, ALL_WRONG, "call-2")
    assert isinstance(second, ToAgent) and second.step == LOCKED_STEP
    assert await lockout.failures(patient.id) == 5
    locked = [p for p in bus.published if p.step == LOCKED_STEP]
    assert (
        locked and locked[0].context["reason"] == "too many failed identity checks for this patient"
    )

    # Third call, with the right date of birth: it is never asked for.
    agi, bus, third = await _identify(database, lockout, [DOB_KEYS], "call-3")
    assert isinstance(third, ToAgent) and third.step == LOCKED_STEP
    assert agi.asked == [] and list(agi.keys) == [DOB_KEYS]
    assert not [p for p in bus.published if p.step == "identified"]
    assert await lockout.failures(patient.id) == 5  # a refused call adds nothing

    # The failures are audit rows of the patient, each with its call.
    async with database.session() as session:
        rows = (await session.scalars(select(AuditEvent).where(AuditEvent.entity == ENTITY))).all()
    assert len(rows) == 5
    assert {row.source for row in rows} == {"call-1", "call-2"}
    assert {row.patient_id for row in rows} == {patient.id}


async def test_a_right_date_of_birth_below_the_limit_still_identifies(
    database: Database, patient: Patient
) -> None:
    lockout = _lockout(database)
    await _identify(database, lockout, ALL_WRONG, "call-1")
    _, _, outcome = await _identify(database, lockout, [DOB_KEYS], "call-2")
    assert isinstance(outcome, Patient) and outcome.id == patient.id


async def test_failures_older_than_the_window_do_not_count(
    database: Database, patient: Patient
) -> None:
    lockout = _lockout(database, max_failures=2)
    long_ago = datetime.now(UTC) - timedelta(hours=25)
    async with database.transaction() as session:
        for _ in range(3):
            session.add(
                AuditEvent(
                    at=long_ago,
                    actor="ivr",
                    action=AuditAction.LOGIN,
                    entity=ENTITY,
                    entity_id=str(patient.id),
                    patient_id=patient.id,
                    detail={"outcome": "failed"},
                )
            )
    assert await lockout.failures(patient.id) == 0
    assert await lockout.failures(patient.id, now=long_ago + timedelta(minutes=1)) == 3
    _, _, outcome = await _identify(database, lockout, [DOB_KEYS], "call-1")
    assert isinstance(outcome, Patient)


async def test_other_audit_rows_of_the_patient_do_not_count(
    database: Database, patient: Patient
) -> None:
    lockout = _lockout(database, max_failures=1)
    async with database.transaction() as session:
        session.add(
            AuditEvent(
                actor="user:alice",
                action=AuditAction.VIEW,
                entity="patient",
                entity_id=str(patient.id),
                patient_id=patient.id,
                detail={},
            )
        )
    assert not await lockout.locked(patient.id)
    await lockout.failed(patient.id, linkedid="call-0", method="caller-id")
    assert await lockout.locked(patient.id)
    assert not await _lockout(database, max_failures=0).locked(patient.id)


async def test_a_locked_caller_is_handed_to_an_agent_who_is_told_why(
    database: Database, patient: Patient
) -> None:
    lockout = _lockout(database, max_failures=1)
    await lockout.failed(patient.id, linkedid="call-0", method="caller-id")
    agi, bus = ScriptedAgi(["1", DOB_KEYS], "call-1"), Bus()
    services = IvrServices(
        patients=PatientService(database, BookingPolicy()),
        booking=None,  # type: ignore[arg-type]
        cancelling=None,  # type: ignore[arg-type]
        lockout=lockout,
    )
    await inbound(cast(AgiChannel, agi), bus=cast(EventBus, bus), services=services)
    assert agi.variables[QUEUE_VARIABLE] == "appointments"
    assert prompts.TO_AGENT in agi.played
    assert prompts.ASK_DOB not in agi.asked
    (left,) = [p for p in bus.published if p.left]
    assert left.step == "to-agent"
    assert left.context["failed_at"] == LOCKED_STEP
    assert left.context["reason"] == "too many failed identity checks for this patient"
    assert left.patient_id is None  # never identified


async def test_lockout_rows_are_written_as_the_ivr_with_the_call(
    database: Database, patient: Patient
) -> None:
    await _lockout(database).failed(patient.id, linkedid="1700000000.9", method="mrn")
    async with database.session() as session:
        (row,) = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.patient_id == patient.id)
                .where(AuditEvent.entity == ENTITY)
            )
        ).all()
    assert (row.actor, row.source, row.action, row.entity) == (
        Actor.ivr().label,
        "1700000000.9",
        AuditAction.LOGIN,
        ENTITY,
    )
