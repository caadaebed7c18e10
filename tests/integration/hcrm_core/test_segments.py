"""Segmentation on SQLite and PostgreSQL: RFM scores and groups, segment filters, refusals,
and campaigns that target a segment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.errors import Conflict, FieldErrors, ValidationFailed
from hcrm_core.models import AuditAction, AuditEvent, CampaignAttempt
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_enrolment import EnrolmentService
from hcrm_core.services.patient_tags import create_tag, set_tag, tags_of
from hcrm_core.services.privacy import erase_patient, export_patient
from hcrm_core.services.segments import SegmentService
from tests.support.segment_data import ADMIN, SegmentWorld, seed_segments_world


@pytest.fixture
async def world(database: Database, policy: BookingPolicy) -> SegmentWorld:
    return await seed_segments_world(database, policy)


async def _members(service: SegmentService, world: SegmentWorld, definition: dict) -> list[str]:
    segment = await service.create(
        f"s{len(str(definition))}{id(definition)}", None, definition, ADMIN
    )
    total, members = await service.members(segment.id)
    assert total == len(members)
    return world.names(m.patient_id for m in members)


async def test_rfm_scores_and_groups_by_quintile(database, policy, world) -> None:
    service = SegmentService(database, policy.timezone)
    segment = await service.create("Everyone seen", None, {"rfm": {"r_min": 1}}, ADMIN)
    _total, members = await service.members(segment.id)
    scores = {
        world.names([m.patient_id])[0]: (m.r, m.f, m.m, m.rfm_group, m.visits) for m in members
    }
    assert scores == {
        "A": (4, 5, 5, "champions", 6),
        "B": (3, 3, 3, "loyal", 3),
        "C": (5, 1, 1, "new", 1),
        "D": (2, 4, 4, "at_risk", 4),
        "E": (1, 1, 1, "lapsed", 1),
    }
    assert {m.monetary_cents for m in members if world.names([m.patient_id]) == ["A"]} == {60000}
    counts = await service.rfm_counts()
    assert counts["no_visits"] >= 1 and counts["champions"] == 1 and counts["lapsed"] == 1


FILTERS = [
    ({"chronic_care": True, "rfm_groups": ["at_risk", "lapsed"]}, "DE"),
    ({"tags": ["diabetes"]}, "AB"),
    ({"age_bands": ["18-39"]}, "C"),
    ({"languages": ["zh"]}, "F"),
    ({"last_visit_within_days": 30}, "ABC"),
    ({"no_visit_for_days": 365}, "DE"),
    ({"rfm": {"r_min": 4}}, "AC"),
    ({"rfm": {"f_min": 3, "m_max": 4}}, "BD"),
    ({"vip": True}, "B"),
    ({"conditions": ["e11"]}, "A"),
    ({"rfm_groups": ["no_visits"], "age_bands": ["65-79", "80+"]}, "F"),
]


@pytest.mark.parametrize(("definition", "expected"), FILTERS)
async def test_segment_filters(database, policy, world, definition, expected) -> None:
    service = SegmentService(database, policy.timezone)
    assert await _members(service, world, definition) == list(expected)


async def test_paging_and_counts(database, policy, world) -> None:
    service = SegmentService(database, policy.timezone)
    segment = await service.create("Seen", None, {"rfm": {"r_min": 1}}, ADMIN)
    total, first = await service.members(segment.id, offset=0, limit=2)
    _, rest = await service.members(segment.id, offset=2, limit=10)
    assert total == 5 and len(first) == 2 and len(rest) == 3
    assert {m.patient_id for m in first}.isdisjoint(m.patient_id for m in rest)
    assert dict((s.name, n) for s, n in await service.all()) == {"Seen": 5}


async def test_all_segments_counted_at_once_as_each_alone(database, policy, world) -> None:
    """``all`` counts every segment in one statement (the scores made once); each count is
    the segment's own, tags and all."""
    service = SegmentService(database, policy.timezone)
    await service.create(
        "Diabetes and seen", None, {"tags": ["diabetes"], "rfm": {"r_min": 4}}, ADMIN
    )
    for n, (definition, _) in enumerate(FILTERS):
        await service.create(f"S{n:02}", None, definition, ADMIN)
    counted = {s.name: n for s, n in await service.all()}
    expected = {f"S{n:02}": len(members) for n, (_, members) in enumerate(FILTERS)}
    assert counted == {**expected, "Diabetes and seen": 1}
    for segment, count in await service.all():
        assert (await service.members(segment.id))[0] == count, segment.name


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({}, "definition"),
        ({"tags": ["nobody-has-this"]}, "definition.tags"),
        ({"rfm": {"r_min": 4, "r_max": 2}}, "definition.rfm.r_max"),
        ({"rfm": {"m_min": 0}}, "definition.rfm.m_min"),
        ({"rfm": {"f_max": 6}}, "definition.rfm.f_max"),
        ({"rfm_groups": ["whales"]}, "definition.rfm_groups"),
        ({"age_bands": ["20-30"]}, "definition.age_bands"),
        ({"colour": "blue"}, "definition.colour"),
        ({"last_visit_within_days": 30, "no_visit_for_days": 60}, "definition.no_visit_for_days"),
        ("lapsed", "definition"),
    ],
)
async def test_bad_definitions_name_the_field(database, policy, world, definition, field) -> None:
    service = SegmentService(database, policy.timezone)
    with pytest.raises(ValidationFailed) as refused:
        await service.create("Bad", None, definition, ADMIN)
    found = refused.value.errors if isinstance(refused.value, FieldErrors) else {}
    assert refused.value.field == field or field in found


