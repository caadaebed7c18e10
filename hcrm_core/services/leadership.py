"""Leadership among the server processes sharing one PostgreSQL database, and its fencing.

The election itself (who holds the advisory lock) runs in ``callcenter/cluster/leader.py``;
these are the statements it runs and the check every leader-only write makes.

Fencing: each takeover increments ``cluster_leadership.epoch``. A leader-only write (claiming
a campaign attempt before its Originate, placing a callback, a nightly job) runs
:meth:`Fence.check` in its own transaction: ``SELECT epoch ... FOR SHARE`` must return the
epoch this process won. The row lock makes the check and the write one step against a
takeover: the takeover's ``UPDATE ... epoch + 1`` waits for the writes that checked the old
epoch to commit, and every later check sees the new epoch and is refused. A write whose
process froze inside its transaction cannot hold a takeover up for long: the check sets
``idle_in_transaction_session_timeout`` for its transaction, so PostgreSQL ends it.

On SQLite there is one process (a second is refused at start-up): its fence has no epoch and
every check passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hcrm_core.errors import DomainError
from hcrm_core.models.cluster import LEADERSHIP_ROW, ClusterLeadership

# One advisory lock key for "the leader" (any 64-bit number no other code uses); pg_locks
# shows a bigint key as its high and low 32 bits (classid, objid).
ADVISORY_KEY = 0x484352_4C454144  # "HCR" "LEAD"
_KEY_HIGH, _KEY_LOW = ADVISORY_KEY >> 32, ADVISORY_KEY & 0xFFFFFFFF
# A leader runs its heartbeat query this often (it reads the epoch: a newer one ends its
# leadership)...
HEARTBEAT_SECONDS = 1.0
# ...and a follower takes a lock connection idle this long for a frozen leader's (its
# backend terminated). The heartbeat is a read, so it never waits behind a fenced write.
STALE_AFTER_SECONDS = 3.0
# A leader acts only this long after its last heartbeat was sent (its lease): shorter than
# STALE_AFTER_SECONDS, so it stops before a follower may take over.
LEASE_SECONDS = STALE_AFTER_SECONDS - 1.0


class Fenced(DomainError):
    """This process does not lead (any more): the leader-only write was refused."""

    code = "fenced"
    http_status = 503


@dataclass
class Fence:
    """The epoch a leader-only write must still find, and this leader's lease.

    ``epoch`` None: no fencing (SQLite's single process). ``clock`` is monotonic seconds.
    """

    epoch: int | None = None
    clock: Callable[[], float] = time.monotonic
    _lease_until: float | None = field(default=None, repr=False)
    _revoked: bool = field(default=False, repr=False)

    def grant(self, epoch: int, *, renewed_at: float) -> None:
        """Leadership won with ``epoch``; the lease runs from ``renewed_at``."""
        self.epoch = epoch
        self._revoked = False
        self.renew(renewed_at)

    def renew(self, sent_at: float) -> None:
        """A heartbeat sent at ``sent_at`` (monotonic) succeeded."""
        self._lease_until = sent_at + LEASE_SECONDS

    def revoke(self) -> None:
        """Leadership lost: every later check is refused without asking the database."""
        self._revoked = True

    @property
    def valid(self) -> bool:
        """True while this process may act as leader, as far as it knows locally."""
        if self._revoked:
            return False
        return self._lease_until is None or self.clock() < self._lease_until

    def check_lease(self) -> None:
        """Raise :class:`Fenced` when the lease ran out (a process frozen past it, its
        heartbeat late) or leadership was lost: checked before acting outside the database
        (an Originate), where no transaction can fence."""
        if not self.valid:
            raise Fenced(f"not the leader (epoch {self.epoch}): lease expired or lost")

    async def check(self, session: AsyncSession) -> None:
        """In the caller's transaction: raise :class:`Fenced` unless ``epoch`` still leads.

        Holds the leadership row ``FOR SHARE`` until the transaction ends, so no takeover
        commits between this check and the caller's write."""
        self.check_lease()
        if self.epoch is None:
            return
        timeout_ms = int(STALE_AFTER_SECONDS * 1000)
        await session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {timeout_ms}"))
        current = await session.scalar(
            select(ClusterLeadership.epoch)
            .where(ClusterLeadership.id == LEADERSHIP_ROW)
            .with_for_update(read=True)
        )
        if current != self.epoch:
            self.revoke()
            raise Fenced(f"epoch {self.epoch} was superseded by {current}")


UNFENCED = Fence()


@dataclass(frozen=True, slots=True)
class Leadership:
    """The leadership row as a follower or /healthz sees it."""

    epoch: int
    leader: str | None
    lock_pid: int | None
    elected_at: datetime | None
    # Seconds since the lock holder's last heartbeat query; None when nobody holds the lock.
    heartbeat_age: float | None


# -- the election's statements (on the lock connection, in autocommit) -----------------------


async def try_lead(conn: AsyncConnection, node: str) -> int | None:
    """Take the advisory lock and a new epoch; None when another process holds the lock."""
    got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY})
    if not got:
        return None
    epoch = await conn.scalar(
        text(
            "UPDATE cluster_leadership SET epoch = epoch + 1, leader = :node, "
            "lock_pid = pg_backend_pid(), elected_at = now() "
            "WHERE id = :row RETURNING epoch"
        ),
        {"node": node[:200], "row": LEADERSHIP_ROW},
    )
    return int(epoch)


