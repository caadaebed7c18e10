"""Identify the caller before anything private is said.

Caller ID finds the patient; the caller confirms with their date of birth (DDMMYYYY). No match,
several matches or a wrong date of birth: the medical record number (its digits) and the date
of birth, two tries. Whoever cannot be identified goes to an agent (who can register them).

Every wrong date of birth for a patient is counted across calls (:mod:`callcenter.ivr.lockout`);
once a patient reached ``ivr.identify_max_failures`` within the window, no date of birth is
taken for them any more: the caller goes to an agent, who checks identity in person.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import date

from callcenter.agi.context import ToAgent
from callcenter.agi.dialog import Ivr
from callcenter.ivr import prompts
from callcenter.ivr.lockout import IdentityLockout
from hcrm_core.errors import PatientNotFound
from hcrm_core.models import Patient
from hcrm_core.services.patients import PatientService

MRN_TRIES = 2
MRN_MAX_DIGITS = 12
DOB_DIGITS = 8
# Demo and site record numbers are "MRN" + digits; callers key the digits.
MRN_PREFIX = "MRN"


def parse_dob(keys: str) -> date | None:
    """DDMMYYYY as keyed by the caller, or None if it is not a date."""
    if len(keys) != DOB_DIGITS or not keys.isdigit():
        return None
    try:
        return date(int(keys[4:]), int(keys[2:4]), int(keys[:2]))
    except ValueError:
        return None


def parse_mrn(keys: str) -> str | None:
    return keys if keys.isdigit() and len(keys) >= 3 else None


async def _ask_dob(ivr: Ivr, step: str) -> date:
    return await ivr.ask(prompts.ASK_DOB, parse_dob, step=step, max_digits=DOB_DIGITS)


async def _by_mrn(patients: PatientService, digits: str) -> Patient | None:
    for mrn in (MRN_PREFIX + digits, digits):
        try:
            return await patients.get_by_mrn(mrn)
        except PatientNotFound:
            continue
    return None


async def caller_id_matches(
    ivr: Ivr, patients: PatientService, gate: asyncio.Semaphore | None = None
) -> list[Patient]:
    """The active patients whose phone is the caller ID (none when it is withheld).

    ``gate`` bounds how many calls look up at once (see ``IvrServices.lookups``)."""
    caller_id = ivr.agi.env.caller_id.strip()
    if not caller_id:
        return []
    async with gate or contextlib.nullcontext():
        return await patients.find_by_phone(caller_id)


LOCKED_STEP = "identify-locked"
LOCKED_REASON = "too many failed identity checks for this patient"


async def _refuse_if_locked(ivr: Ivr, lockout: IdentityLockout | None, patient: Patient) -> None:
    """Hand the caller to an agent, without checking a date of birth, when ``patient`` is locked."""
    if lockout is None or not await lockout.locked(patient.id):
        return
    ivr.call.failed(LOCKED_STEP)
    ivr.call.enter(LOCKED_STEP, last_failure="locked", reason=LOCKED_REASON)
    raise ToAgent(LOCKED_REASON, LOCKED_STEP)


async def _count_failure(
    ivr: Ivr, lockout: IdentityLockout | None, patient: Patient, method: str
) -> None:
    if lockout is not None:
        await lockout.failed(patient.id, linkedid=ivr.call.linkedid, method=method)


async def identify(
    ivr: Ivr,
    patients: PatientService,
    *,
    matches: Sequence[Patient] | None = None,
    lockout: IdentityLockout | None = None,
) -> Patient:
    """The confirmed patient; raises :class:`ToAgent` when the caller cannot be identified.

    ``matches`` are the caller-ID matches when the caller already looked them up; ``lockout``
    counts wrong dates of birth per patient across calls and refuses a locked patient."""
    call = ivr.call
    if matches is None:
        matches = await caller_id_matches(ivr, patients)
    if len(matches) == 1:
        call.tried_to("identify-caller-id")
        await _refuse_if_locked(ivr, lockout, matches[0])
        dob = await _ask_dob(ivr, "identify-dob")
        if dob == matches[0].date_of_birth and matches[0].active:
            call.identified(matches[0].id, "caller-id")
            await ivr.play(prompts.IDENTIFIED)
            return matches[0]
        await _count_failure(ivr, lockout, matches[0], "caller-id")
        call.failed("identify-dob")
        call.enter("identify-dob", last_failure="dob-mismatch")
        await ivr.play(prompts.IDENTIFY_FAILED)
    else:
        call.enter("identify", caller_id_matches=len(matches))
        await ivr.play(prompts.NOT_RECOGNISED)

    call.tried_to("identify-mrn")
    for _ in range(MRN_TRIES):
        digits = await ivr.ask(
            prompts.ASK_MRN, parse_mrn, step="identify-mrn", max_digits=MRN_MAX_DIGITS
        )
        dob = await _ask_dob(ivr, "identify-mrn-dob")
        patient = await _by_mrn(patients, digits)
        if patient is not None:
            # Asked before the lookup, the date of birth is not compared for a locked patient.
            await _refuse_if_locked(ivr, lockout, patient)
        if patient is not None and patient.active and patient.date_of_birth == dob:
            call.identified(patient.id, "mrn")
            await ivr.play(prompts.IDENTIFIED)
            return patient
        if patient is not None:
            await _count_failure(ivr, lockout, patient, "mrn")
        call.failed("identify-mrn")
        call.enter("identify-mrn", last_failure="no-match")
        await ivr.play(prompts.IDENTIFY_FAILED)
    raise ToAgent("caller not identified", "identify-mrn")
