"""Agent state history: storing the desk's state changes and reading them back per period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, insert, select, true

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
    # Two index-friendly reads: the changes inside the period, and each agent's last change
    # before it (the state the period opens in).
    last_before = (
        select(AgentStateChange.user_id, func.max(AgentStateChange.at).label("at"))
        .where(AgentStateChange.at < start, agents)
        .group_by(AgentStateChange.user_id)
        .subquery()
    )
    columns = (
        AgentStateChange.id,
        AgentStateChange.user_id,
        AgentStateChange.username,
        AgentStateChange.extension,
        AgentStateChange.state,
        AgentStateChange.pause_reason,
        AgentStateChange.at,
    )
    opening = select(*columns).join(
        last_before,
        and_(
            AgentStateChange.user_id == last_before.c.user_id,
            AgentStateChange.at == last_before.c.at,
        ),
    )
    inside = select(*columns).where(agents, AgentStateChange.at >= start, AgentStateChange.at < end)
    async with database.session() as session:
        rows = [*(await session.execute(opening)).all(), *(await session.execute(inside)).all()]
    # Plain rows, not ORM objects: a month of a large centre is tens of thousands of them.
    rows.sort(key=lambda r: (r.user_id, r.at, r.id))
    return [StateChange(*r[1:]) for r in rows]
