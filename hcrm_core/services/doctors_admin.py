"""Keeping departments and doctors from the console: create, edit, deactivate, reactivate.

Only admins change them (:class:`Editor` carries the role; supervisors read, and keep leave
through :mod:`hcrm_core.services.doctors_schedules`). Each change is one transaction holding
the change, its audit row and, when the doctor's bookable time moves, the slot keeper's
refresh: a refused change leaves nothing behind. Changes that can hit booked appointments
return their ids (:class:`Changed`), for the supervisor's schedule-conflicts page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import (
    DepartmentNotFound,
    DoctorNotFound,
    DomainError,
    ValidationFailed,
)
from hcrm_core.models import AuditAction, Department, Doctor, Role, Slot, utcnow
from hcrm_core.services import doctors_checks as check
from hcrm_core.services.audit import add_audit

T = TypeVar("T")


class NotAllowed(DomainError):
    code = "forbidden"
    http_status = 403


class SlotRefresher(Protocol):
    """What this service needs of the slot keeper (``hcrm_core.services.slot_keeper``)."""

    async def refresh_doctor(self, session: AsyncSession, doctor_id: int) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class Editor:
    """Who makes a change, and in which role (the role decides what they may change)."""

    actor: Actor
    role: Role

    def require_admin(self, what: str) -> None:
        if self.role != Role.ADMIN:
            raise NotAllowed(f"only admins may {what}")

    def require_supervisor(self, what: str) -> None:
        if self.role not in (Role.ADMIN, Role.SUPERVISOR):
            raise NotAllowed(f"only supervisors and admins may {what}")


@dataclass(frozen=True, slots=True)
class Changed(Generic[T]):
    """A saved change and the booked appointments it left in conflict with the schedule."""

    item: T
    affected_appointments: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DepartmentFields:
    code: str
    name: str
    names: dict[str, str] = field(default_factory=dict)
    synonyms: list[str] = field(default_factory=list)
    menu_order: int = 0


@dataclass(frozen=True, slots=True)
class DoctorFields:
    department_id: int
    given_name: str
    family_name: str
    specialty: str
    title: str = "Dr."


def changes(row: object, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set ``values`` on ``row``; the audit detail of what changed (field: [old, new])."""
    changed: dict[str, list[Any]] = {}
    for name, value in values.items():
        old = getattr(row, name)
        if old != value:
            changed[name] = [_plain(old), _plain(value)]
            setattr(row, name, value)
    return changed


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | bool | list | dict):
        return value
    return str(value)


