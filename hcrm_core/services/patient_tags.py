"""The tags the hospital keeps on patients: create them, tag and untag a patient, audited.

Tags are names (lower-case letters, digits and ``-``); segments select patients by them
(:mod:`hcrm_core.services.segments`). Tagging and untagging are audited on the patient.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import FieldErrors, PatientNotFound, ValidationFailed
from hcrm_core.models import AuditAction, Patient, PatientTag, PatientTagLink
from hcrm_core.services.audit import add_audit
from hcrm_core.services.segments_definition import TAG_NAME


@dataclass(frozen=True, slots=True)
class TagCount:
    name: str
    description: str | None
    patients: int


async def list_tags(database: Database) -> list[TagCount]:
    """Every tag with the number of active patients carrying it, by name."""
    async with database.session() as session:
        rows = await session.execute(
            select(PatientTag.name, PatientTag.description, func.count(Patient.id))
            .outerjoin(PatientTagLink, PatientTagLink.tag_id == PatientTag.id)
            .outerjoin(Patient, (Patient.id == PatientTagLink.patient_id) & Patient.active)
            .group_by(PatientTag.id, PatientTag.name, PatientTag.description)
            .order_by(PatientTag.name)
        )
        return [TagCount(name, description, int(count)) for name, description, count in rows]


def check_tag_name(name: str, field: str = "name") -> str:
    name = name.strip().lower()
    if not TAG_NAME.match(name):
        raise ValidationFailed(field, "1 to 40 lower-case letters, digits and -, e.g. diabetes")
    return name


async def create_tag(
    database: Database, name: str, description: str | None, actor: Actor
) -> PatientTag:
    name = check_tag_name(name)
    if description is not None and len(description.strip()) > 200:
        raise ValidationFailed("description", "at most 200 characters")
    async with database.transaction() as session:
        if await session.scalar(select(PatientTag.id).where(PatientTag.name == name)):
            raise ValidationFailed("name", f"there is already a tag named {name}")
        tag = PatientTag(name=name, description=(description or "").strip() or None)
        session.add(tag)
        await session.flush()
        add_audit(session, actor, AuditAction.CREATE, "patient_tag", tag.id, detail={"name": name})
    return tag


async def tags_of(database: Database, patient_id: int) -> list[str]:
    async with database.session() as session:
        rows = await session.scalars(
            select(PatientTag.name)
            .join(PatientTagLink, PatientTagLink.tag_id == PatientTag.id)
            .where(PatientTagLink.patient_id == patient_id)
            .order_by(PatientTag.name)
        )
        return list(rows)


async def tag_ids(session: AsyncSession, names: list[str], field: str) -> list[int]:
    """The ids of the tags ``names``; :class:`FieldErrors` at ``field`` naming unknown ones."""
    if not names:
        return []
    rows = await session.execute(
        select(PatientTag.name, PatientTag.id).where(PatientTag.name.in_(names))
    )
    found = {str(name): int(tag_id) for name, tag_id in rows}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise FieldErrors({field: f"no tag named {', '.join(unknown)}"})
    return [found[name] for name in names]


async def set_tag(
    database: Database, patient_id: int, name: str, actor: Actor, *, on: bool
) -> bool:
    """Tag (``on``) or untag a patient; False when nothing changed. Audited on the patient."""
    name = check_tag_name(name, "tag")
    async with database.transaction() as session:
        if await session.get(Patient, patient_id) is None:
            raise PatientNotFound("no such patient")
        (tag_id,) = await tag_ids(session, [name], "tag")
        link = await session.get(PatientTagLink, (patient_id, tag_id))
        if on == (link is not None):
            return False
        if on:
            session.add(
                PatientTagLink(
                    patient_id=patient_id, tag_id=tag_id, tagged_by_user_id=actor.user_id
                )
            )
        else:
            await session.execute(
                delete(PatientTagLink).where(
                    PatientTagLink.patient_id == patient_id, PatientTagLink.tag_id == tag_id
                )
            )
        add_audit(
            session,
            actor,
            AuditAction.UPDATE,
            "patient_tag",
            tag_id,
            patient_id=patient_id,
            detail={"tag": name, "tagged": on},
        )
    return True
