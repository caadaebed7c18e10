"""Callbacks that keep the caller's place: the service on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import CallbackStatus, FollowUpTask, QueueCallback, TaskSource
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.callbacks import ANSWERED, CallbackRules, CallbackService
from tests.support.factories import make_patient

NOW = datetime(2030, 3, 5, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def test_undialable_numbers_are_refused_with_the_field(database: Database) -> None:
    service = CallbackService(database)
    for number in ("12125550100", "+1", "+1212555010x", "Local/x&y"):
        with pytest.raises(ValidationFailed) as refused:
            await service.request("appointments", number, arrived_at=NOW)
        assert refused.value.field == "phone"
    async with database.session() as session:
        assert list(await session.scalars(select(QueueCallback))) == []


async def test_no_answer_is_retried_then_handed_to_a_person(
    database: Database, policy: BookingPolicy
) -> None:
    patient = await make_patient(database, policy, phones=("+12125550301",))
    clock = Clock()
    service = CallbackService(database, CallbackRules(max_attempts=2, retry_minutes=5), clock=clock)
    first = await service.request(
        "appointments",
        "+12125550301",
        arrived_at=NOW - timedelta(minutes=3),
        priority=2,
        position=4,
        patient_id=patient.id,
        linkedid="1700000000.1",
    )
    later = await service.request("appointments", "+12125550302", arrived_at=NOW)
    # Due at once, the earlier arrival first.
    assert [p.callback_id for p in await service.due()] == [first.id, later.id]
    placed = await service.claim_placement(first.id)
    assert placed is not None and (placed.placement, placed.priority) == (1, 2)
    assert await service.claim_placement(first.id) is None  # never placed twice
    assert await service.mark_dialling(first.id, 1)
    assert await service.finish(first.id, 1, "no_answer") is CallbackStatus.WAITING
    assert await service.finish(first.id, 1, ANSWERED) is None  # a late event: settled
    assert [p.callback_id for p in await service.due()] == [later.id]
    clock.now = NOW + timedelta(minutes=5)
    assert [p.callback_id for p in await service.due()] == [first.id, later.id]
    again = await service.claim_placement(first.id)
    assert again is not None and again.placement == 2
    assert await service.finish(first.id, 2, "busy") is CallbackStatus.FAILED
    row = await service.get(first.id)
    assert row is not None and row.task_id is not None and row.dial_attempts == 2
    async with database.session() as session:
        task = await session.get(FollowUpTask, row.task_id)
    assert task is not None
    assert (task.patient_id, task.source_kind, task.queue) == (
        patient.id,
        TaskSource.MISSED_CALLBACK,
        "appointments",
    )
    assert task.source_ref == "1700000000.1"


async def test_a_placement_that_reached_no_agent_is_placed_again(database: Database) -> None:
    clock = Clock()
    service = CallbackService(database, clock=clock)
    row = await service.request("appointments", "+12125550303", arrived_at=NOW)
    assert await service.claim_placement(row.id) is not None
    assert await service.release(row.id, 2, retry_seconds=30) is False  # not that placement
    assert await service.release(row.id, 1, retry_seconds=30) is True
    assert await service.due() == []
    clock.now = NOW + timedelta(seconds=30)
    (due,) = await service.due()
    assert due.callback_id == row.id and due.status is CallbackStatus.WAITING
    assert await service.counts() == {"waiting": 1}
