"""The stretches of the agents' states over a report's period, from the state history.

Each state lasts from its change to the agent's next one; the state an agent was in when the
period began counts from the period's start, and the last one runs to the period's end or
now, whichever is earlier (``until``). A stretch is (user, state, pause reason, begin, end),
the times as epoch seconds, in the order of the changes; empty stretches are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, union_all
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.orm import aliased

from hcrm_core.db import Database
from hcrm_core.models import AgentStateChange, User
from hcrm_core.services.agent_history import changes_in
from hcrm_core.services.reports_period import Period
from hcrm_core.services.reports_queues import epoch, report_reads

Stretch = tuple[int, str, str, float, float]


async def stretches(
    database: Database, period: Period, user_ids: Sequence[int], until: float
) -> list[Stretch]:
    """The agents' (``user_ids``) stretches inside the period, up to ``until``."""
    if database.dialect == "postgresql":
        return await stretches_in_sql(database, period, user_ids, until)
    return await stretches_of_changes(database, period, user_ids, until)


async def stretches_of_changes(
    database: Database, period: Period, user_ids: Sequence[int], until: float
) -> list[Stretch]:
    """The stretches cut from the changes in Python (SQLite: its times in SQL are
    ``julianday`` arithmetic, good to a millisecond or so)."""
    changes = await changes_in(database, period.start, period.end, user_ids)
    start = period.start.timestamp()
    result = []
    # The last change has no following one (none at all when there are no changes).
    for change, following in zip(changes, [*changes[1:], None], strict=False):
        begin = max(change.at.timestamp(), start)
        end = until
        if following is not None and following.user_id == change.user_id:
            end = min(following.at.timestamp(), until)
        if end > begin:
            result.append((change.user_id, change.state, change.pause_reason, begin, end))
    return result


async def stretches_in_sql(
    database: Database, period: Period, user_ids: Sequence[int], until: float
) -> list[Stretch]:
    """PostgreSQL: each stretch made by the database (the next change by ``lead``), as epoch
    seconds: a month of fifty agents is some 11,000 changes, and the rows of plain numbers
    cost a third of the changes as objects (measured)."""
    change = AgentStateChange
    # Each agent's last change before the period (the state it opens in): one index seek per
    # agent on (user_id, at), as in changes_in.
    earlier = aliased(AgentStateChange)
    last_before = (
        select(earlier.id)
        .where(earlier.user_id == User.id, earlier.at < period.start)
        .order_by(earlier.at.desc(), earlier.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    opening_ids = select(last_before).select_from(User).where(User.id.in_(user_ids))
    columns = (change.id, change.user_id, change.state, change.pause_reason, change.at)
    changes = union_all(
        select(*columns).where(change.id.in_(opening_ids)),
        select(*columns).where(
            change.user_id.in_(user_ids), change.at >= period.start, change.at < period.end
        ),
    ).subquery()
    following = func.lead(changes.c.at).over(
        partition_by=changes.c.user_id, order_by=(changes.c.at, changes.c.id)
    )
    start_at = bindparam(None, period.start.timestamp(), type_=DOUBLE_PRECISION)
    until_at = bindparam(None, until, type_=DOUBLE_PRECISION)
    made = select(
        changes.c.user_id,
        changes.c.state,
        changes.c.pause_reason,
        func.greatest(epoch(changes.c.at, "postgresql"), start_at).label("begin"),
        func.least(func.coalesce(epoch(following, "postgresql"), until_at), until_at).label("end"),
        changes.c.at,
        changes.c.id,
    ).subquery()
    query: Any = (
        select(made.c.user_id, made.c.state, made.c.pause_reason, made.c.begin, made.c.end)
        .where(made.c.end > made.c.begin)
        .order_by(made.c.user_id, made.c.at, made.c.id)
    )
    async with report_reads(database) as connection:
        rows: list[Stretch] = list((await connection.execute(query)).all())
    return rows
