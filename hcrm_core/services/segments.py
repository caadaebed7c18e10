"""Saved segments: definitions of groups of patients, their counts, members and export.

Supervisors and admins keep them (the console checks the role); every change is audited, and
so is every export of a segment's members. A campaign may target a segment
(:mod:`hcrm_core.services.campaigns_targets`): its members are computed when the campaign
starts and at every enrolment sweep, so a segment is always the group as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import Conflict, NotFound, ValidationFailed
from hcrm_core.models import AuditAction, Campaign, CampaignStatus, Patient, Segment, utcnow
from hcrm_core.services.audit import add_audit
from hcrm_core.services.rfm import group_counts, group_of, rfm_scores
from hcrm_core.services.segments_definition import Definition, parse_definition, stored
from hcrm_core.services.segments_query import member_conditions, members_select, nothing

MAX_PAGE: Final = 500
_LIVE_CAMPAIGNS: Final = (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED)


class SegmentNotFound(NotFound):
    code = "segment_not_found"


@dataclass(frozen=True, slots=True)
class Member:
    patient_id: int
    mrn: str
    name: str
    date_of_birth: date
    language: str
    vip: bool
    chronic_care: bool
    last_visit: datetime | None
    visits: int
    monetary_cents: int
    r: int | None
    f: int | None
    m: int | None
    rfm_group: str


async def segment_members(
    session: AsyncSession, segment_id: int, *, now: datetime, tz: ZoneInfo
) -> Select[Any]:
    """The ids of the segment's members now, as a query (none if the segment is gone)."""
    segment = await session.get(Segment, segment_id)
    if segment is None:
        return nothing()
    query, _scores = await members_select(
        session, Definition.model_validate(segment.definition), now=now, tz=tz
    )
    return query


