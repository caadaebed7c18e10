"""The caller's card on a screen pop, as plain data: pure functions, no I/O.

The patient fragments (age, primary phone, identity, allergies, conditions, doctor's name) are
also the web console's (``web_console.views``): one shape of a patient wherever staff see one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hcrm_core.models import (
    Appointment,
    Call,
    Complaint,
    Doctor,
    FollowUpTask,
    Patient,
    PatientPhone,
)


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def primary_phone(patient: Patient) -> PatientPhone | None:
    """The phone marked primary, else the first one, else None."""
    return next((p for p in patient.phones if p.is_primary), None) or (
        patient.phones[0] if patient.phones else None
    )


def doctor_name(doctor: Doctor) -> str:
    return f"{doctor.given_name} {doctor.family_name}".strip()


def allergy_lines(patient: Patient) -> list[dict[str, Any]]:
    return [
        {"substance": a.substance, "reaction": a.reaction, "severity": a.severity}
        for a in patient.allergies
    ]


def condition_lines(patient: Patient) -> list[dict[str, Any]]:
    return [{"code": c.code, "name": c.name} for c in patient.conditions]


def _local(moment: datetime | None, tz: ZoneInfo) -> str | None:
    """The console's one format (web_console/timefmt.py): ``Tue 8 Dec 2026, 08:30 EST``."""
    if moment is None:
        return None
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b} {local.year}, {local:%H:%M} {local.tzname()}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def candidate_view(patient: Patient, today: date) -> dict[str, Any]:
    """Enough to pick the right person from several, no clinical details."""
    return {
        "id": patient.id,
        "mrn": patient.mrn,
        "name": patient.full_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "age": age_on(patient.date_of_birth, today),
    }


def appointment_line(appointment: Appointment, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": appointment.id,
        "starts_at": appointment.starts_at.isoformat(),
        "local": _local(appointment.starts_at, tz),
        "department": appointment.department.name,
        "department_id": appointment.department_id,
        "doctor": doctor_name(appointment.doctor),
        "confirmation_code": appointment.confirmation_code,
    }


def call_line(call: Call, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "linkedid": call.linkedid,
        "started": _local(call.started_at, tz),
        "started_at": _iso(call.started_at),
        "direction": call.direction.value,
        "queue": call.queue,
        "end_reason": call.end_reason,
        "disposition": call.disposition,
    }


def complaint_line(complaint: Complaint, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": complaint.id,
        "category": complaint.category,
        "status": complaint.status.value,
        "opened": _local(complaint.created_at, tz),
        "opened_at": _iso(complaint.created_at),
        "description": complaint.description[:200],
    }


def followup_line(task: FollowUpTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "reason": task.reason,
        "priority": task.priority,
        # A due moment (inbox tasks) or an older task's due day; the pop shows the day.
        "due": (
            task.due_at.isoformat()
            if task.due_at
            else task.due_date.isoformat()
            if task.due_date
            else None
        ),
        "status": task.status.value,
    }


def patient_card(
    patient: Patient,
    *,
    appointments: list[Appointment],
    calls: list[Call],
    complaints: list[Complaint],
    followups: list[FollowUpTask],
    tz: ZoneInfo,
    today: date,
) -> dict[str, Any]:
    """Everything the agent sees about the caller on the pop."""
    primary = primary_phone(patient)
    return {
        **candidate_view(patient, today),
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "sex": patient.sex.value,
        "language": patient.preferred_language,
        "phone": primary.e164 if primary else None,
        "email": patient.email,
        "address": patient.address,
        "vip": patient.vip,
        "do_not_call": patient.do_not_call,
        "consent_call": patient.consent_call,
        "chronic": condition_lines(patient),
        "allergies": allergy_lines(patient),
        "appointments": [appointment_line(a, tz) for a in appointments],
        "last_calls": [call_line(c, tz) for c in calls],
        "complaints": [complaint_line(c, tz) for c in complaints],
        "followups": [followup_line(t) for t in followups],
    }
