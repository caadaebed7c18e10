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
            "chronic_care": patient.chronic_care,
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


def ascii_int(raw: str, *, max_digits: int = 12) -> int | None:
    """``raw`` as a number when it is 1 to ``max_digits`` ASCII digits, else None.

    ``str.isdigit`` and ``int`` accept every script's digits: '²' passes ``isdigit`` and then
    breaks ``int`` (a 500), full-width '１' becomes 1 (another spelling of the same id). Every
    id and number the console reads from a path, query or form goes through here.
    """
    if not raw or len(raw) > max_digits or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)


def id_from(raw: str, field: str) -> int:
    """An id from a path or query; a 422 naming ``field`` unless it is ASCII digits."""
    value = ascii_int(raw)
    if value is None:
        raise ValidationFailed(field, "must be a positive whole number")
    return value


def int_param(raw: str | None, name: str, *, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    value = ascii_int(raw)
    if value is None:
        raise ValidationFailed(name, "must be a whole number")
    if not low <= value <= high:
        raise ValidationFailed(name, f"must be between {low} and {high}")
    return value


def patient_id_from(request: web.Request) -> int:
    return id_from(request.match_info["patient_id"], "patient_id")
