"""Review and cancel: hear upcoming appointments, pick one, confirm, cancel.

Three appointments are read at a time ("option 1, Cardiology, Monday November 23 at 9 AM, with
doctor Ada Heart"); 9 hears more (the last page wraps round), 8 goes back to the main menu.
An appointment past the cancellation cut-off is explained (the hospital's hours, said by
Asterisk) rather than offered for confirmation; the service enforces the same rule at commit
(:class:`CancellationTooLate`) should the cut-off pass while the caller listens. Nothing is
written before the caller confirms, and the cancellation is one transaction (channel ``ivr``,
audited by the service), so a hang-up leaves the appointment as it was.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from callcenter.agi.context import ToAgent
from callcenter.agi.dialog import SayDateTime, SayDigits, Segment
from callcenter.agi.localised import LocalisedIvr
from callcenter.ivr import prompts
from hcrm_core.actors import Actor
from hcrm_core.errors import AppointmentNotActive, CancellationTooLate, DomainError
from hcrm_core.models import Appointment, Channel, Patient
from hcrm_core.services.appointments import AppointmentService

if TYPE_CHECKING:
    from callcenter.ivr.speech_input import SpeechByLanguage

PAGE_SIZE = 3
MORE_KEY = "9"
BACK_KEY = "8"
_MORE = -1
_BACK = -2
CANCEL_REASON = "cancelled by the patient on the phone line"


@dataclass(frozen=True)
class CancelServices:
    appointments: AppointmentService
    timezone: str
    # Yes or no said instead of 1 or 2 at the confirmation, per caller language (None: keypad
    # only).
    speech: SpeechByLanguage | None = None


class Outcome(enum.Enum):
    CANCELLED = "cancelled"
    KEPT = "kept"
    NOT_POSSIBLE = "not-possible"


def _describe(appointment: Appointment, timezone: str) -> list[Segment]:
    return [
        prompts.department_prompt(appointment.department.code),
        SayDateTime(appointment.starts_at, timezone),
        prompts.WITH_DOCTOR,
        prompts.doctor_prompt(appointment.doctor_id),
    ]


def _listing(shown: list[Appointment], timezone: str) -> list[Segment]:
    segments: list[Segment] = [prompts.UPCOMING]
    for number, appointment in enumerate(shown, start=1):
        segments += [prompts.OPTION, SayDigits(str(number)), *_describe(appointment, timezone)]
    segments.append(prompts.REVIEW_MENU)
    return segments


async def _explain_cutoff(
    ivr: LocalisedIvr, services: CancelServices, appointment: Appointment
) -> None:
    deadline = services.appointments.cancellation_deadline(appointment)
    hours = round((appointment.starts_at - deadline).total_seconds() / 3600)
    ivr.call.enter("cancel-too-late", appointment_id=appointment.id, cutoff_hours=hours)
    await ivr.play(prompts.CUTOFF_BEFORE)
    await ivr.say_number(hours)
    await ivr.play(prompts.CUTOFF_AFTER)


async def _cancel_one(
    ivr: LocalisedIvr, services: CancelServices, appointment: Appointment
) -> Outcome:
    """Confirm and cancel one appointment (or explain why it cannot be)."""
    call = ivr.call
    call.enter("cancel-confirm", appointment_id=appointment.id)
    if datetime.now(UTC) > services.appointments.cancellation_deadline(appointment):
        await _explain_cutoff(ivr, services, appointment)
        return Outcome.NOT_POSSIBLE
    confirmed = await ivr.confirm(
        [
            prompts.department_prompt(appointment.department.code),
            SayDateTime(appointment.starts_at, services.timezone),
            prompts.CONFIRM_CANCEL,
        ],
        step="cancel-confirm",
        speech=speech.yes_no()
        if services.speech and (speech := services.speech.for_language(ivr.language))
        else None,
    )
    if not confirmed:
        return Outcome.KEPT
    try:
        await services.appointments.cancel(
            appointment.id,
            actor=Actor.ivr(call.linkedid),
            channel=Channel.IVR,
            reason=CANCEL_REASON,
        )
    except CancellationTooLate:
        await _explain_cutoff(ivr, services, appointment)
        return Outcome.NOT_POSSIBLE
    except AppointmentNotActive:
        call.enter("cancel-failed", error="AppointmentNotActive", appointment_id=appointment.id)
        await ivr.play(prompts.ALREADY_CANCELLED)
        return Outcome.NOT_POSSIBLE
    except DomainError as exc:
        call.enter("cancel-failed", error=type(exc).__name__, appointment_id=appointment.id)
        await ivr.play(prompts.CANCEL_FAILED)
        raise ToAgent(f"cancel failed: {type(exc).__name__}", "cancel-commit") from exc
    call.enter("cancelled", appointment_id=appointment.id)
    await ivr.play(prompts.CANCELLED)
    return Outcome.CANCELLED


async def review_and_cancel(
    ivr: LocalisedIvr, services: CancelServices, patient: Patient
) -> Appointment | None:
    """The appointment the caller cancelled, or None to go back to the main menu (nothing
    upcoming, the caller pressed 8, or the one they chose could not be cancelled)."""
    call = ivr.call
    call.tried_to("review")
    upcoming = await services.appointments.upcoming_for_patient(patient.id)
    if not upcoming:
        call.enter("review-none")
        await ivr.play(prompts.NO_UPCOMING)
        return None
    call.enter("review-list", upcoming=len(upcoming))
    pages = -(-len(upcoming) // PAGE_SIZE)
    page = 0
    while True:
        shown = upcoming[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        options = {str(n): page * PAGE_SIZE + n - 1 for n in range(1, len(shown) + 1)}
        options |= {MORE_KEY: _MORE, BACK_KEY: _BACK}
        chosen = await ivr.menu(_listing(shown, services.timezone), options, step="review-list")
        if chosen == _BACK:
            return None
        if chosen == _MORE:
            page = (page + 1) % pages
            continue
        outcome = await _cancel_one(ivr, services, upcoming[chosen])
        if outcome is Outcome.CANCELLED:
            return upcoming[chosen]
        if outcome is Outcome.NOT_POSSIBLE:
            return None
