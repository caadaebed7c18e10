"""Patients as the console shows them: one shape for the card page and the JSON API."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from callcenter.agents.pop_card import (
    allergy_lines,
    candidate_view,
    condition_lines,
    doctor_name,
    primary_phone,
)
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Appointment, Patient


def patient_summary(patient: Patient, today: date) -> dict[str, Any]:
    """What a search result shows: enough to pick the right person, no clinical details."""
    primary = primary_phone(patient)
    return {
        **candidate_view(patient, today),
        "sex": patient.sex.value,
        "phone": primary.e164 if primary else None,
        "vip": patient.vip,
    }


def appointment_view(appointment: Appointment) -> dict[str, Any]:
    return {
        "id": appointment.id,
        "starts_at": appointment.starts_at.isoformat(),
        "department": appointment.department.name,
        "doctor": doctor_name(appointment.doctor),
        "status": appointment.status.value,
    }


def patient_card(patient: Patient, appointments: list[Appointment], today: date) -> dict[str, Any]:
    """The full card: identity, flags, allergies, conditions, phones, upcoming appointments."""
    card = patient_summary(patient, today)
    card.update(
        {
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "preferred_language": patient.preferred_language,
            "do_not_call": patient.do_not_call,
            "consent_call": patient.consent_call,
            "active": patient.active,
            "allergies": allergy_lines(patient),
            "conditions": condition_lines(patient),
            "phones": [
                {"number": p.e164, "kind": p.kind.value, "primary": p.is_primary}
                for p in patient.phones
            ],
            "appointments": [appointment_view(a) for a in appointments],
        }
    )
    return card


def only_params(request: web.Request, allowed: set[str]) -> None:
    """Refuse query parameters the route does not know, naming the first one."""
    for name in request.query:
        if name not in allowed:
            raise ValidationFailed(
                name, f"unknown parameter; allowed: {', '.join(sorted(allowed))}"
            )


def int_param(raw: str | None, name: str, *, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(name, "must be a whole number") from None
    if not low <= value <= high:
        raise ValidationFailed(name, f"must be between {low} and {high}")
    return value


def patient_id_from(request: web.Request) -> int:
    raw = request.match_info["patient_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationFailed("patient_id", "must be a positive whole number")
    return int(raw)