async def test_campaign_targeting_a_segment_enrols_exactly_its_members(
    database, policy, world
) -> None:
    segments = SegmentService(database, policy.timezone)
    returning = await segments.create(
        "Returning", None, {"rfm_groups": ["champions", "loyal", "new"]}, ADMIN
    )
    lapsed = await segments.create(
        "Lapsed chronic", None, {"chronic_care": True, "rfm_groups": ["at_risk", "lapsed"]}, ADMIN
    )
    campaigns = CampaignService(database, policy)
    now = datetime.now(UTC)
    for segment, expected in ((returning, "ABC"), (lapsed, "D")):  # E: do-not-call
        campaign = await campaigns.create(
            segment.name, "survey", {"targets": {"segment_id": segment.id}}, ADMIN
        )
        assert await campaigns.start(campaign.id, ADMIN, now=now) == len(expected)
        assert world.names(await _attempted(database, campaign.id)) == list(expected)
    with pytest.raises(Conflict):
        await segments.delete(lapsed.id, ADMIN)


async def test_continuous_campaign_enrols_new_members_of_its_segment(
    database, policy, world
) -> None:
    segments = SegmentService(database, policy.timezone)
    segment = await segments.create("Diabetes", None, {"tags": ["diabetes"]}, ADMIN)
    campaigns = CampaignService(database, policy)
    campaign = await campaigns.create(
        "Adherence", "adherence", {"targets": {"segment_id": segment.id}}, ADMIN
    )
    now = datetime.now(UTC)
    assert await campaigns.start(campaign.id, ADMIN, now=now) == 2
    await set_tag(database, world.ids["F"], "diabetes", ADMIN, on=True)
    (change,) = await EnrolmentService(database, policy).sweep(now=now)
    assert change.enrolled == 1
    assert world.names(await _attempted(database, campaign.id)) == ["A", "B", "F"]


async def test_unknown_segment_is_refused_on_the_campaign(database, policy, world) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await CampaignService(database, policy).create(
            "Nobody", "survey", {"targets": {"segment_id": 9999}}, ADMIN
        )
    assert refused.value.field == "targets.segment_id"


async def test_tags_and_exports_are_audited(database, policy, world) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await create_tag(database, "Bad Name!", None, ADMIN)
    assert refused.value.field == "name"
    assert not await set_tag(database, world.ids["A"], "diabetes", ADMIN, on=True)  # already
    assert await set_tag(database, world.ids["A"], "diabetes", ADMIN, on=False)
    service = SegmentService(database, policy.timezone)
    segment = await service.create("Lapsed", None, {"rfm_groups": ["lapsed"]}, ADMIN)
    _segment, members = await service.export(segment.id, ADMIN)
    assert world.names(m.patient_id for m in members) == ["E"]
    async with database.session() as session:
        rows = (
            await session.execute(
                select(AuditEvent.entity, AuditEvent.action, AuditEvent.patient_id)
            )
        ).all()
    assert ("patient_tag", AuditAction.UPDATE, world.ids["A"]) in rows
    assert ("segment", AuditAction.EXPORT, None) in rows


async def _attempted(database: Database, campaign_id: int) -> list[int]:
    async with database.session() as session:
        rows = await session.scalars(
            select(CampaignAttempt.patient_id).where(CampaignAttempt.campaign_id == campaign_id)
        )
        return list(rows)


async def test_tags_are_exported_and_erased_with_the_patient(database, policy, world) -> None:

    patient = world.ids["A"]
    bundle = await export_patient(database, ADMIN, patient, decrypt=None)
    assert bundle["patient"]["tags"] == ["diabetes"]
    erasure = await erase_patient(database, ADMIN, patient)
    assert erasure.counts["tags"] == 1
    assert await tags_of(database, patient) == []
