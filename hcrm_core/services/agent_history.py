"""Agent state history: storing the desk's state changes and reading them back per period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, insert, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession
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


# The first key of the two-key advisory lock that serialises writers of the history ("AHST").
_LOCK_CLASS = 0x41485354


async def store_changes(database: Database, changes: Sequence[StateChange]) -> int:
    """Insert, in one transaction, the changes not stored yet; returns how many were stored.

    Several server processes see every change, each at its own time (milliseconds apart).
    One stores them (the leader), but at a hand-over a new leader stores the changes it saw
    that its predecessor may not have stored, and an old leader that was frozen may still
    write its last batch: of an agent's changes, only those after the agent's last stored one
    are stored (:func:`not_stored`), so no change is stored twice and the reports' sums do not
    double. On PostgreSQL writers take turns (an advisory lock), so each reads what the
    others wrote.
    """
    if not changes:
        return 0
    async with database.transaction() as session:
        if database.dialect == "postgresql":
            await session.execute(select(func.pg_advisory_xact_lock(_LOCK_CLASS, 0)))
        by_user: dict[int, list[StateChange]] = {}
        for change in changes:
            by_user.setdefault(change.user_id, []).append(change)
        last = await _last_stored(session, set(by_user))
        # A status the server made for a user since deleted (or a robot's) is not history.
        new = [c for user_id, stored in last.items() for c in not_stored(stored, by_user[user_id])]
        if new:
            await session.execute(
                insert(AgentStateChange),
                [
                    {
                        "user_id": c.user_id,
                        "username": c.username,
                        "extension": c.extension,
                        "state": c.state,
                        "pause_reason": c.pause_reason,
                        "at": c.at,
                    }
                    for c in new
                ],
            )
    return len(new)


def not_stored(last: StateChange | None, changes: Sequence[StateChange]) -> list[StateChange]:
    """Of one agent's ``changes``, those to store after ``last`` (their last stored change):
    the ones not earlier, in the order seen, without a change equal to the one before it (a
    process never shows one state twice in a row: it is the stored change as another process
    saw it, a moment apart).

    A copy is told apart by its time only: two changes of one agent closer together than two
    processes' views of one event (milliseconds; a ring and its answer are seconds apart)
    may be stored twice at a hand-over."""
    new: list[StateChange] = []
    before = (last.state, last.pause_reason) if last is not None else None
    for change in changes:
        if last is not None and change.at < last.at:
            continue
        if (change.state, change.pause_reason) != before:
            new.append(change)
            before = (change.state, change.pause_reason)
    return new


async def _last_stored(session: AsyncSession, user_ids: set[int]) -> dict[int, StateChange | None]:
    """The known users among ``user_ids``, each with their last stored change (if any)."""
    earlier = aliased(AgentStateChange)
    last_id = (
        select(earlier.id)
        .where(earlier.user_id == User.id)
        .order_by(earlier.at.desc(), earlier.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    known = (await session.execute(select(User.id, last_id).where(User.id.in_(user_ids)))).all()
    last: dict[int, StateChange | None] = {user_id: None for user_id, _ in known}
    ids = [row_id for _, row_id in known if row_id is not None]
    if ids:
        rows = await session.scalars(select(AgentStateChange).where(AgentStateChange.id.in_(ids)))
        for row in rows:
            last[row.user_id] = StateChange(
                row.user_id, row.username, row.extension, row.state, row.pause_reason, row.at
            )
    return last


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
