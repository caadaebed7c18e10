"""The calls the agents handled over a report's period, by bucket, read from the call log.

A call counts in the bucket in which it was answered, once it has ended; its handle time runs
from the answer to the hang-up. Whose call it is (the user who saved it, else the agent of
the interface it was answered on) is decided by the agent report
(:mod:`hcrm_core.services.reports_agents`); this module reads the calls grouped by that
owner's key, the saving user and the interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION

from hcrm_core.db import Database
from hcrm_core.models import Call
from hcrm_core.services.reports_period import Bucket, Period
from hcrm_core.services.reports_queues import (
    bucket_key,
    bucket_of_step,
    epoch,
    handle_seconds,
    report_reads,
    steps_are_buckets,
)


@dataclass(frozen=True, slots=True)
class HandledCalls:
    """The calls answered on one interface (and saved by one user, or by none): bucket
    ``indexes[k]`` holds ``counts[k]`` of them (one when ``counts`` is None) and
    ``handles[k]`` seconds of their handle time."""

    user_id: int | None
    interface: str
    indexes: Sequence[int]
    counts: Sequence[int] | None
    handles: Sequence[float]


def _answered_and_ended(period: Period) -> tuple[Any, ...]:
    return (
        Call.answered_at >= period.start,
        Call.answered_at < period.end,
        Call.agent_interface.is_not(None),
        # A call still going is handled once it ends.
        Call.ended_at.is_not(None),
    )


async def handled_calls(
    database: Database, period: Period, buckets: list[Bucket], edges: list[float]
) -> list[HandledCalls]:
    """The period's handled calls by saving user, interface and bucket (``edges``: every
    bucket's start, then the last one's end, as epoch seconds)."""
    if database.dialect == "postgresql" and steps_are_buckets(period):
        return await each_call(database, period, edges)
    return await summed_calls(database, period, buckets)


async def each_call(database: Database, period: Period, edges: list[float]) -> list[HandledCalls]:
    """PostgreSQL, for buckets of 15 minutes or an hour: each call's bucket and handle time,
    in one array per saving user and interface.

    A month of fifty agents by quarter hour has about as many agent-buckets as calls, so
    summing them by the database first saves no rows: grouping a hundred thousand calls into
    tens of thousands of groups cost twice as much as putting them in fifty arrays, which
    the driver decodes at C speed and Python sums in one loop."""
    thresholds = bindparam(None, edges, type_=ARRAY(DOUBLE_PRECISION))
    # width_bucket: how many edges are at or before the answer, so the bucket is one less.
    index = func.width_bucket(epoch(Call.answered_at, "postgresql"), thresholds) - 1
    handle = func.date_part("epoch", func.greatest(Call.ended_at - Call.answered_at, timedelta(0)))
    query = (
        select(
            Call.agent_user_id,
            Call.agent_interface,
            func.array_agg(index),
            func.array_agg(handle),
        )
        .where(*_answered_and_ended(period))
        .group_by(Call.agent_user_id, Call.agent_interface)
    )
    async with report_reads(database) as connection:
        rows: Sequence[Any] = (await connection.execute(query)).all()
    return [HandledCalls(user_id, interface, i, None, h) for user_id, interface, i, h in rows]


async def summed_calls(
    database: Database, period: Period, buckets: list[Bucket]
) -> list[HandledCalls]:
    """The handled calls counted and their handle times summed by the database, per saving
    user, interface and bucket (see :func:`~hcrm_core.services.reports_queues.bucket_key`):
    for buckets of a day or longer, and on SQLite."""
    dialect = database.dialect
    key, index_of = bucket_key(Call.answered_at, period, buckets, dialect)
    query: Select[Any] = (
        select(
            Call.agent_user_id,
            Call.agent_interface,
            key.label("step"),
            func.count().label("calls"),
            handle_seconds(dialect).label("handle"),
        )
        .where(*_answered_and_ended(period))
        .group_by(Call.agent_user_id, Call.agent_interface, key)
    )
    if dialect == "postgresql" and not steps_are_buckets(period):
        # Fifty agents' hours of a month are tens of thousands of rows: the database folds
        # them into buckets too, so a bucket's row per agent comes back.
        steps = query.subquery()
        bucket, index_of = bucket_of_step(steps.c.step, buckets)
        agent = (steps.c.agent_user_id, steps.c.agent_interface)
        query = select(*agent, bucket, func.sum(steps.c.calls), func.sum(steps.c.handle)).group_by(
            *agent, bucket
        )
    async with report_reads(database) as connection:
        rows = (await connection.execute(query)).all()
    groups: dict[tuple[int | None, str], tuple[list[int], list[int], list[float]]] = {}
    for user_id, interface, step, count, handle_total in rows:
        index = index_of(step)
        if index is None:
            continue
        indexes, counts, handles = groups.setdefault((user_id, interface), ([], [], []))
        indexes.append(index)
        counts.append(int(count))
        handles.append(float(handle_total or 0.0))
    return [
        HandledCalls(user_id, interface, *columns)
        for (user_id, interface), columns in groups.items()
    ]
