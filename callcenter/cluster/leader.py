"""One leader among the server processes on one PostgreSQL database (issue 18).

What must happen once (the dialer, callback placing, their reconcile, the nightly jobs) runs on
the leader only: :class:`LeaderElection` starts those parts when this process wins and stops
them, in reverse, the moment it loses.

The leader holds ``pg_try_advisory_lock`` on a connection of its own (not the pool's: a lock
belongs to the session that took it). Followers try again every ``retry_seconds`` (1 s).

- **Leader killed** (``kill -9``, a crash, the machine gone): the kernel closes its socket,
  PostgreSQL ends its backend and releases the lock; a follower wins at its next try (~1 s).
- **Leader frozen** (SIGSTOP, a stalled VM) with its connection open: it stops its heartbeat
  query (every ``HEARTBEAT_SECONDS``); a follower that finds the lock holder's connection idle
  longer than ``STALE_AFTER_SECONDS`` (3 s, pg_stat_activity's ``state_change``) terminates
  that backend (``pg_terminate_backend``) and takes the lock: within 5 s of the freeze. A
  live leader whose loop is blocked that long is treated the same way: it loses, then follows.
- **Old leader wakes up**: every leader-only write is fenced by the epoch (see
  :mod:`hcrm_core.services.leadership`), and the Originates it would send are checked against
  its lease (its last heartbeat plus ``LEASE_SECONDS``, shorter than the stale bound), so it
  neither writes nor dials; its next heartbeat fails and it stops its leader-only parts.
- **Lock connection lost or a newer epoch seen** by the leader: it stops its parts at once.

On SQLite there is one process (a second is refused at start-up): it leads from the start,
with no lock and no epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from hcrm_core.db import Database
from hcrm_core.services.leadership import (
    HEARTBEAT_SECONDS,
    STALE_AFTER_SECONDS,
    Fence,
    heartbeat,
    terminate_stale,
    try_lead,
)

_LOG = logging.getLogger(__name__)

# A heartbeat that takes this long counts as lost (a network partition hangs, never fails).
HEARTBEAT_TIMEOUT_SECONDS = 1.5
# The takeover's UPDATE must not wait forever behind a frozen writer's row lock.
_LOCK_TIMEOUT_MS = "2000"

Action = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LeaderPart:
    """One part that runs on the leader only: started when leadership is won, stopped when
    it is lost or the server stops."""

    name: str
    start: Action
    stop: Action


def node_name(port: int | None = None) -> str:
    """``host:pid`` (and the console's port): who leads, in logs and on /healthz."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    return f"{name}:{port}" if port is not None else name


class LeaderElection:
    """See the module docstring. ``parts`` start in order when elected, stop in reverse."""

    def __init__(
        self,
        database: Database,
        *,
        node: str,
        retry_seconds: float = 1.0,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = database
        self.node = node
        self._retry = retry_seconds
        self._heartbeat = heartbeat_seconds
        self._stale_after = stale_after
        self._clock = clock
        self.fence = Fence(clock=clock)
        self.parts: list[LeaderPart] = []
        self._follow_hooks: list[Callable[[], None]] = []
        self._running: list[LeaderPart] = []
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.is_leader = False
        self.elections_won = 0
        self.elected = asyncio.Event()

    @property
    def clustered(self) -> bool:
        return self._db.dialect == "postgresql"

    def add(self, name: str, start: Action, stop: Action) -> None:
        self.parts.append(LeaderPart(name, start, stop))

    def when_following(self, hook: Callable[[], None]) -> None:
        """``hook`` puts a part in follower mode (it settles nothing the leader owns): run now
        when clustered (until it wins, a process follows: register before the AMI bridge's
        first resync) and again whenever leadership is lost, not when the server stops."""
        self._follow_hooks.append(hook)
        if self.clustered:
            hook()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """SQLite: lead now. PostgreSQL: try once now (the first process leads before it
        serves), then keep trying, or keep the heartbeat, in the background."""
        if not self.clustered:
            await self._won(None)
            return
        self._engine = create_async_engine(
            self._db.url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "server_settings": {
                    "application_name": f"callcenter-leader {self.node}"[:63],
                    "lock_timeout": _LOCK_TIMEOUT_MS,
                }
            },
        )
        await self.step()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="leader-election")

    async def stop(self) -> None:
        """Stop the leader-only parts, then release the lock (closing its connection) so a
        follower takes over at its next try."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.is_leader:
            await self._lose("server stopping", level=logging.INFO, stopping=True)
        await self._close()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def health(self) -> dict[str, Any]:
        return {
            "leader": self.is_leader,
            "epoch": self.fence.epoch,
            "node": self.node,
            "clustered": self.clustered,
            "parts": [part.name for part in self._running],
        }

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat if self.is_leader else self._retry)
            await self.step()

    async def step(self) -> None:
        """One round: a follower tries to lead (ending a frozen leader's backend first); the
        leader renews its heartbeat. Any failure of the lock connection ends leadership."""
        try:
            conn = await self._connection()
            if self.is_leader:
                await self._renew(conn)
            else:
                await self._try(conn)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            reason = f"lock connection lost ({type(exc).__name__})"
            if self.is_leader:
                await self._lose(reason)
            else:
                _LOG.warning("leader election: %s; retrying", reason)
            await self._close()

    async def _try(self, conn: AsyncConnection) -> None:
        epoch = await try_lead(conn, self.node)
        if epoch is None:
            pid = await terminate_stale(conn, self._stale_after)
            if pid is None:
                return
            _LOG.warning(
                "leader's lock connection idle over %.1fs (no heartbeat): backend pid=%s ended",
                self._stale_after,
                pid,
            )
            epoch = await try_lead(conn, self.node)
            if epoch is None:
                return
        await self._won(epoch)

    async def _renew(self, conn: AsyncConnection) -> None:
        sent = self._clock()
        epoch = self.fence.epoch
        assert epoch is not None
        lapsed = not self.fence.valid
        async with asyncio.timeout(HEARTBEAT_TIMEOUT_SECONDS):
            renewed = await heartbeat(conn, epoch)
        if not renewed:
            await self._lose("a newer epoch took over")
            await self._close()
            return
        if lapsed:
            # This loop was late past the lease (the process stalled: a busy machine, a pause).
            # Meanwhile the fence refused every Originate and fenced write. The lock connection
            # still answers and the epoch is ours, so no follower took over (a takeover ends
            # this backend or raises the epoch): carry on, without restarting every part.
            _LOG.warning("leader's lease lapsed (the process stalled); renewed, still leader")
        self.fence.renew(sent)

    async def _won(self, epoch: int | None) -> None:
        if epoch is not None:
            self.fence.grant(epoch, renewed_at=self._clock())
        self.is_leader = True
        self.elections_won += 1
        self.elected.set()
        _LOG.info("leader elected: node=%s epoch=%s", self.node, epoch if epoch else "-")
        for part in self.parts:
            try:
                await part.start()
            except Exception:
                # One part that cannot start (say, no caller ID for the dialer) must not keep
                # the others from running: it is logged and left out.
                _LOG.exception("leader part %s failed to start", part.name)
                continue
            self._running.append(part)

    async def _lose(
        self, reason: str, *, level: int = logging.WARNING, stopping: bool = False
    ) -> None:
        self.fence.revoke()
        self.is_leader = False
        self.elected.clear()
        _LOG.log(
            level, "leadership ended: node=%s epoch=%s: %s", self.node, self.fence.epoch, reason
        )
        while self._running:
            part = self._running.pop()
            try:
                await part.stop()
            except Exception:
                _LOG.exception("leader part %s failed to stop", part.name)
        if not stopping:
            for hook in self._follow_hooks:
                hook()

    # -- the lock connection -----------------------------------------------------------------

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            assert self._engine is not None
            self._conn = await self._engine.connect()
        return self._conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        # Dropping the session releases the advisory lock (if it still held it); invalidated,
        # not closed politely: a half-dead connection must not hang the step.
        with contextlib.suppress(SQLAlchemyError, OSError, DBAPIError):
            await conn.invalidate()
