"""Agent state history: storing the desk's state changes and reading them back per period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, insert, select, true, union_all
from sqlalchemy.orm import aliased

from hcrm_core.db import Database
from hcrm_core.models import AgentStateChange, User


@dataclass(frozen=True, slots=True)
class StateChange:
    """One change as the desk saw it (``at`` timezone-aware)."""

    user_id: int
    username: str
    extension: str
    state: str
    pause_reason: str
    at: datetime


async def store_changes(database: Database, changes: Sequence[StateChange]) -> None:
    """Insert a batch of changes in one transaction."""
    if not changes:
        return
    async with database.session() as session:
        known = set(
            await session.scalars(select(User.id).where(User.id.in_({c.user_id for c in changes})))
        )
    # A status the server made for a user since deleted (or a robot's) is not history.
    rows = [
        {
            "user_id": c.user_id,
            "username": c.username,
            "extension": c.extension,
            "state": c.state,
            "pause_reason": c.pause_reason,
            "at": c.at,
        }
        for c in changes
        if c.user_id in known
    ]
    if not rows:
        return
    async with database.transaction() as session:
        await session.execute(insert(AgentStateChange), rows)


async def changes_in(
    database: Database, start: datetime, end: datetime, user_ids: Sequence[int] | None = None
) -> list[StateChange]:
    """The changes in ``[start, end)``, plus each agent's last change before ``start`` (the
    state the period begins in), ordered by agent and time."""
    agents: ColumnElement[bool] = (
        AgentStateChange.user_id.in_(user_ids) if user_ids is not None else true()
    )
    # Each agent's last change before the period (the state it opens in): one index seek per
    # agent on (user_id, at), where a GROUP BY over every earlier change grows with history.
    earlier = aliased(AgentStateChange)
    last_before = (
        select(earlier.id)
        .where(earlier.user_id == User.id, earlier.at < start)
        .order_by(earlier.at.desc(), earlier.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    opening_ids = select(last_before).select_from(User)
    if user_ids is not None:
        opening_ids = opening_ids.where(User.id.in_(user_ids))
    columns = (
        AgentStateChange.id,
        AgentStateChange.user_id,
        AgentStateChange.username,
        AgentStateChange.extension,
        AgentStateChange.state,
        AgentStateChange.pause_reason,
        AgentStateChange.at,
    )
    opening = select(*columns).where(AgentStateChange.id.in_(opening_ids))
    inside = select(*columns).where(agents, AgentStateChange.at >= start, AgentStateChange.at < end)
    both = union_all(opening, inside).subquery()
    ordered = select(*both.c).order_by(both.c.user_id, both.c.at, both.c.id)
    async with database.session() as session:
        connection = await session.connection()
        # Plain rows, not ORM objects: a month of a large centre is tens of thousands of them.
        rows = (await connection.execute(ordered)).all()
    return [StateChange(*r[1:]) for r in rows]
