"""Agents signed in at the desk, kept in the database so a server restart does not forget them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from hcrm_core.db import Database
from hcrm_core.models import AgentSignIn, utcnow


@dataclass(frozen=True, slots=True)
class SignedIn:
    """One stored sign-in, as the desk needs it to put the agent back into their queues."""

    user_id: int
    username: str
    extension: str
    interface: str
    queues: tuple[str, ...]
    paused: bool = False
    pause_reason: str = ""
    session_bound: bool = True


class AgentSignIns:
    """Read and write the ``agent_sign_ins`` table; each call is its own transaction."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(self, signed_in: SignedIn) -> None:
        """Record a sign-in (replacing the agent's previous one, and any other on the phone)."""
        async with self._db.transaction() as session:
            await session.execute(
                delete(AgentSignIn).where(
                    (AgentSignIn.user_id == signed_in.user_id)
                    | (AgentSignIn.interface == signed_in.interface)
                )
            )
            session.add(
                AgentSignIn(
                    user_id=signed_in.user_id,
                    username=signed_in.username,
                    extension=signed_in.extension,
                    interface=signed_in.interface,
                    queues=list(signed_in.queues),
                    paused=signed_in.paused,
                    pause_reason=signed_in.pause_reason,
                    session_bound=signed_in.session_bound,
                )
            )

    async def set_pause(self, user_id: int, paused: bool, reason: str) -> None:
        async with self._db.transaction() as session:
            row = await session.get(AgentSignIn, user_id)
            if row is not None:
                row.paused, row.pause_reason, row.updated_at = paused, reason, utcnow()

    async def remove(self, user_id: int) -> None:
        async with self._db.transaction() as session:
            await session.execute(delete(AgentSignIn).where(AgentSignIn.user_id == user_id))

    async def all(self) -> list[SignedIn]:
        async with self._db.session() as session:
            rows = await session.scalars(select(AgentSignIn).order_by(AgentSignIn.username))
            return [
                SignedIn(
                    user_id=r.user_id,
                    username=r.username,
                    extension=r.extension,
                    interface=r.interface,
                    queues=tuple(r.queues),
                    paused=r.paused,
                    pause_reason=r.pause_reason,
                    session_bound=r.session_bound,
                )
                for r in rows
            ]
