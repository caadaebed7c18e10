"""Login throttle state in the database (``login_failures``, ``login_backoffs``), shared by
every server process, so an attacker gains nothing by spreading guesses over them.

:func:`reserve` checks and books an attempt in one write transaction that holds the address's
lock: on SQLite the write transaction itself (``BEGIN IMMEDIATE``: one writer at a time), on
PostgreSQL a transaction-scoped advisory lock on the address. So of many concurrent attempts
from one address, on any processes, exactly as many pass as the rules allow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.db import Database
from hcrm_core.models import LoginBackoff, LoginFailure

# The first key of PostgreSQL's two-key advisory locks taken here ("LGIN"): the two-key space
# does not overlap the one-key space other parts use.
_LOCK_CLASS = 0x4C47494E


@dataclass(frozen=True, slots=True)
class ThrottleRules:
    """The two rules (see :mod:`web_console.throttle`)."""

    max_per_address: int = 20
    window_seconds: float = 15 * 60
    free_failures: int = 3
    base_delay: float = 1.0
    max_delay: float = 15 * 60

    def delay_after(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures of one account from one address."""
        if failures < self.free_failures:
            return 0.0
        doublings = min(failures - self.free_failures, 32)  # 2**32 s is past any cap
        return float(min(self.max_delay, self.base_delay * 2**doublings))

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)


def _address_lock_key(address: str) -> int:
    return int.from_bytes(hashlib.sha256(address.encode()).digest()[:4], "big", signed=True)


async def _lock_address(database: Database, session: AsyncSession, address: str) -> None:
    if database.dialect == "postgresql":
        await session.execute(
            select(func.pg_advisory_xact_lock(_LOCK_CLASS, _address_lock_key(address)))
        )


async def reserve(
    database: Database, rules: ThrottleRules, account: str, address: str, now: datetime
) -> int | None:
    """Book an attempt as a failure and return its id, or None when it must wait."""
    cutoff = now - rules.window
    async with database.transaction() as session:
        await _lock_address(database, session, address)
        await session.execute(
            delete(LoginFailure).where(LoginFailure.address == address, LoginFailure.at <= cutoff)
        )
        recent = await session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.address == address)
        )
        pair = await session.get(LoginBackoff, (account, address))
        if pair is not None and max(pair.last_at, pair.next_allowed_at) < cutoff:
            # Failures are forgotten a window after the last attempt or the end of the delay.
            await session.delete(pair)
            await session.flush()
            pair = None
        if int(recent or 0) >= rules.max_per_address:
            return None
        if pair is not None and pair.failures >= rules.free_failures and now < pair.next_allowed_at:
            return None
        failure = LoginFailure(address=address, at=now)
        session.add(failure)
        if pair is None:
            pair = LoginBackoff(account=account, address=address, failures=0)
            session.add(pair)
        pair.failures += 1
        pair.last_at = now
        pair.next_allowed_at = now + timedelta(seconds=rules.delay_after(pair.failures))
        await session.flush()
        return failure.id


async def give_back(database: Database, account: str, address: str, failure_id: int) -> None:
    """A right password: the attempt's failure and the pair's delay are forgotten."""
    async with database.transaction() as session:
        await session.execute(delete(LoginFailure).where(LoginFailure.id == failure_id))
        await session.execute(
            delete(LoginBackoff).where(
                LoginBackoff.account == account, LoginBackoff.address == address
            )
        )


async def forget_stale(database: Database, rules: ThrottleRules, now: datetime) -> None:
    """Drop what no rule counts any more (many guessed usernames must not grow the tables)."""
    cutoff = now - rules.window
    async with database.transaction() as session:
        await session.execute(delete(LoginFailure).where(LoginFailure.at <= cutoff))
        await session.execute(
            delete(LoginBackoff).where(
                LoginBackoff.last_at < cutoff, LoginBackoff.next_allowed_at < cutoff
            )
        )
