"""The doctors' pages: ``/admin/doctors`` (list by department, create) and
``/admin/doctors/{id}`` (details, the week as a grid, weekly sessions, exceptions).

Admins change everything; supervisors read, and keep exceptions (leave, sick days, extra
sessions). Plain forms: a refused field is shown beside it with what was typed kept; after a
change the page says what happened, and when booked appointments now conflict with the
schedule it links to /admin/schedule-conflicts. ``routes`` also holds the departments page
and the JSON API, so the app registers this module alone.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Doctor, ExceptionKind, Role
from hcrm_core.services.doctors_admin import Changed
from hcrm_core.services.doctors_schedules import DOCTOR_EXCEPTION_KINDS
from web_console.access import ADMINS, SUPERVISORS, allow, require_session
from web_console.doctors_fields import (
    Fields,
    doctor_fields,
    exception_fields,
    template_fields,
)
from web_console.doctors_services import DoctorServices, doctor_services
from web_console.doctors_views import (
    KIND_LABELS,
    NOTICES,
    affected_ids,
    exception_view,
    hhmm,
    week_grid,
)
from web_console.pages import render
from web_console.routes import departments_admin, doctors_api
from web_console.routes.doctors_api import CONFLICTS_PAGE
from web_console.views import ascii_int

_pages = web.RouteTableDef()
PAGE = "/admin/doctors"
_DOCTOR_FORM = ("department_id", "title", "given_name", "family_name", "specialty")
_TEMPLATE_FORM = (
    "weekday",
    "start_time",
    "end_time",
    "slot_minutes",
    "location",
    "valid_from",
    "valid_until",
)
_EXCEPTION_FORM = (
    "kind",
    "starts_on",
    "ends_on",
    "start_time",
    "end_time",
    "slot_minutes",
    "location",
    "reason",
)
_NEW_TEMPLATE = {"weekday": "0", "start_time": "09:00", "end_time": "12:00", "slot_minutes": "15"}
_NEW_EXCEPTION = {"kind": ExceptionKind.LEAVE.value}


def _path_id(request: web.Request, name: str) -> int:
    value = ascii_int(request.match_info[name])
    if value is None:
        raise web.HTTPNotFound(text="no such page")
    return value


def _error(exc: ValidationFailed) -> dict[str, str]:
    return {exc.field: exc.message.removeprefix(f"{exc.field}: ")}


def _kept(fields: Fields, names: tuple[str, ...]) -> dict[str, str]:
    raw = fields.raw()
    return {name: raw.get(name, "") for name in names}


def _done(
    doctor_id: int, what: str, change: Changed[Any] | None = None, anchor: str = ""
) -> web.HTTPSeeOther:
    """The redirect back to the doctor's page, saying what was done and what it hit."""
    affected = change.affected_appointments if change else []
    query = f"saved={what}"
    if affected:
        query += "&affected=" + ",".join(str(i) for i in affected)
    return web.HTTPSeeOther(f"{PAGE}/{doctor_id}?{query}{anchor}")


def _doctor_form(doctor: Doctor) -> dict[str, str]:
    return {
        "department_id": str(doctor.department_id),
        "title": doctor.title,
        "given_name": doctor.given_name,
        "family_name": doctor.family_name,
        "specialty": doctor.specialty,
    }


# -- the list ---------------------------------------------------------------------------------


