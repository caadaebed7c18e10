"""/api/v1 departments and doctors, their weekly sessions and exceptions (audited changes).

Admins change departments, doctors and weekly sessions; supervisors read everything and keep
exceptions (leave, sick days, extra sessions). A change that moves a doctor's bookable time
answers with ``affected_appointments``: the booked appointments it left in conflict, to be
moved or cancelled at /admin/schedule-conflicts. The departments' list,
``GET /api/v1/departments`` (the active ones for everyone; ``?active=true|false|all`` with
every field for supervisors and admins), is routes/appointments_api.py's.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.services.doctors_admin import Changed
from hcrm_core.services.doctors_schedules import TemplateNotFound
from web_console.access import ADMINS, SUPERVISORS, allow
from web_console.doctors_fields import (
    Fields,
    department_fields,
    department_json,
    doctor_fields,
    doctor_json,
    exception_fields,
    exception_json,
    template_fields,
    template_json,
)
from web_console.doctors_services import doctor_services
from web_console.views import id_from, only_params

routes = web.RouteTableDef()
DEPARTMENTS = "/api/v1/departments"
DOCTORS = "/api/v1/doctors"
CONFLICTS_PAGE = "/admin/schedule-conflicts"


def _id(request: web.Request, name: str) -> int:
    return id_from(request.match_info[name], name)


def _changed(body: dict[str, Any], change: Changed[Any], *, status: int = 200) -> web.Response:
    affected = change.affected_appointments
    body = {**body, "affected_appointments": affected}
    if affected:
        body["conflicts_page"] = CONFLICTS_PAGE
    return web.json_response(body, status=status)


def _flag(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw in (None, "", "all"):
        return None
    if raw not in ("true", "false"):
        raise ValidationFailed(name, "use true, false or all")
    return raw == "true"


# -- departments ------------------------------------------------------------------------------


@routes.post(DEPARTMENTS)
@allow(ADMINS)
async def create_department(request: web.Request) -> web.Response:
    services = doctor_services(request)
    fields = department_fields(await Fields.from_json(request))
    department = await services.doctors.create_department(fields, services.editor)
    return web.json_response(department_json(department), status=201)


@routes.get(f"{DEPARTMENTS}/{{department_id}}")
@allow(SUPERVISORS)
async def get_department(request: web.Request) -> web.Response:
    only_params(request, set())
    department = await doctor_services(request).doctors.department(_id(request, "department_id"))
    return web.json_response(department_json(department))


@routes.patch(f"{DEPARTMENTS}/{{department_id}}")
@allow(ADMINS)
async def update_department(request: web.Request) -> web.Response:
    services = doctor_services(request)
    department_id = _id(request, "department_id")
    current = await services.doctors.department(department_id)
    fields = department_fields(await Fields.from_json(request), current)
    department = await services.doctors.update_department(department_id, fields, services.editor)
    return web.json_response(department_json(department))


@routes.post(f"{DEPARTMENTS}/{{department_id}}/{{action:deactivate|reactivate}}")
@allow(ADMINS)
async def department_activation(request: web.Request) -> web.Response:
    services = doctor_services(request)
    active = request.match_info["action"] == "reactivate"
    department = await services.doctors.set_department_active(
        _id(request, "department_id"), active, services.editor
    )
    return web.json_response(department_json(department))


# -- doctors ----------------------------------------------------------------------------------


@routes.get(DOCTORS)
@allow(SUPERVISORS)
async def list_doctors(request: web.Request) -> web.Response:
    """Doctors by department; filters: department_id, active (true/false/all), q (name)."""
    only_params(request, {"department_id", "active", "q"})
    raw_department = request.query.get("department_id")
    department_id = id_from(raw_department, "department_id") if raw_department else None
    doctors = await doctor_services(request).doctors.doctors(
        department_id=department_id,
        active=_flag(request, "active"),
        text=request.query.get("q") or None,
    )
    return web.json_response({"doctors": [doctor_json(d, d.department) for d in doctors]})


@routes.post(DOCTORS)
@allow(ADMINS)
async def create_doctor(request: web.Request) -> web.Response:
    services = doctor_services(request)
    fields = doctor_fields(await Fields.from_json(request))
    doctor = await services.doctors.create_doctor(fields, services.editor)
    return web.json_response(doctor_json(doctor), status=201)


@routes.get(f"{DOCTORS}/{{doctor_id}}")
@allow(SUPERVISORS)
async def get_doctor(request: web.Request) -> web.Response:
    """The doctor with their weekly sessions and their exceptions not yet over."""
    only_params(request, set())
    services = doctor_services(request)
    doctor_id = _id(request, "doctor_id")
    doctor = await services.doctors.doctor(doctor_id)
    body = doctor_json(doctor, doctor.department)
    body["templates"] = [template_json(t) for t in await services.week.templates(doctor_id)]
    body["exceptions"] = [
        exception_json(e, services.tz) for e in await services.week.exceptions(doctor_id)
    ]
    return web.json_response(body)


@routes.patch(f"{DOCTORS}/{{doctor_id}}")
@allow(ADMINS)
async def update_doctor(request: web.Request) -> web.Response:
    services = doctor_services(request)
    doctor_id = _id(request, "doctor_id")
    current = await services.doctors.doctor(doctor_id)
    fields = doctor_fields(await Fields.from_json(request), current)
    change = await services.doctors.update_doctor(doctor_id, fields, services.editor)
    return _changed(doctor_json(change.item), change)


@routes.post(f"{DOCTORS}/{{doctor_id}}/{{action:deactivate|reactivate}}")
@allow(ADMINS)
async def doctor_activation(request: web.Request) -> web.Response:
    services = doctor_services(request)
    active = request.match_info["action"] == "reactivate"
    change = await services.doctors.set_doctor_active(
        _id(request, "doctor_id"), active, services.editor
    )
    return _changed(doctor_json(change.item), change)


# -- weekly sessions --------------------------------------------------------------------------


@routes.get(f"{DOCTORS}/{{doctor_id}}/templates")
@allow(SUPERVISORS)
async def list_templates(request: web.Request) -> web.Response:
    only_params(request, set())
    templates = await doctor_services(request).week.templates(_id(request, "doctor_id"))
    return web.json_response({"templates": [template_json(t) for t in templates]})


@routes.post(f"{DOCTORS}/{{doctor_id}}/templates")
@allow(ADMINS)
async def create_template(request: web.Request) -> web.Response:
    services = doctor_services(request)
    doctor_id = _id(request, "doctor_id")
    fields = template_fields(await Fields.from_json(request))
    change = await services.week.add_template(doctor_id, fields, services.editor)
    return _changed(template_json(change.item), change, status=201)


@routes.patch(f"{DOCTORS}/{{doctor_id}}/templates/{{template_id}}")
@allow(ADMINS)
async def update_template(request: web.Request) -> web.Response:
    services = doctor_services(request)
    doctor_id, template_id = _id(request, "doctor_id"), _id(request, "template_id")
    current = {t.id: t for t in await services.week.templates(doctor_id)}.get(template_id)
    if current is None:
        raise TemplateNotFound(f"doctor {doctor_id} has no weekly session {template_id}")
    fields = template_fields(await Fields.from_json(request), current)
    change = await services.week.update_template(doctor_id, template_id, fields, services.editor)
    return _changed(template_json(change.item), change)


@routes.delete(f"{DOCTORS}/{{doctor_id}}/templates/{{template_id}}")
@allow(ADMINS)
async def delete_template(request: web.Request) -> web.Response:
    services = doctor_services(request)
    change = await services.week.delete_template(
        _id(request, "doctor_id"), _id(request, "template_id"), services.editor
    )
    return _changed({"deleted": change.item.id}, change)


# -- exceptions -------------------------------------------------------------------------------


@routes.get(f"{DOCTORS}/{{doctor_id}}/exceptions")
@allow(SUPERVISORS)
async def list_exceptions(request: web.Request) -> web.Response:
    only_params(request, set())
    services = doctor_services(request)
    exceptions = await services.week.exceptions(_id(request, "doctor_id"))
    return web.json_response({"exceptions": [exception_json(e, services.tz) for e in exceptions]})


@routes.post(f"{DOCTORS}/{{doctor_id}}/exceptions")
@allow(SUPERVISORS)
async def create_exception(request: web.Request) -> web.Response:
    services = doctor_services(request)
    doctor_id = _id(request, "doctor_id")
    fields = exception_fields(await Fields.from_json(request))
    change = await services.week.add_exception(doctor_id, fields, services.editor)
    return _changed(exception_json(change.item, services.tz), change, status=201)


@routes.delete(f"{DOCTORS}/{{doctor_id}}/exceptions/{{exception_id}}")
@allow(SUPERVISORS)
async def delete_exception(request: web.Request) -> web.Response:
    services = doctor_services(request)
    change = await services.week.delete_exception(
        _id(request, "doctor_id"), _id(request, "exception_id"), services.editor
    )
    return _changed({"deleted": change.item.id}, change)
