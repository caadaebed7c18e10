"""Segments as the console shows them: JSON for /api/v1/segments, tables for pages and CSV."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web

from hcrm_core.models import Segment
from hcrm_core.services.rfm import GROUP_LABELS
from hcrm_core.services.segments import Member, SegmentService
from hcrm_core.services.segments_definition import age_band
from web_console.keys import DATABASE, SETTINGS
from web_console.report_views import Table
from web_console.views import id_from

MEMBER_COLUMNS = (
    ("patient_id", "Patient id"),
    ("mrn", "Record number"),
    ("name", "Name"),
    ("age_band", "Age band"),
    ("language", "Language"),
    ("vip", "VIP"),
    ("chronic_care", "Chronic care"),
    ("last_visit", "Last visit"),
    ("visits", "Visits"),
    ("monetary", "Value of visits"),
    ("r", "R"),
    ("f", "F"),
    ("m", "M"),
    ("rfm_group", "RFM group"),
)


def segment_service(request: web.Request) -> SegmentService:
    return SegmentService(request.app[DATABASE], request.app[SETTINGS].tz)


def segment_id_from(request: web.Request) -> int:
    return id_from(request.match_info["segment_id"], "segment_id")


def today_of(request: web.Request) -> date:
    return datetime.now(request.app[SETTINGS].tz).date()


def segment_json(segment: Segment, members: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "definition": segment.definition,
        "updated_at": segment.updated_at.isoformat(),
    }
    if members is not None:
        body["members"] = members
    return body


def definition_summary(definition: dict[str, Any]) -> str:
    """What a stored definition selects, in a line (the list shows it when a segment has no
    description of its own)."""
    parts: list[str] = []
    labelled = (
        ("tags", "tags"),
        ("conditions", "conditions"),
        ("age_bands", "aged"),
        ("languages", "language"),
    )
    for key, label in labelled:
        if definition.get(key):
            parts.append(f"{label} {', '.join(definition[key])}")
    for key, label in (("vip", "VIP"), ("chronic_care", "chronic care")):
        if definition.get(key) is not None:
            parts.append(label if definition[key] else f"not {label}")
    if definition.get("last_visit_within_days"):
        parts.append(f"visited in the last {definition['last_visit_within_days']} days")
    if definition.get("no_visit_for_days"):
        parts.append(f"no visit for {definition['no_visit_for_days']} days")
    if definition.get("rfm_groups"):
        groups = ", ".join(GROUP_LABELS.get(g, g).lower() for g in definition["rfm_groups"])
        parts.append(f"RFM {groups}")
    bounds = {k: v for k, v in (definition.get("rfm") or {}).items() if v is not None}
    if bounds:
        parts.append("scores " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in bounds.items()))
    return " · ".join(parts)


def member_json(member: Member, today: date) -> dict[str, Any]:
    return {
        "patient_id": member.patient_id,
        "mrn": member.mrn,
        "name": member.name,
        "age_band": age_band(member.date_of_birth, today),
        "language": member.language,
        "vip": member.vip,
        "chronic_care": member.chronic_care,
        "last_visit": member.last_visit.isoformat() if member.last_visit else None,
        "visits": member.visits,
        "monetary": member.monetary_cents / 100,
        "r": member.r,
        "f": member.f,
        "m": member.m,
        "rfm_group": member.rfm_group,
    }


def members_table(members: list[Member], today: date) -> Table:
    rows = []
    for member in members:
        values = member_json(member, today)
        values["last_visit"] = values["last_visit"] and values["last_visit"][:10]
        values["rfm_group"] = GROUP_LABELS.get(member.rfm_group, member.rfm_group)
        rows.append([values[key] for key, _ in MEMBER_COLUMNS])
    return Table([key for key, _ in MEMBER_COLUMNS], [title for _, title in MEMBER_COLUMNS], rows)
