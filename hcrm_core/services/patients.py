"""Finding, reading and registering patients."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import (
    DuplicateRecord,
    InvalidPhoneNumber,
    PatientNotFound,
    ValidationFailed,
)
from hcrm_core.models import (
    Allergy,
    AuditAction,
    ChronicCondition,
    Patient,
    PatientPhone,
    PhoneKind,
    Sex,
)
from hcrm_core.phones import lookup_keys, to_e164
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.audit import add_audit

_MRN_RE = re.compile(r"^[A-Za-z0-9-]{3,32}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SEARCH_LIMIT_MAX = 100


def search_name_for(given_name: str, family_name: str) -> str:
    """Both name orders, lower-cased: Chinese names are said family-first, English given-first."""
    given, family = given_name.strip().lower(), family_name.strip().lower()
    return f"{given} {family} | {family} {given} | {family}{given}"


_LOAD_CARD = (
    selectinload(Patient.phones),
    selectinload(Patient.allergies),
    selectinload(Patient.conditions),
)


@dataclass(slots=True)
class NewPhone:
    number: str
    kind: PhoneKind = PhoneKind.MOBILE


@dataclass(slots=True)
class NewPatient:
    mrn: str
    given_name: str
    family_name: str
    date_of_birth: date
    sex: Sex = Sex.UNKNOWN
    phones: list[NewPhone] = field(default_factory=list)
    email: str | None = None
    address: str | None = None
    preferred_language: str = "en"
    allergies: list[str] = field(default_factory=list)
    conditions: list[tuple[str, str]] = field(default_factory=list)  # (ICD-10 code, name)
    vip: bool = False
    consent_call: bool = True
    consent_sms: bool = False
    consent_email: bool = False
    do_not_call: bool = False
    notes: str | None = None


def _validate(new: NewPatient, today: date) -> None:
    if not _MRN_RE.match(new.mrn):
        raise ValidationFailed("mrn", "use 3-32 letters, digits or '-'")
    if not new.given_name.strip() and not new.family_name.strip():
        raise ValidationFailed("name", "a patient needs a given or a family name")
    if len(new.given_name) > 100 or len(new.family_name) > 100:
        raise ValidationFailed("name", "names are limited to 100 characters")
    if new.date_of_birth > today:
        raise ValidationFailed("date_of_birth", "cannot be in the future")
    if new.date_of_birth.year < 1880:
        raise ValidationFailed("date_of_birth", "is implausibly early")
    if new.email and not _EMAIL_RE.match(new.email):
        raise ValidationFailed("email", "is not an e-mail address")
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", new.preferred_language):
        raise ValidationFailed("preferred_language", "use a language code such as 'en' or 'zh'")


class PatientService:
    def __init__(self, database: Database, policy: BookingPolicy) -> None:
        self._db = database
        self._policy = policy

    async def find_by_phone(self, raw: str, *, card: bool = False) -> list[Patient]:
        """Every active patient with this number stored, in any format it was given.

        Returns patients with their phones, in one query (this runs for every incoming call);
        ``card=True`` also loads allergies and conditions for a screen pop.
        """
        keys = lookup_keys(raw, self._policy.phone_region)
        if not keys:
            return []
        ids = select(PatientPhone.patient_id).where(PatientPhone.e164.in_(keys))
        query = (
            select(Patient)
            .where(Patient.id.in_(ids), Patient.active.is_(True))
            .options(joinedload(Patient.phones))
            .order_by(Patient.id)
        )
        if card:
            query = query.options(selectinload(Patient.allergies), selectinload(Patient.conditions))
        async with self._db.session() as session:
            return list((await session.scalars(query)).unique())

    async def search(self, query: str, limit: int = 20) -> list[Patient]:
        """Search by record number (exact), phone number (any format) or name (substring)."""
        text = query.strip()
        if not text:
            raise ValidationFailed("query", "type a name, record number or phone number")
        limit = max(1, min(limit, SEARCH_LIMIT_MAX))
        conditions = [Patient.mrn == text.upper(), Patient.mrn == text]
        digits = re.sub(r"[\s().-]", "", text)
        if digits.lstrip("+").isdigit() and len(digits) >= 6:
            keys = lookup_keys(text, self._policy.phone_region)
            if keys:
                conditions.append(
                    Patient.id.in_(
                        select(PatientPhone.patient_id).where(PatientPhone.e164.in_(keys))
                    )
                )
        if len(text) >= 2 and not text.isdigit():
            needle = text.lower().replace("%", r"\%").replace("_", r"\_")
            conditions.append(Patient.search_name.like(f"%{needle}%", escape="\\"))
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Patient)
                .where(or_(*conditions))
                .options(*_LOAD_CARD)
                .order_by(Patient.family_name, Patient.given_name, Patient.id)
                .limit(limit)
            )
            return list(rows)

    async def get(self, patient_id: int) -> Patient:
        async with self._db.session() as session:
            patient = await session.get(Patient, patient_id, options=_LOAD_CARD)
            if patient is None:
                raise PatientNotFound(f"no patient with id {patient_id}")
            return patient

    async def get_by_mrn(self, mrn: str) -> Patient:
        async with self._db.session() as session:
            patient = await session.scalar(
                select(Patient)
                .where(func.upper(Patient.mrn) == mrn.strip().upper())
                .options(*_LOAD_CARD)
            )
            if patient is None:
                raise PatientNotFound(f"no patient with record number {mrn!r}")
            return patient

    async def create(self, new: NewPatient, actor: Actor, today: date) -> Patient:
        """Register a patient; phones are normalised to E.164 or the call fails naming them."""
        _validate(new, today)
        phones = []
        for index, phone in enumerate(new.phones):
            try:
                e164 = to_e164(phone.number, self._policy.phone_region)
            except InvalidPhoneNumber as exc:
                raise ValidationFailed(f"phones[{index}]", exc.message) from exc
            phones.append(
                PatientPhone(
                    e164=e164, raw=phone.number.strip(), kind=phone.kind, is_primary=index == 0
                )
            )
        patient = Patient(
            mrn=new.mrn.upper(),
            given_name=new.given_name.strip(),
            family_name=new.family_name.strip(),
            search_name=search_name_for(new.given_name, new.family_name),
            sex=new.sex,
            date_of_birth=new.date_of_birth,
            email=new.email,
            address=new.address,
            preferred_language=new.preferred_language,
            vip=new.vip,
            consent_call=new.consent_call,
            consent_sms=new.consent_sms,
            consent_email=new.consent_email,
            do_not_call=new.do_not_call,
            notes=new.notes,
            phones=phones,
            allergies=[Allergy(substance=a) for a in new.allergies],
            conditions=[ChronicCondition(code=c, name=n) for c, n in new.conditions],
        )
        try:
            async with self._db.transaction() as session:
                if await session.scalar(select(Patient.id).where(Patient.mrn == patient.mrn)):
                    raise DuplicateRecord(f"record number {patient.mrn} is already in use")
                session.add(patient)
                await session.flush()
                add_audit(
                    session, actor, AuditAction.CREATE, "patient", patient.id, patient_id=patient.id
                )
        except IntegrityError as exc:
            raise DuplicateRecord(f"record number {patient.mrn} is already in use") from exc
        return await self.get(patient.id)
