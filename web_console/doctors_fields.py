"""Reading departments, doctors, weekly sessions and exceptions from a JSON body or a form.

One reader for both (:class:`Fields`): the API sends JSON types, a page's form sends strings;
each refusal names the field (a 422 for a bad value, a 400 for a body that cannot be read).
An update reads each field with the current value as its default, so the API's PATCH may send
only what changes. The JSON shapes the API answers with are here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time, tzinfo
from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Department, Doctor, ExceptionKind, ScheduleException, ScheduleTemplate
from hcrm_core.services.doctors_admin import DepartmentFields, DoctorFields
from hcrm_core.services.doctors_schedules import ExceptionFields, TemplateFields
from web_console.json_body import MAX_BODY, parse_json
from web_console.keys import CSRF_FIELD
from web_console.views import ascii_int

_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_UNSET: Any = object()


class Fields:
    """Named values from a JSON object (``form=False``) or a form (every value a string)."""

    def __init__(self, values: Mapping[str, Any], *, form: bool) -> None:
        self._values = {k: v for k, v in values.items() if not (form and k == CSRF_FIELD)}
        self._form = form
        self._read: set[str] = set()

    @classmethod
    async def from_json(cls, request: web.Request) -> Fields:
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise ValidationFailed("body", f"at most {MAX_BODY} bytes")
        values = parse_json(raw, "body") if raw.strip() else {}
        if not isinstance(values, dict):
            raise ValidationFailed("body", "must be a JSON object")
        return cls(values, form=False)

    @classmethod
    async def from_form(cls, request: web.Request) -> Fields:
        form = await request.post()
        return cls({k: v for k, v in form.items() if isinstance(v, str)}, form=True)

    def raw(self) -> dict[str, str]:
        """The submitted values as text, to fill a form again after a refusal."""
        return {k: v if isinstance(v, str) else str(v) for k, v in self._values.items()}

    def _get(self, name: str, default: Any) -> Any:
        """The value, ``default`` when absent; a form's empty string counts as absent (None)."""
        self._read.add(name)
        if name not in self._values:
            return default
        value = self._values[name]
        if self._form and isinstance(value, str) and not value.strip():
            return None
        return value

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._get(name, default)
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(name, "must be a string")
        return value

    def integer(self, name: str, default: int | None = _UNSET) -> int | None:
        value = self._get(name, default)
        if value is _UNSET or value is None:
            if value is _UNSET:
                raise ValidationFailed(name, "is required")
            return None
        if self._form and isinstance(value, str):
            number = ascii_int(value.strip(), max_digits=6)
            if number is None:
                raise ValidationFailed(name, "must be a whole number")
            return number
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            raise ValidationFailed(name, "must be a whole number")
        return value

    def required_int(self, name: str, default: int | None = _UNSET) -> int:
        value = self.integer(name, default)
        if value is None:
            raise ValidationFailed(name, "is required")
        return value

    def day(self, name: str, default: date | None = None) -> date | None:
        value = self._get(name, default)
        if value is None or isinstance(value, date):
            return value
        if not isinstance(value, str):
            raise ValidationFailed(name, "must be a date like 2026-12-08")
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed(name, "must be a date like 2026-12-08") from None

    def clock(self, name: str, default: time | None = None) -> time | None:
        value = self._get(name, default)
        if value is None or isinstance(value, time):
            return value
        match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise ValidationFailed(name, "must be a time like 09:30 (24-hour clock)")
        return time(int(match.group(1)), int(match.group(2)))

    def required_clock(self, name: str, default: time | None = None) -> time:
        value = self.clock(name, default)
        if value is None:
            raise ValidationFailed(name, "is required")
        return value

    def words(self, name: str, default: list[str]) -> list[str]:
        """A JSON list of strings, or a form's comma-separated text."""
        value = self._get(name, default)
        if value is None:
            return []
        if isinstance(value, str) and self._form:
            return [part for part in value.split(",")]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationFailed(name, "must be a list of strings")
        return value

    def names(self, name: str, default: dict[str, str]) -> dict[str, str]:
        """A JSON object of language code to name, or a form's "zh: 心内科" lines."""
        value = self._get(name, default)
        if value is None:
            return {}
        if isinstance(value, str) and self._form:
            pairs: dict[str, str] = {}
            for line in value.splitlines():
                if not line.strip():
                    continue
                code, colon, text = line.partition(":")
                if not colon:
                    raise ValidationFailed(name, f"write one 'code: name' per line ({line!r})")
                pairs[code.strip()] = text.strip()
            return pairs
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValidationFailed(name, "must be an object of language code to name")
        return value

    def done(self) -> None:
        """Refuse fields the route does not know (a typo must not be silently ignored)."""
        for name in self._values:
            if name not in self._read:
                raise ValidationFailed(name, "unknown field")