async def _list_page(
    request: web.Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    services = doctor_services(request)
    raw_department = request.query.get("department", "")
    department_id = ascii_int(raw_department)
    show = request.query.get("show", "active")
    active = {"active": True, "inactive": False}.get(show)
    text = request.query.get("q", "").strip()[:100]
    departments = await services.doctors.departments()
    doctors = await services.doctors.doctors(
        department_id=department_id, active=active, text=text or None
    )
    groups: dict[int, list[Doctor]] = {}
    for doctor in doctors:
        groups.setdefault(doctor.department_id, []).append(doctor)
    context = {
        "departments": departments,
        "active_departments": [d for d in departments if d.active],
        "groups": [(d, groups[d.id]) for d in departments if d.id in groups],
        "sessions": await services.week.session_counts(),
        "filters": {"department": raw_department, "show": show, "q": text},
        "form": form or {"title": "Dr."},
        "errors": errors or {},
        "can_edit": services.editor.role == Role.ADMIN,
    }
    return render(request, "admin_doctors.html", context, status=status)


@_pages.get(PAGE)
@allow(SUPERVISORS)
async def doctors_page(request: web.Request) -> web.Response:
    return await _list_page(request)


@_pages.post(PAGE)
@allow(ADMINS)
async def create_doctor(request: web.Request) -> web.Response:
    services = doctor_services(request)
    fields = await Fields.from_form(request)
    kept = _kept(fields, _DOCTOR_FORM)
    try:
        doctor = await services.doctors.create_doctor(doctor_fields(fields), services.editor)
    except ValidationFailed as exc:
        return await _list_page(request, form=kept, errors=_error(exc), status=exc.http_status)
    raise _done(doctor.id, "created", anchor="#week")


# -- one doctor -------------------------------------------------------------------------------


async def _doctor_page(
    request: web.Request,
    doctor_id: int,
    *,
    forms: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    status: int = 200,
) -> web.Response:
    services = doctor_services(request)
    doctor = await services.doctors.doctor(doctor_id)
    templates = await services.week.templates(doctor_id)
    forms = dict(forms or {})
    editing = ascii_int(request.query.get("edit_template", ""))
    edited = next((t for t in templates if t.id == editing), None)
    if "template" not in forms:
        forms["template"] = _template_form(edited) if edited else dict(_NEW_TEMPLATE)
    else:
        edited = next((t for t in templates if str(t.id) == forms.get("_template_id")), None)
    forms.setdefault("exception", dict(_NEW_EXCEPTION))
    forms.setdefault("doctor", _doctor_form(doctor))
    context = {
        "doctor": doctor,
        "departments": [
            d
            for d in await services.doctors.departments()
            if d.active or d.id == doctor.department_id
        ],
        "week": week_grid(templates),
        "templates": templates,
        "edited": edited,
        "exceptions": [
            exception_view(e, services.tz) for e in await services.week.exceptions(doctor_id)
        ],
        "kinds": [(k.value, KIND_LABELS[k]) for k in DOCTOR_EXCEPTION_KINDS],
        "weekdays": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        "forms": forms,
        "errors": {"doctor": {}, "template": {}, "exception": {}, "active": {}, **(errors or {})},
        "notice": NOTICES.get(request.query.get("saved", "")),
        "affected": affected_ids(request.query.get("affected")),
        "conflicts_page": CONFLICTS_PAGE,
        "can_edit": require_session(request).role == Role.ADMIN,
        "hhmm": hhmm,
    }
    return render(request, "admin_doctor.html", context, status=status)


def _template_form(template: Any) -> dict[str, str]:
    def clock(value: time) -> str:
        return hhmm(value)

    return {
        "weekday": str(template.weekday),
        "start_time": clock(template.start_time),
        "end_time": clock(template.end_time),
        "slot_minutes": str(template.slot_minutes),
        "location": template.location or "",
        "valid_from": template.valid_from.isoformat() if template.valid_from else "",
        "valid_until": template.valid_until.isoformat() if template.valid_until else "",
    }


@_pages.get(f"{PAGE}/{{doctor_id}}")
@allow(SUPERVISORS)
async def doctor_page(request: web.Request) -> web.Response:
    return await _doctor_page(request, _path_id(request, "doctor_id"))


@_pages.post(f"{PAGE}/{{doctor_id}}")
@allow(ADMINS)
async def save_doctor(request: web.Request) -> web.Response:
    doctor_id = _path_id(request, "doctor_id")
    services = doctor_services(request)
    fields = await Fields.from_form(request)
    kept = _kept(fields, _DOCTOR_FORM)
    try:
        await services.doctors.update_doctor(doctor_id, doctor_fields(fields), services.editor)
    except ValidationFailed as exc:
        return await _doctor_page(
            request,
            doctor_id,
            forms={"doctor": kept},
            errors={"doctor": _error(exc)},
            status=exc.http_status,
        )
    raise _done(doctor_id, "doctor")


@_pages.post(f"{PAGE}/{{doctor_id}}/{{action:deactivate|reactivate}}")
@allow(ADMINS)
async def doctor_activation(request: web.Request) -> web.Response:
    doctor_id = _path_id(request, "doctor_id")
    services = doctor_services(request)
    active = request.match_info["action"] == "reactivate"
    try:
        change = await services.doctors.set_doctor_active(doctor_id, active, services.editor)
    except ValidationFailed as exc:
        return await _doctor_page(
            request, doctor_id, errors={"active": _error(exc)}, status=exc.http_status
        )
    raise _done(doctor_id, "reactivated" if active else "deactivated", change)


async def _week_change(
    request: web.Request, services: DoctorServices, doctor_id: int, template_id: int | None
) -> web.Response:
    fields = await Fields.from_form(request)
    kept = _kept(fields, _TEMPLATE_FORM)
    try:
        parsed = template_fields(fields)
        if template_id is None:
            change = await services.week.add_template(doctor_id, parsed, services.editor)
        else:
            change = await services.week.update_template(
                doctor_id, template_id, parsed, services.editor
            )
    except ValidationFailed as exc:
        kept["_template_id"] = str(template_id or "")
        return await _doctor_page(
            request,
            doctor_id,
            forms={"template": kept},
            errors={"template": _error(exc)},
            status=exc.http_status,
        )
    raise _done(doctor_id, "template-saved" if template_id else "template-added", change, "#week")


@_pages.post(f"{PAGE}/{{doctor_id}}/templates")
@allow(ADMINS)
async def add_template(request: web.Request) -> web.Response:
    doctor_id = _path_id(request, "doctor_id")
    return await _week_change(request, doctor_services(request), doctor_id, None)


@_pages.post(f"{PAGE}/{{doctor_id}}/templates/{{template_id}}")
@allow(ADMINS)
async def save_template(request: web.Request) -> web.Response:
    doctor_id, template_id = _path_id(request, "doctor_id"), _path_id(request, "template_id")
    return await _week_change(request, doctor_services(request), doctor_id, template_id)


@_pages.post(f"{PAGE}/{{doctor_id}}/templates/{{template_id}}/delete")
@allow(ADMINS)
async def remove_template(request: web.Request) -> web.Response:
    doctor_id, template_id = _path_id(request, "doctor_id"), _path_id(request, "template_id")
    services = doctor_services(request)
    change = await services.week.delete_template(doctor_id, template_id, services.editor)
    raise _done(doctor_id, "template-removed", change, "#week")


@_pages.post(f"{PAGE}/{{doctor_id}}/exceptions")
@allow(SUPERVISORS)
async def add_exception(request: web.Request) -> web.Response:
    doctor_id = _path_id(request, "doctor_id")
    services = doctor_services(request)
    fields = await Fields.from_form(request)
    kept = _kept(fields, _EXCEPTION_FORM)
    try:
        change = await services.week.add_exception(
            doctor_id, exception_fields(fields), services.editor
        )
    except ValidationFailed as exc:
        return await _doctor_page(
            request,
            doctor_id,
            forms={"exception": kept},
            errors={"exception": _error(exc)},
            status=exc.http_status,
        )
    raise _done(doctor_id, "exception-added", change, "#exceptions")


@_pages.post(f"{PAGE}/{{doctor_id}}/exceptions/{{exception_id}}/delete")
@allow(SUPERVISORS)
async def remove_exception(request: web.Request) -> web.Response:
    doctor_id, exception_id = _path_id(request, "doctor_id"), _path_id(request, "exception_id")
    services = doctor_services(request)
    change = await services.week.delete_exception(doctor_id, exception_id, services.editor)
    raise _done(doctor_id, "exception-removed", change, "#exceptions")


routes = [*_pages, *departments_admin.routes, *doctors_api.routes]
