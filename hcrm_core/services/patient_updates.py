"""Agents editing a patient's record: contact details, language, flags, notes."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import InvalidPhoneNumber, PatientNotFound, ValidationFailed
from hcrm_core.models import AuditAction, Patient, PatientPhone, PhoneKind, Sex
from hcrm_core.phones import to_e164
from hcrm_core.services.audit import add_audit
from hcrm_core.services.patients import search_name_for

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[A-Za-z]{2,4})?")


@dataclass(slots=True)
class PatientChanges:
    """Fields to change; None leaves a field as it is."""

    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    sex: Sex | None = None
    preferred_language: str | None = None
    email: str | None = None
    address: str | None = None
    primary_phone: str | None = None
    do_not_call: bool | None = None
    consent_call: bool | None = None
    # Queue priority flags: VIP and chronic-care callers wait ahead of others.
    vip: bool | None = None
    chronic_care: bool | None = None
    notes: str | None = None

    def given(self) -> dict[str, object]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


def _check(changes: PatientChanges, today: date) -> None:
    for name in ("given_name", "family_name"):
        value = getattr(changes, name)
        if value is not None and len(value.strip()) > 100:
            raise ValidationFailed(name, "at most 100 characters")
    if changes.date_of_birth is not None and not (
        date(1880, 1, 1) <= changes.date_of_birth <= today
    ):
        raise ValidationFailed("date_of_birth", "must be a real date in the past")
    if changes.email and not _EMAIL_RE.match(changes.email):
        raise ValidationFailed("email", "is not an e-mail address")
    language = changes.preferred_language
    if language is not None and not _LANGUAGE_RE.fullmatch(language):
        raise ValidationFailed("preferred_language", "use a language code such as 'en' or 'zh'")
    if changes.address is not None and len(changes.address) > 500:
        raise ValidationFailed("address", "at most 500 characters")
    if changes.notes is not None and len(changes.notes) > 4000:
        raise ValidationFailed("notes", "at most 4000 characters")


async def update_patient(
    database: Database,
    patient_id: int,
    changes: PatientChanges,
    actor: Actor,
    *,
    phone_region: str,
    today: date,
) -> list[str]:
    """Apply ``changes``; returns the names of the fields changed (audited, values are not)."""
    _check(changes, today)
    e164 = None
    if changes.primary_phone is not None:
        try:
            e164 = to_e164(changes.primary_phone, phone_region)
        except InvalidPhoneNumber as exc:
            raise ValidationFailed("primary_phone", exc.message) from exc
    async with database.transaction() as session:
        patient = await session.get(Patient, patient_id)
        if patient is None:
            raise PatientNotFound(f"no patient with id {patient_id}")
        changed = []
        for name, value in changes.given().items():
            if name == "primary_phone":
                continue
            stored = value.strip() if isinstance(value, str) else value
            if getattr(patient, name) != stored:
                setattr(patient, name, stored)
                changed.append(name)
        if not (patient.given_name.strip() or patient.family_name.strip()):
            raise ValidationFailed("given_name", "a patient needs a given or a family name")
        if {"given_name", "family_name"} & set(changed):
            patient.search_name = search_name_for(patient.given_name, patient.family_name)
        if e164 is not None and changes.primary_phone is not None:
            await _set_primary_phone(session, patient, e164, changes.primary_phone)
            changed.append("primary_phone")
        if changed:
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "patient",
                patient_id,
                patient_id=patient_id,
                detail={"fields": changed},
            )
    return changed


async def _set_primary_phone(session: AsyncSession, patient: Patient, e164: str, raw: str) -> None:
    phones = list(
        await session.scalars(select(PatientPhone).where(PatientPhone.patient_id == patient.id))
    )
    for phone in phones:
        phone.is_primary = phone.e164 == e164
    if not any(phone.e164 == e164 for phone in phones):
        session.add(
            PatientPhone(
                patient_id=patient.id,
                e164=e164,
                raw=raw.strip()[:64],
                kind=PhoneKind.MOBILE,
                is_primary=True,
            )
        )