def department_fields(fields: Fields, current: Department | None = None) -> DepartmentFields:
    result = DepartmentFields(
        code=fields.text("code", current.code if current else None) or "",
        name=fields.text("name", current.name if current else None) or "",
        names=fields.names("names", dict(current.names) if current else {}),
        synonyms=fields.words("synonyms", list(current.synonyms) if current else []),
        menu_order=fields.integer("menu_order", current.menu_order if current else 0) or 0,
    )
    fields.done()
    return result


def doctor_fields(fields: Fields, current: Doctor | None = None) -> DoctorFields:
    result = DoctorFields(
        department_id=fields.required_int(
            "department_id", current.department_id if current else _UNSET
        ),
        title=fields.text("title", current.title if current else "Dr.") or "",
        given_name=fields.text("given_name", current.given_name if current else None) or "",
        family_name=fields.text("family_name", current.family_name if current else None) or "",
        specialty=fields.text("specialty", current.specialty if current else None) or "",
    )
    fields.done()
    return result


def template_fields(fields: Fields, current: ScheduleTemplate | None = None) -> TemplateFields:
    c = current
    result = TemplateFields(
        weekday=fields.required_int("weekday", c.weekday if c else _UNSET),
        start_time=fields.required_clock("start_time", c.start_time if c else None),
        end_time=fields.required_clock("end_time", c.end_time if c else None),
        slot_minutes=fields.required_int("slot_minutes", c.slot_minutes if c else _UNSET),
        location=fields.text("location", c.location if c else None),
        valid_from=fields.day("valid_from", c.valid_from if c else None),
        valid_until=fields.day("valid_until", c.valid_until if c else None),
    )
    fields.done()
    return result


def exception_fields(fields: Fields) -> ExceptionFields:
    raw_kind = fields.text("kind")
    try:
        kind = ExceptionKind(raw_kind or "")
    except ValueError:
        raise ValidationFailed("kind", "use leave, sick, extra_session or other") from None
    starts_on = fields.day("starts_on")
    if starts_on is None:
        raise ValidationFailed("starts_on", "is required")
    result = ExceptionFields(
        kind=kind,
        starts_on=starts_on,
        ends_on=fields.day("ends_on"),
        start_time=fields.clock("start_time"),
        end_time=fields.clock("end_time"),
        slot_minutes=fields.integer("slot_minutes", None),
        location=fields.text("location"),
        reason=fields.text("reason"),
    )
    fields.done()
    return result


# -- the API's answers ------------------------------------------------------------------------


def department_json(department: Department) -> dict[str, Any]:
    return {
        "id": department.id,
        "code": department.code,
        "name": department.name,
        "names": department.names,
        "synonyms": department.synonyms,
        "menu_order": department.menu_order,
        "active": department.active,
    }


def doctor_json(doctor: Doctor, department: Department | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": doctor.id,
        "department_id": doctor.department_id,
        "title": doctor.title,
        "given_name": doctor.given_name,
        "family_name": doctor.family_name,
        "name": doctor.display_name,
        "specialty": doctor.specialty,
        "active": doctor.active,
    }
    if department is not None:
        body["department"] = {"id": department.id, "code": department.code, "name": department.name}
    return body


def _hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def template_json(template: ScheduleTemplate) -> dict[str, Any]:
    return {
        "id": template.id,
        "doctor_id": template.doctor_id,
        "weekday": template.weekday,
        "start_time": _hhmm(template.start_time),
        "end_time": _hhmm(template.end_time),
        "slot_minutes": template.slot_minutes,
        "location": template.location,
        "valid_from": template.valid_from.isoformat() if template.valid_from else None,
        "valid_until": template.valid_until.isoformat() if template.valid_until else None,
    }


def exception_json(exception: ScheduleException, tz: tzinfo) -> dict[str, Any]:
    """UTC instants, and the same span in the hospital's local time."""
    start, end = exception.starts_at.astimezone(tz), exception.ends_at.astimezone(tz)
    return {
        "id": exception.id,
        "doctor_id": exception.doctor_id,
        "kind": exception.kind.value,
        "starts_at": exception.starts_at.isoformat(),
        "ends_at": exception.ends_at.isoformat(),
        "local_start": start.isoformat(timespec="minutes"),
        "local_end": end.isoformat(timespec="minutes"),
        "slot_minutes": exception.slot_minutes,
        "location": exception.location,
        "reason": exception.reason,
    }