async def heartbeat(conn: AsyncConnection, epoch: int) -> bool:
    """One heartbeat (a query on the lock connection: pg_stat_activity's ``state_change`` is
    what followers watch); False when a newer epoch took over (then the caller must stop).

    A read, not an UPDATE: the leadership row is held ``FOR SHARE`` by every fenced write in
    progress (a nightly job's may last seconds) and an UPDATE would wait for them."""
    current = await conn.scalar(
        text("SELECT epoch FROM cluster_leadership WHERE id = :row"), {"row": LEADERSHIP_ROW}
    )
    return current == epoch


_HOLDER = (
    "FROM pg_locks k JOIN pg_stat_activity a ON a.pid = k.pid "
    "WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 1 "
    "AND k.classid::bigint = :high AND k.objid::bigint = :low AND k.database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database())"
)


async def terminate_stale(conn: AsyncConnection, stale_after: float) -> int | None:
    """End the backend holding the lock when it has been idle (no heartbeat) longer than
    ``stale_after`` seconds: a leader frozen with its connection open. Returns its pid.

    PostgreSQL then releases the lock; the frozen process, if it ever wakes, finds its
    connection gone and a newer epoch."""
    pid = await conn.scalar(
        text(
            f"SELECT a.pid {_HOLDER} AND a.state = 'idle' "
            "AND a.state_change < now() - make_interval(secs => :stale)"
        ),
        {"high": _KEY_HIGH, "low": _KEY_LOW, "stale": stale_after},
    )
    if pid is None:
        return None
    # Waits (up to 1 s) until the backend is gone, so the lock is free when this returns.
    await conn.execute(text("SELECT pg_terminate_backend(:pid, 1000)"), {"pid": pid})
    return int(pid)


async def read_leadership(conn: AsyncConnection | AsyncSession) -> Leadership:
    """The leadership row and the lock holder's heartbeat age (PostgreSQL only)."""
    row = (
        await conn.execute(
            text(
                "SELECT epoch, leader, lock_pid, elected_at, "
                f"(SELECT EXTRACT(EPOCH FROM now() - a.state_change) {_HOLDER}) "
                "FROM cluster_leadership WHERE id = :row"
            ),
            {"row": LEADERSHIP_ROW, "high": _KEY_HIGH, "low": _KEY_LOW},
        )
    ).one()
    age = None if row[4] is None else float(row[4])
    return Leadership(int(row[0]), row[1], row[2], row[3], age)
