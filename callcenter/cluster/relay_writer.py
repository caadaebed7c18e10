"""The relay's way out: this process's events written to ``cluster_events``, in order, once.

The bus subscriber only queues (:meth:`RelayWriter.put`), so a database that does not answer
never holds up the bus. One task writes the queued events oldest first; a write that fails
because the database is away is tried again (back-off) before any later event, so the other
processes receive every event in the order it was published. While it fails, the events wait
in memory, up to ``pending_limit`` (the oldest dropped beyond it, counted).

Once: a write cut after its commit but before its answer reached us must not be written again.
Only this writer writes rows of its origin, one at a time, so before writing again it looks for
a row of its origin past the last one it knows: if there is one, that was the event.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from callcenter.cluster.relay import RelaySettings, RelayStats

_LOG = logging.getLogger(__name__)

CHANNEL = "callcenter_events"
# The writer's connections, as pg_stat_activity names them.
WRITER_NAME = "callcenter-event-relay-writer"
# NOTIFY payloads are limited to 8000 bytes: a bigger event travels by its id only.
_INLINE_LIMIT = 7000
# One write, waiting for a pool connection included.
_WRITE_TIMEOUT = 5.0
# The database is away, restarting or failing over: the write is tried again. Any other
# error refuses that one event.
_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.ReadOnlySQLTransactionError,
)

_INSERT = """
WITH row AS (
    INSERT INTO cluster_events (origin, kind, payload, at)
    VALUES ($1, $2, $3::json, now())
    RETURNING id, at
)
SELECT id, pg_notify($4, json_build_object(
    'id', id, 'o', $1::text, 'k', $2::text, 'at', at,
    'p', CASE WHEN length($3::text) <= $5::int THEN $3::json END
)::text) FROM row
"""
_WRITTEN_SINCE = """
SELECT id FROM cluster_events WHERE origin = $1 AND id > $2 ORDER BY id LIMIT 1
"""


@dataclass(frozen=True, slots=True, eq=False)
class _Outgoing:
    """An event on its way to ``cluster_events``: its type's name and its JSON."""

    kind: str
    payload: str


class RelayWriter:
    """Writes the queued events of ``origin``; counts in the relay's ``stats``."""

    def __init__(self, origin: str, settings: RelaySettings, stats: RelayStats) -> None:
        self._origin = origin
        self._settings = settings
        self._stats = stats
        self._pending: deque[_Outgoing] = deque()
        self._have_pending = asyncio.Event()
        self._all_written = asyncio.Event()
        self._all_written.set()
        self._failing = False
        # The event whose last write got no answer (it may have committed), and the id of the
        # newest row this writer knows it wrote.
        self._in_doubt: _Outgoing | None = None
        self._last_id = 0

    @property
    def pending(self) -> int:
        """Events queued and not written yet."""
        return len(self._pending)

    def put(self, kind: str, payload: str) -> None:
        """Queue one event (never waits); beyond ``pending_limit`` the oldest is dropped."""
        if len(self._pending) >= self._settings.pending_limit:
            lost = self._pending.popleft()
            self._stats.dropped += 1
            if self._stats.dropped == 1 or self._stats.dropped % 1000 == 0:
                _LOG.error(
                    "event relay keeps %d events at most: dropped the oldest (%s), %d so far",
                    self._settings.pending_limit,
                    lost.kind,
                    self._stats.dropped,
                )
        self._pending.append(_Outgoing(kind, payload))
        self._all_written.clear()
        self._have_pending.set()

    async def written(self) -> None:
        """Return once every queued event is written (no limit: wrap it in a timeout)."""
        await self._all_written.wait()

    async def write_forever(self, pool: asyncpg.Pool) -> None:
        """Write the queued events oldest first, trying a failed write again (back-off)."""
        delay = self._settings.reconnect_min_seconds
        while True:
            if not self._pending:
                self._all_written.set()
                self._have_pending.clear()
                await self._have_pending.wait()
                continue
            event = self._pending[0]
            try:
                await self._write(pool, event)
            except _UNREACHABLE as exc:
                self._stats.send_failed += 1
                if not self._failing:
                    _LOG.warning(
                        "event relay cannot write (%s): keeping the events, trying again",
                        type(exc).__name__,
                    )
                    self._failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._settings.reconnect_max_seconds)
                continue
            except asyncpg.PostgresError as exc:
                # Refused, not away (a broken schema): trying again would hold every later one.
                self._in_doubt = None
                self._stats.dropped += 1
                self._done_with(event)
                _LOG.error("event relay could not write a %s: %s", event.kind, exc)
            delay = self._settings.reconnect_min_seconds
            if self._failing:
                self._failing = False
                _LOG.info("event relay writes again (%d event(s) pending)", len(self._pending))

    async def _write(self, pool: asyncpg.Pool, event: _Outgoing) -> None:
        async with asyncio.timeout(_WRITE_TIMEOUT), pool.acquire() as conn:
            if self._in_doubt is not None:
                # The last write got no answer: it may have committed all the same.
                row_id = await conn.fetchval(_WRITTEN_SINCE, self._origin, self._last_id)
                doubted, self._in_doubt = self._in_doubt, None
                if row_id is not None:
                    self._written(doubted, row_id)
                    return
            self._in_doubt = event
            row = await conn.fetchrow(
                _INSERT, self._origin, event.kind, event.payload, CHANNEL, _INLINE_LIMIT
            )
            self._in_doubt = None
            assert row is not None
            self._written(event, row["id"])

    def _written(self, event: _Outgoing, row_id: int) -> None:
        self._last_id = row_id
        self._stats.sent += 1
        self._done_with(event)

    def _done_with(self, event: _Outgoing) -> None:
        # The oldest may have been dropped meanwhile (the limit reached during the write).
        if self._pending and self._pending[0] is event:
            self._pending.popleft()
