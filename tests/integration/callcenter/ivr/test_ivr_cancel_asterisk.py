"""Review and cancel by phone through the real Asterisk sandbox, checked in the database.

Each caller is identified by caller ID and date of birth, presses 2 at the main menu and hears
their upcoming appointments; keys are pressed when the IVR waits (AMI PlayDTMF on AGIExecStart).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callcenter.ivr import prompts
from hcrm_core.db import Database
from hcrm_core.models import AppointmentStatus, Channel
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import HANGUP, PatientsPhone
from tests.support.ivr_rig import (
    DOB_KEYS,
    WAIT,
    LanguageRig,
    open_language_rig,
)

pytestmark = pytest.mark.asterisk
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
# Far longer than the 21 days of slots the test hospital has: every appointment is past it.
LONG_CUTOFF_HOURS = 24 * 40


@pytest.fixture
async def ivr(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[LanguageRig]:
    async with open_language_rig(database, asterisk_sandbox, patients_phone) as rig:
        yield rig


@pytest.fixture
async def strict_ivr(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[LanguageRig]:
    async with open_language_rig(
        database, asterisk_sandbox, patients_phone, cancel_cutoff_hours=LONG_CUTOFF_HOURS
    ) as rig:
        yield rig


@SQLITE_ONLY
async def test_caller_cancels_an_upcoming_appointment(ivr: LanguageRig) -> None:
    booked = await ivr.book_first_free()
    # Date of birth; main menu "review or cancel"; option 1; confirm the cancellation.
    caller = await ivr.call([DOB_KEYS, "2", "1", "1"])
    left = await ivr.left(caller.linkedid)
    assert left.step == "done", (left, caller.asked)
    assert left.context["cancelled_appointment_id"] == booked.id
    assert caller.asked == [
        prompts.ASK_DOB,
        prompts.MAIN_MENU,
        prompts.REVIEW_MENU,
        prompts.CONFIRM_CANCEL,
    ]
    played = caller.played()
    assert prompts.department_prompt("CARD") in played and prompts.CANCELLED in played
    assert any(c.startswith("SAY DATETIME") for c in caller.commands)
    cancelled = await ivr.appointment(booked.id)
    assert cancelled.status == AppointmentStatus.CANCELLED
    assert cancelled.cancel_channel == Channel.IVR and cancelled.cancelled_at is not None
    audit = (await ivr.audit_of(booked.id))[-1]
    assert audit.actor == "ivr" and audit.source == caller.linkedid
    assert audit.detail["status"] == "cancelled" and audit.detail["channel"] == "ivr"
    await ivr.rig.ended(caller.linkedid, timeout=WAIT)
    call = await ivr.rig.row(caller.linkedid)
    assert call.ivr_last_step == "done" and call.patient_id == ivr.patient.id
    assert call.ivr_context["tried"] == ["identify-caller-id", "review"]


@SQLITE_ONLY
async def test_cancel_past_the_cutoff_is_explained_and_changes_nothing(
    strict_ivr: LanguageRig,
) -> None:
    ivr = strict_ivr
    booked = await ivr.book_first_free()
    # Option 1 is past the cut-off: explained, then back to the main menu, where they hang up.
    caller = await ivr.call([DOB_KEYS, "2", "1", HANGUP])
    await ivr.rig.ended(caller.linkedid, timeout=WAIT)
    assert caller.asked == [
        prompts.ASK_DOB,
        prompts.MAIN_MENU,
        prompts.REVIEW_MENU,
        prompts.MAIN_MENU,
    ]
    played = caller.played()
    explained = played.index(prompts.CUTOFF_BEFORE)
    assert played[explained + 1] == prompts.CUTOFF_AFTER
    assert f'SAY NUMBER {LONG_CUTOFF_HOURS} ""' in caller.commands
    assert prompts.CONFIRM_CANCEL not in played
    unchanged = await ivr.appointment(booked.id)
    assert unchanged.status == AppointmentStatus.BOOKED and unchanged.cancelled_at is None
    (too_late,) = ivr.steps(caller.linkedid, "cancel-too-late")
    assert too_late.context == {"appointment_id": booked.id, "cutoff_hours": LONG_CUTOFF_HOURS}
    call = await ivr.rig.row(caller.linkedid)
    assert call.ivr_last_step == "main-menu" and call.ivr_left_at is not None


@SQLITE_ONLY
async def test_no_upcoming_appointments_says_so_and_returns_to_the_main_menu(
    ivr: LanguageRig,
) -> None:
    caller = await ivr.call([DOB_KEYS, "2", HANGUP])
    await ivr.rig.ended(caller.linkedid, timeout=WAIT)
    assert caller.asked == [prompts.ASK_DOB, prompts.MAIN_MENU, prompts.MAIN_MENU]
    played = caller.played()
    assert played[played.index(prompts.NO_UPCOMING) + 1] == prompts.MAIN_MENU
    assert len(ivr.steps(caller.linkedid, "review-none")) == 1
    assert await ivr.appointments_of(ivr.patient.id) == []


@SQLITE_ONLY
async def test_hang_up_while_confirming_a_cancel_cancels_nothing(ivr: LanguageRig) -> None:
    booked = await ivr.book_first_free()
    caller = await ivr.call([DOB_KEYS, "2", "1", HANGUP])
    ended = await ivr.rig.ended(caller.linkedid, timeout=WAIT)
    assert caller.asked[-1] == prompts.CONFIRM_CANCEL
    assert ended.reason == "caller_hung_up_in_ivr"
    unchanged = await ivr.appointment(booked.id)
    assert unchanged.status == AppointmentStatus.BOOKED and unchanged.cancelled_at is None
    assert [a.action for a in await ivr.audit_of(booked.id)] == ["create"]
    call = await ivr.rig.row(caller.linkedid)
    assert call.ivr_last_step == "cancel-confirm" and call.ivr_left_at is not None
    assert call.ivr_context["appointment_id"] == booked.id