class DoctorsAdmin:
    """Departments and doctors; ``keeper`` refreshes a doctor's slots inside each change."""

    def __init__(
        self,
        database: Database,
        keeper: SlotRefresher,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._keeper = keeper
        self._clock = clock

    # -- reading -----------------------------------------------------------------------------

    async def departments(self, *, active_only: bool = False) -> list[Department]:
        query = select(Department).order_by(Department.menu_order, Department.name)
        if active_only:
            query = query.where(Department.active.is_(True))
        async with self._db.session() as session:
            return list(await session.scalars(query))

    async def department(self, department_id: int) -> Department:
        async with self._db.session() as session:
            return await _department(session, department_id)

    async def doctor_counts(self) -> dict[int, int]:
        """Active doctors per department id."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(Doctor.department_id, func.count())
                .where(Doctor.active.is_(True))
                .group_by(Doctor.department_id)
            )
            return {department_id: count for department_id, count in rows.all()}

    async def doctors(
        self,
        *,
        department_id: int | None = None,
        active: bool | None = None,
        text: str | None = None,
    ) -> list[Doctor]:
        """Doctors by department menu order then name; ``text`` matches names and specialty."""
        query = (
            select(Doctor)
            .join(Department, Department.id == Doctor.department_id)
            .options(contains_eager(Doctor.department))
            .order_by(Department.menu_order, Department.name, Doctor.family_name, Doctor.id)
        )
        if department_id is not None:
            query = query.where(Doctor.department_id == department_id)
        if active is not None:
            query = query.where(Doctor.active.is_(active))
        if text:
            pattern = f"%{text.strip().lower()}%"
            query = query.where(
                func.lower(Doctor.given_name).like(pattern)
                | func.lower(Doctor.family_name).like(pattern)
                | func.lower(Doctor.specialty).like(pattern)
            )
        async with self._db.session() as session:
            return list(await session.scalars(query))

    async def doctor(self, doctor_id: int) -> Doctor:
        """The doctor with their department loaded."""
        async with self._db.session() as session:
            doctor = await doctor_in(session, doctor_id)
            await session.refresh(doctor, ["department"])
            return doctor

    # -- departments -------------------------------------------------------------------------

    async def create_department(self, fields: DepartmentFields, by: Editor) -> Department:
        by.require_admin("create departments")
        values = _department_values(fields)
        async with self._db.transaction() as session:
            await _code_is_free(session, values["code"], None)
            department = Department(**values, active=True)
            session.add(department)
            await session.flush()
            add_audit(
                session, by.actor, AuditAction.CREATE, "department", department.id, detail=values
            )
        return department

    async def update_department(
        self, department_id: int, fields: DepartmentFields, by: Editor
    ) -> Department:
        by.require_admin("edit departments")
        values = _department_values(fields)
        async with self._db.transaction() as session:
            department = await _department(session, department_id, for_update=True)
            await _code_is_free(session, values["code"], department_id)
            changed = changes(department, values)
            if changed:
                add_audit(
                    session,
                    by.actor,
                    AuditAction.UPDATE,
                    "department",
                    department_id,
                    detail={"changed": changed},
                )
        return department

    async def set_department_active(
        self, department_id: int, active: bool, by: Editor
    ) -> Department:
        """Deactivating needs the department empty of active doctors (move them first)."""
        by.require_admin("deactivate or reactivate departments")
        async with self._db.transaction() as session:
            department = await _department(session, department_id, for_update=True)
            if not active:
                remaining = await session.scalar(
                    select(func.count()).where(
                        Doctor.department_id == department_id, Doctor.active.is_(True)
                    )
                )
                if remaining:
                    raise ValidationFailed(
                        "active",
                        f"{department.name} still has {remaining} active doctor(s); move or "
                        "deactivate them first",
                    )
            changed = changes(department, {"active": active})
            if changed:
                add_audit(
                    session,
                    by.actor,
                    AuditAction.UPDATE,
                    "department",
                    department_id,
                    detail={"changed": changed},
                )
        return department

    # -- doctors -----------------------------------------------------------------------------

    async def create_doctor(self, fields: DoctorFields, by: Editor) -> Doctor:
        by.require_admin("create doctors")
        values = _doctor_values(fields)
        async with self._db.transaction() as session:
            await _active_department(session, fields.department_id)
            doctor = Doctor(**values, active=True)
            session.add(doctor)
            await session.flush()
            add_audit(session, by.actor, AuditAction.CREATE, "doctor", doctor.id, detail=values)
        return doctor

    async def update_doctor(
        self, doctor_id: int, fields: DoctorFields, by: Editor
    ) -> Changed[Doctor]:
        """Edit a doctor; a move to another department takes their future slots with them."""
        by.require_admin("edit doctors")
        values = _doctor_values(fields)
        async with self._db.transaction() as session:
            doctor = await doctor_in(session, doctor_id, for_update=True)
            if fields.department_id != doctor.department_id:
                await _active_department(session, fields.department_id)
            changed = changes(doctor, values)
            if "department_id" in changed:
                # Free-slot search filters slots by their own department column.
                await session.execute(
                    update(Slot)
                    .where(Slot.doctor_id == doctor_id, Slot.starts_at > self._clock())
                    .values(department_id=fields.department_id)
                )
            if changed:
                add_audit(
                    session,
                    by.actor,
                    AuditAction.UPDATE,
                    "doctor",
                    doctor_id,
                    detail={"changed": changed},
                )
        return Changed(doctor)

    async def set_doctor_active(self, doctor_id: int, active: bool, by: Editor) -> Changed[Doctor]:
        """Deactivate (no more bookings; their booked appointments are listed as conflicts)
        or reactivate (their slots come back) a doctor."""
        by.require_admin("deactivate or reactivate doctors")
        async with self._db.transaction() as session:
            doctor = await doctor_in(session, doctor_id, for_update=True)
            if active and not doctor.active:
                await _active_department(session, doctor.department_id)
            changed = changes(doctor, {"active": active})
            if not changed:
                return Changed(doctor)
            add_audit(
                session,
                by.actor,
                AuditAction.UPDATE,
                "doctor",
                doctor_id,
                detail={"changed": changed},
            )
            await session.flush()
            affected = await self._keeper.refresh_doctor(session, doctor_id)
        return Changed(doctor, affected)


def _department_values(fields: DepartmentFields) -> dict[str, Any]:
    return {
        "code": check.department_code(fields.code),
        "name": check.required_text(fields.name, "name", max_length=120),
        "names": check.language_names(fields.names),
        "synonyms": check.synonyms(fields.synonyms),
        "menu_order": check.menu_order(fields.menu_order),
    }


def _doctor_values(fields: DoctorFields) -> dict[str, Any]:
    return {
        "department_id": fields.department_id,
        "title": check.text(fields.title, "title", max_length=20, required=False) or "",
        "given_name": check.required_text(fields.given_name, "given_name", max_length=100),
        "family_name": check.required_text(fields.family_name, "family_name", max_length=100),
        "specialty": check.required_text(fields.specialty, "specialty", max_length=120),
    }


async def _department(
    session: AsyncSession, department_id: int, *, for_update: bool = False
) -> Department:
    department = await session.get(Department, department_id, with_for_update=for_update)
    if department is None:
        raise DepartmentNotFound(f"no department with id {department_id}")
    return department


async def _active_department(session: AsyncSession, department_id: int) -> Department:
    """The department a doctor is placed in: it must exist and be active (422 names the field)."""
    department = await session.get(Department, department_id)
    if department is None:
        raise ValidationFailed("department_id", f"no department with id {department_id}")
    if not department.active:
        raise ValidationFailed(
            "department_id", f"{department.name} is inactive; reactivate it or choose another"
        )
    return department


async def _code_is_free(session: AsyncSession, code: str, department_id: int | None) -> None:
    holder = await session.scalar(select(Department).where(Department.code == code))
    if holder is not None and holder.id != department_id:
        raise ValidationFailed("code", f"{code} is already the code of {holder.name}")


async def doctor_in(session: AsyncSession, doctor_id: int, *, for_update: bool = False) -> Doctor:
    """The doctor, or :class:`DoctorNotFound` (shared with the schedule service)."""
    doctor = await session.get(Doctor, doctor_id, with_for_update=for_update)
    if doctor is None:
        raise DoctorNotFound(f"no doctor with id {doctor_id}")
    return doctor
