"""A segment's definition as one SQL query over the patients (both engines).

Every filter becomes a WHERE clause on ``patients`` outer-joined to the RFM scores
(:func:`hcrm_core.services.rfm.rfm_scores`), so counting, paging and a campaign's targeting
all run the same query in the database.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, Subquery, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.models import ChronicCondition, Patient, PatientTagLink
from hcrm_core.services.patient_tags import tag_ids
from hcrm_core.services.rfm import group_of, rfm_scores
from hcrm_core.services.segments_definition import SCORES, Definition, birth_dates


async def members_select(
    session: AsyncSession, definition: Definition, *, now: datetime, tz: ZoneInfo
) -> tuple[Select[Any], Subquery]:
    """``select(Patient.id)`` of the segment's active members, and the RFM scores subquery it
    is joined to (for the caller to add columns). Unknown tags: :class:`FieldErrors`."""
    scores = rfm_scores()
    conditions = await member_conditions(session, definition, scores, now=now, tz=tz)
    query = select(Patient.id).outerjoin(scores, scores.c.patient_id == Patient.id)
    return query.where(*conditions), scores


async def member_conditions(
    session: AsyncSession,
    definition: Definition,
    scores: Subquery,
    *,
    now: datetime,
    tz: ZoneInfo,
) -> list[ColumnElement[bool]]:
    """What a row of ``patients`` outer-joined to ``scores`` (:func:`rfm_scores`) meets to be
    an active member of the segment. Unknown tags: :class:`FieldErrors`."""
    tags = await tag_ids(session, definition.tags, "definition.tags")
    conditions: list[ColumnElement[bool]] = [Patient.active.expression]
    conditions += _attribute_filters(definition, now.astimezone(tz).date())
    conditions += _visit_filters(definition, scores, now, tz)
    # Last, and not correlated: each tag's patients are read once (a hashed set), not looked
    # up per patient, when the segments are counted together (``SegmentService.all``).
    for tag_id in tags:
        tagged = select(PatientTagLink.patient_id).where(PatientTagLink.tag_id == tag_id)
        conditions.append(Patient.id.in_(tagged))
    return conditions


def _attribute_filters(definition: Definition, today: date) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if definition.conditions:
        filters.append(
            exists().where(
                ChronicCondition.patient_id == Patient.id,
                or_(*(ChronicCondition.code.startswith(code) for code in definition.conditions)),
            )
        )
    if definition.age_bands:
        filters.append(or_(*(_born_in(band, today) for band in definition.age_bands)))
    if definition.languages:
        filters.append(Patient.preferred_language.in_(definition.languages))
    if definition.vip is not None:
        filters.append(Patient.vip.is_(definition.vip))
    if definition.chronic_care is not None:
        filters.append(Patient.chronic_care.is_(definition.chronic_care))
    return filters


def _born_in(band: str, today: date) -> ColumnElement[bool]:
    after, latest = birth_dates(band, today)
    if after is None:
        return Patient.date_of_birth <= latest
    return and_(Patient.date_of_birth > after, Patient.date_of_birth <= latest)


def _visit_filters(
    definition: Definition, scores: Subquery, now: datetime, tz: ZoneInfo
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    today = now.astimezone(tz).date()
    if definition.last_visit_within_days:
        filters.append(
            scores.c.last_visit >= _days_ago(today, definition.last_visit_within_days, tz)
        )
    if definition.no_visit_for_days:
        filters.append(scores.c.last_visit < _days_ago(today, definition.no_visit_for_days, tz))
    if definition.rfm_groups:
        filters.append(group_of(scores).in_(definition.rfm_groups))
    for score in SCORES:
        low, high = definition.rfm.bounds(score)
        if low is not None:
            filters.append(scores.c[score] >= low)
        if high is not None:
            filters.append(scores.c[score] <= high)
    return filters


def _days_ago(today: date, days: int, tz: ZoneInfo) -> datetime:
    """The start of the hospital's day ``days`` before today: whole days, as people count."""
    return datetime.combine(today - timedelta(days=days), time(0), tz)


def nothing() -> Select[Any]:
    """A member query with no rows (a segment deleted under a campaign that targets it)."""
    return select(Patient.id).where(false())
