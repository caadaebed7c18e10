"""The departments page, ``/admin/departments``: the list with its IVR menu order, create, edit
(``?edit=ID`` fills the form), deactivate and reactivate. Admins change; supervisors read."""

from __future__ import annotations

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Department, Role
from web_console.access import ADMINS, SUPERVISORS, allow
from web_console.doctors_fields import Fields, department_fields
from web_console.doctors_services import doctor_services
from web_console.doctors_views import NOTICES
from web_console.pages import render
from web_console.views import ascii_int

routes = web.RouteTableDef()
PAGE = "/admin/departments"
_FORM = ("code", "name", "names", "synonyms", "menu_order")


def _department_id(request: web.Request) -> int:
    value = ascii_int(request.match_info["department_id"])
    if value is None:
        raise web.HTTPNotFound(text="no such department")
    return value


def _form_of(department: Department) -> dict[str, str]:
    return {
        "code": department.code,
        "name": department.name,
        "names": "\n".join(f"{code}: {name}" for code, name in department.names.items()),
        "synonyms": ", ".join(department.synonyms),
        "menu_order": str(department.menu_order),
    }


async def _page(
    request: web.Request,
    *,
    editing: int | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    services = doctor_services(request)
    departments = await services.doctors.departments()
    if editing is None:
        editing = ascii_int(request.query.get("edit", ""))
    edited = next((d for d in departments if d.id == editing), None)
    if form is None:
        next_order = max((d.menu_order for d in departments), default=0) + 1
        form = _form_of(edited) if edited else {"menu_order": str(next_order)}
    context = {
        "departments": departments,
        "doctor_counts": await services.doctors.doctor_counts(),
        "edited": edited,
        "form": form,
        "errors": errors or {},
        "notice": NOTICES.get(request.query.get("saved", "")),
        "can_edit": services.editor.role == Role.ADMIN,
    }
    return render(request, "admin_departments.html", context, status=status)


def _error(exc: ValidationFailed) -> dict[str, str]:
    return {exc.field: exc.message.removeprefix(f"{exc.field}: ")}


@routes.get(PAGE)
@allow(SUPERVISORS)
async def departments_page(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post(PAGE)
@allow(ADMINS)
async def create_department(request: web.Request) -> web.Response:
    services = doctor_services(request)
    fields = await Fields.from_form(request)
    kept = {name: fields.raw().get(name, "") for name in _FORM}
    try:
        await services.doctors.create_department(department_fields(fields), services.editor)
    except ValidationFailed as exc:
        return await _page(request, form=kept, errors=_error(exc), status=exc.http_status)
    raise web.HTTPSeeOther(f"{PAGE}?saved=department-created")


@routes.post(f"{PAGE}/{{department_id}}")
@allow(ADMINS)
async def save_department(request: web.Request) -> web.Response:
    department_id = _department_id(request)
    services = doctor_services(request)
    fields = await Fields.from_form(request)
    kept = {name: fields.raw().get(name, "") for name in _FORM}
    try:
        await services.doctors.update_department(
            department_id, department_fields(fields), services.editor
        )
    except ValidationFailed as exc:
        return await _page(
            request, editing=department_id, form=kept, errors=_error(exc), status=exc.http_status
        )
    raise web.HTTPSeeOther(f"{PAGE}?saved=department-saved")


@routes.post(f"{PAGE}/{{department_id}}/{{action:deactivate|reactivate}}")
@allow(ADMINS)
async def department_activation(request: web.Request) -> web.Response:
    department_id = _department_id(request)
    services = doctor_services(request)
    active = request.match_info["action"] == "reactivate"
    try:
        await services.doctors.set_department_active(department_id, active, services.editor)
    except ValidationFailed as exc:
        context_errors = {"active": exc.message.removeprefix("active: ")}
        return await _page(request, errors=context_errors, status=exc.http_status)
    what = "department-reactivated" if active else "department-deactivated"
    raise web.HTTPSeeOther(f"{PAGE}?saved={what}")
