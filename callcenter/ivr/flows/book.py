"""Book an appointment: department, doctor or first available, a slot, confirm, commit.

Nothing is written before the caller's final confirmation, and the booking is one transaction:
a hang-up anywhere before it leaves nothing behind. A slot taken while the caller listened is
apologised for and the next ones are offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from callcenter.agi.context import ToAgent
from callcenter.agi.dialog import Ivr, SayDateTime, SayDigits, Segment, explain
from callcenter.ivr import prompts
from hcrm_core.actors import Actor
from hcrm_core.errors import DomainError, SlotTaken, SlotUnavailable
from hcrm_core.models import Appointment, Channel, Department, Doctor, Patient
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.scheduling import FreeSlot, SchedulingService

if TYPE_CHECKING:
    from callcenter.ivr.speech_input import SpeechByLanguage, SpeechInput

SLOTS_OFFERED = 3
LATER_KEY = "9"
_LATER = -1


@dataclass(frozen=True)
class BookingServices:
    scheduling: SchedulingService
    appointments: AppointmentService
    timezone: str
    # Spoken department names and yes/no per caller language (None: keypad only).
    speech: SpeechByLanguage | None = None

    def speech_for(self, ivr: Ivr) -> SpeechInput | None:
        """The speech input of the caller's language; None: keypad only."""
        return self.speech.for_language(ivr.language) if self.speech else None


async def _choose_doctor(
    ivr: Ivr, scheduling: SchedulingService, department: Department
) -> Doctor | None:
    """A doctor, or None for the first available one."""
    doctors = await scheduling.list_doctors(department.id)
    if len(doctors) <= 1:
        return None
    wants_choice = await ivr.menu(prompts.DOCTOR_MENU, {"1": False, "2": True}, step="book-doctor")
    if not wants_choice:
        return None
    return await ivr.choose(
        prompts.DOCTOR_MENU_INTRO,
        doctors,
        lambda d: prompts.doctor_prompt(d.id),
        step="book-doctor-list",
    )


def _offer(slots: list[FreeSlot], timezone: str) -> list[Segment]:
    segments: list[Segment] = [prompts.NEXT_SLOTS]
    for number, slot in enumerate(slots, start=1):
        segments += [
            prompts.OPTION,
            SayDigits(str(number)),
            SayDateTime(slot.starts_at, timezone),
            prompts.WITH_DOCTOR,
            prompts.doctor_prompt(slot.doctor_id),
        ]
    segments.append(prompts.SLOT_MENU)
    return segments


async def _pick_slot(
    ivr: Ivr, services: BookingServices, department: Department, doctor: Doctor | None
) -> FreeSlot:
    """Offer three slots at a time until the caller picks and confirms one."""
    from_time: datetime | None = None
    while True:
        slots = await services.scheduling.next_free_slots(
            department_id=department.id,
            doctor_id=doctor.id if doctor else None,
            from_time=from_time,
            limit=SLOTS_OFFERED,
        )
        if not slots:
            await ivr.play(prompts.NO_SLOTS)
            if from_time is None:
                raise ToAgent("no free slots", "book-slots")
            from_time = None  # nothing later: back to the earliest ones
            continue
        options = {str(n): n - 1 for n in range(1, len(slots) + 1)} | {LATER_KEY: _LATER}
        chosen = await ivr.menu(_offer(slots, services.timezone), options, step="book-slots")
        if chosen == _LATER:
            from_time = slots[-1].starts_at + timedelta(seconds=1)
            continue
        slot = slots[chosen]
        ivr.call.enter("book-confirm", slot_id=slot.slot_id, doctor_id=slot.doctor_id)
        confirmed = await ivr.confirm(
            [SayDateTime(slot.starts_at, services.timezone), prompts.CONFIRM_SLOT],
            step="book-confirm",
            speech=speech.yes_no() if (speech := services.speech_for(ivr)) else None,
        )
        if confirmed:
            return slot
        from_time = slots[0].starts_at


async def book(ivr: Ivr, services: BookingServices, patient: Patient) -> Appointment:
    """Run the booking dialog for an identified patient; returns the committed appointment."""
    call = ivr.call
    call.tried_to("book")
    departments = await services.scheduling.list_departments()
    if not departments:
        raise ToAgent("no departments", "book-department")
    department = await ivr.choose(
        prompts.DEPARTMENTS_INTRO,
        departments,
        lambda d: prompts.department_prompt(d.code),
        step="book-department",
        speech=speech.departments(departments) if (speech := services.speech_for(ivr)) else None,
    )
    call.enter("book-doctor", department_id=department.id)
    doctor = await _choose_doctor(ivr, services.scheduling, department)
    while True:
        slot = await _pick_slot(ivr, services, department, doctor)
        request = BookingRequest(
            patient_id=patient.id,
            slot_id=slot.slot_id,
            channel=Channel.IVR,
            actor=Actor.ivr(call.linkedid),
            call_linkedid=call.linkedid,
        )
        try:
            appointment = await services.appointments.book(request)
        except (SlotTaken, SlotUnavailable) as exc:
            call.enter("book-slot-taken", slot_id=slot.slot_id)
            await ivr.play(explain(exc))
            continue
        except DomainError as exc:
            call.enter("book-failed", error=type(exc).__name__)
            await ivr.play(explain(exc))
            raise ToAgent(f"booking failed: {type(exc).__name__}", "book-commit") from exc
        call.enter("booked", appointment_id=appointment.id)
        await ivr.play(prompts.BOOKED, prompts.CODE_IS, SayDigits(appointment.confirmation_code))
        return appointment