class SegmentService:
    def __init__(self, database: Database, tz: ZoneInfo) -> None:
        self._db = database
        self._tz = tz

    async def all(self) -> list[tuple[Segment, int]]:
        """Every segment, by name, with its number of members now.

        One statement counts them all (a ``FILTER`` per segment over the patients joined to
        the RFM scores once): the scores aggregate every visit on record, and made once per
        segment they took 1.4-2 s for five segments over a year of visits (docs/reports.md).
        """
        now = utcnow()
        async with self._db.session() as session:
            segments = list(await session.scalars(select(Segment).order_by(Segment.name)))
            if not segments:
                return []
            scores = rfm_scores()
            counts = []
            for segment in segments:
                definition = Definition.model_validate(segment.definition)
                conditions = await member_conditions(
                    session, definition, scores, now=now, tz=self._tz
                )
                counts.append(func.count().filter(and_(*conditions)))
            query = (
                select(*counts)
                .select_from(Patient)
                .outerjoin(scores, scores.c.patient_id == Patient.id)
                .where(Patient.active)
            )
            totals = (await session.execute(query)).one()
        return [(segment, int(total or 0)) for segment, total in zip(segments, totals, strict=True)]

    async def get(self, segment_id: int) -> Segment:
        async with self._db.session() as session:
            segment = await session.get(Segment, segment_id)
        if segment is None:
            raise SegmentNotFound("no such segment")
        return segment

    async def rfm_counts(self) -> dict[str, int]:
        async with self._db.session() as session:
            return await group_counts(session)

    async def create(
        self, name: str, description: str | None, definition: Any, actor: Actor
    ) -> Segment:
        name, description = _checked_texts(name, description)
        parsed = parse_definition(definition)
        async with self._db.transaction() as session:
            await _check_unique(session, name, None)
            await members_select(session, parsed, now=utcnow(), tz=self._tz)  # tags exist
            segment = Segment(
                name=name,
                description=description,
                definition=stored(parsed),
                created_by_user_id=actor.user_id,
            )
            session.add(segment)
            await session.flush()
            add_audit(session, actor, AuditAction.CREATE, "segment", segment.id)
        return segment

    async def update(
        self, segment_id: int, name: str, description: str | None, definition: Any, actor: Actor
    ) -> Segment:
        name, description = _checked_texts(name, description)
        parsed = parse_definition(definition)
        async with self._db.transaction() as session:
            segment = await session.get(Segment, segment_id, with_for_update=True)
            if segment is None:
                raise SegmentNotFound("no such segment")
            await _check_unique(session, name, segment_id)
            await members_select(session, parsed, now=utcnow(), tz=self._tz)
            segment.name, segment.description = name, description
            segment.definition = stored(parsed)
            add_audit(session, actor, AuditAction.UPDATE, "segment", segment_id)
        return segment

    async def delete(self, segment_id: int, actor: Actor) -> None:
        """Delete a segment no draft, running or paused campaign targets (409 otherwise)."""
        async with self._db.transaction() as session:
            segment = await session.get(Segment, segment_id, with_for_update=True)
            if segment is None:
                raise SegmentNotFound("no such segment")
            campaigns = await session.scalars(
                select(Campaign).where(Campaign.status.in_(_LIVE_CAMPAIGNS))
            )
            for campaign in campaigns:
                if (campaign.settings.get("targets") or {}).get("segment_id") == segment_id:
                    raise Conflict(f"the campaign {campaign.name!r} targets this segment")
            await session.delete(segment)
            add_audit(
                session,
                actor,
                AuditAction.DELETE,
                "segment",
                segment_id,
                detail={"name": segment.name},
            )

    async def members(
        self, segment_id: int, *, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[Member]]:
        """The number of members and one page of them, by family and given name."""
        now = utcnow()
        async with self._db.session() as session:
            segment = await session.get(Segment, segment_id)
            if segment is None:
                raise SegmentNotFound("no such segment")
            query, scores = await members_select(
                session, Definition.model_validate(segment.definition), now=now, tz=self._tz
            )
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.execute(
                query.add_columns(
                    Patient.mrn,
                    Patient.given_name,
                    Patient.family_name,
                    Patient.date_of_birth,
                    Patient.preferred_language,
                    Patient.vip,
                    Patient.chronic_care,
                    scores.c.last_visit,
                    scores.c.frequency,
                    scores.c.monetary,
                    scores.c.r,
                    scores.c.f,
                    scores.c.m,
                    group_of(scores),
                )
                .order_by(Patient.family_name, Patient.given_name, Patient.id)
                .offset(offset)
                .limit(min(limit, MAX_PAGE))
            )
            return int(total or 0), [_member(row) for row in rows]

    async def export(self, segment_id: int, actor: Actor) -> tuple[Segment, list[Member]]:
        """Every member, for a CSV; the export itself is audited (it lists patients)."""
        segment = await self.get(segment_id)
        total, members = await self.members(segment_id, limit=MAX_PAGE)
        for offset in range(MAX_PAGE, total, MAX_PAGE):
            members.extend((await self.members(segment_id, offset=offset, limit=MAX_PAGE))[1])
        async with self._db.transaction() as session:
            add_audit(
                session,
                actor,
                AuditAction.EXPORT,
                "segment",
                segment_id,
                detail={"members": len(members), "name": segment.name},
            )
        return segment, members


def _member(row: Any) -> Member:
    (pid, mrn, given, family, born, language, vip, chronic) = row[:8]
    last_visit, visits, monetary, r, f, m, group = row[8:]
    return Member(
        pid,
        mrn,
        f"{given} {family}".strip(),
        born,
        language,
        bool(vip),
        bool(chronic),
        last_visit,
        int(visits or 0),
        int(monetary or 0),
        r,
        f,
        m,
        str(group),
    )


def _checked_texts(name: str, description: str | None) -> tuple[str, str | None]:
    name = (name or "").strip()
    if not 0 < len(name) <= 120:
        raise ValidationFailed("name", "give the segment a name (up to 120 characters)")
    description = (description or "").strip() or None
    if description is not None and len(description) > 500:
        raise ValidationFailed("description", "at most 500 characters")
    return name, description


async def _check_unique(session: AsyncSession, name: str, segment_id: int | None) -> None:
    found = await session.scalar(select(Segment.id).where(Segment.name == name))
    if found is not None and found != segment_id:
        raise ValidationFailed("name", f"there is already a segment named {name!r}")
