"""Reading patients from the console: every read goes through here and is audited."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AuditAction
from hcrm_core.services.audit import record_audit
from web_console.access import actor_for
from web_console.keys import APPOINTMENTS, DATABASE, PATIENTS, SETTINGS
from web_console.views import patient_card, patient_summary

MAX_QUERY_LENGTH = 100


def _today(request: web.Request) -> date:
    return datetime.now(request.app[SETTINGS].tz).date()


async def search_patients(request: web.Request, query: str, limit: int) -> list[dict[str, Any]]:
    """Search by name, record number or phone; the audit row lists who was shown, not the query."""
    text = query.strip()
    if not text:
        raise ValidationFailed("q", "type a name, record number or phone number")
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed("q", f"at most {MAX_QUERY_LENGTH} characters")
    patients = await request.app[PATIENTS].search(text, limit=limit)
    today = _today(request)
    results = [patient_summary(p, today) for p in patients]
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.VIEW,
        "patient_search",
        detail={"patient_ids": [p.id for p in patients]},
    )
    return results


async def view_patient(request: web.Request, patient_id: int) -> dict[str, Any]:
    """The patient's card; raises PatientNotFound. Writes one audit row per view."""
    patient = await request.app[PATIENTS].get(patient_id)
    appointments = await request.app[APPOINTMENTS].upcoming_for_patient(patient_id)
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.VIEW,
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"via": "api" if request.path.startswith("/api/") else "console"},
    )
    return patient_card(patient, appointments, _today(request))
