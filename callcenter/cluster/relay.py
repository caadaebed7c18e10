"""Events to every process: what only this process saw goes to the others through PostgreSQL.

Every server process has its own AMI session and call tracker, so what Asterisk reports reaches
every process anyway. Some events are born in one process only: the IVR steps of a FastAGI
dialog it served (the agent's pop shows them, whichever process the agent's browser is on), the
queues changed in its console. The relay carries those (the event types the composition root
names, each with ``to_dict``/``from_dict``):

- out: each such event published on the local bus is written to ``cluster_events`` and
  announced with ``NOTIFY`` in the same statement (the notification carries the event itself
  when it is small, else its id only). One writer sends them in the order they were published;
  while the database does not answer they wait in memory (``pending_limit``, the oldest
  dropped beyond it) and the write is tried again with back-off;
- in: a dedicated connection ``LISTEN``s; every other process's event is published on the
  local bus, marked so that it is never relayed again. Our own notifications are skipped
  (the local subscribers had the event already).
- catch-up: a listening connection that drops is opened again (with backoff), and the rows
  written meanwhile are read (``id`` above the newest seen, plus a few seconds before it: ids
  are taken at insert and committed in any order), so nothing is missed; ids already seen are
  not published twice.
- rows older than ``retention`` are deleted (every process prunes; deleting twice is harmless).

SQLite means one process: there is no relay (:func:`start_relay` returns an idle one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol, Self

import asyncpg
from sqlalchemy.engine import make_url

from callcenter.bus import EventBus, Subscription
from callcenter.cluster.relay_writer import CHANNEL, WRITER_NAME, RelayWriter

_LOG = logging.getLogger(__name__)

# The listening connection, as pg_stat_activity names it (for operators and tests).
LISTENER_NAME = "callcenter-event-relay"
# A row committed later than a newer one is still read by a catch-up within this window.
_CATCH_UP_OVERLAP_SECONDS = 5
_SEEN_KEPT = 20_000
_CONNECT_TIMEOUT = 5.0

_MISSED = """
SELECT id, kind, payload::text AS payload, at FROM cluster_events
WHERE origin <> $1
    AND (id > $2 OR at >= $3::timestamptz - make_interval(secs => $4::double precision))
ORDER BY id
"""
_ONE = "SELECT id, kind, payload::text AS payload, at FROM cluster_events WHERE id = $1"
_HORIZON = "SELECT coalesce(max(id), 0) AS id, now() AS at FROM cluster_events"
_PRUNE = "DELETE FROM cluster_events WHERE at < now() - make_interval(secs => $1::double precision)"


class Relayable(Protocol):
    """An event type the relay can carry: plain data out, the same event back."""

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self: ...


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """How long rows are kept, how a lost listening connection is noticed and reopened, and
    how many events wait for a database that does not answer."""

    retention_seconds: float = 3600.0
    prune_every_seconds: float = 60.0
    # An idle listening connection is probed this often (a dead peer sends no FIN).
    keepalive_seconds: float = 5.0
    # Reopening the listening connection, and trying a failed write again: doubling between.
    reconnect_min_seconds: float = 0.2
    reconnect_max_seconds: float = 10.0
    # Events kept while they cannot be written (an hour of IVR steps of a busy call center is
    # a few thousand); beyond it the oldest are dropped, counted.
    pending_limit: int = 10_000


@dataclass
class RelayStats:
    """Counters for ``/metrics`` and the logs."""

    sent: int = 0
    # Writes that failed (the event is kept and written again), and events given up: the
    # oldest beyond ``pending_limit``, or one the database refused outright.
    send_failed: int = 0
    dropped: int = 0
    received: int = 0
    caught_up: int = 0
    reconnects: int = 0
    listening: bool = False


def process_origin() -> str:
    """A name for this process in the events it writes: host, pid and a random part (a pid
    is reused after a restart)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+asyncpg://``) as a plain libpq DSN for asyncpg."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class EventRelay:
    """Relays the ``kinds`` of events between processes; see the module docstring."""

    def __init__(
        self,
        bus: EventBus,
        dsn: str,
        kinds: Sequence[type[Relayable]],
        *,
        origin: str | None = None,
        settings: RelaySettings | None = None,
    ) -> None:
        self._bus = bus
        self._dsn = dsn
        self._kinds = {kind.__name__: kind for kind in kinds}
        self._types = tuple(kinds)
        self.origin = origin or process_origin()
        self._settings = settings or RelaySettings()
        self.stats = RelayStats()
        self._pool: asyncpg.Pool | None = None
        self._subscription: Subscription[Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()
        self._newest_id = 0
        self._newest_at: datetime | None = None
        # True while an event from another process is being published here: the relay's own
        # subscription must not send it back out.
        self._republishing = False
        self._writer = RelayWriter(self.origin, self._settings, self.stats)
        # The listening connection's backend (pg_stat_activity's pid), while connected.
        self.listener_pid: int | None = None

    async def start(self) -> None:
        """Open the write pool, note where the events stand, then relay both ways."""
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=1,
            max_size=2,
            timeout=_CONNECT_TIMEOUT,
            server_settings={"application_name": WRITER_NAME},
        )
        horizon = await self._pool.fetchrow(_HORIZON)
        assert horizon is not None
        self._newest_id, self._newest_at = horizon["id"], horizon["at"]
        self._subscription = self._bus.subscribe(
            object,
            self._send,
            name="cluster-relay",
            predicate=self._wants,
            maxsize=50_000,
        )
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen_forever(), name="cluster-relay-listen"),
            loop.create_task(self._writer.write_forever(self._pool), name="cluster-relay-write"),
            loop.create_task(self._prune_forever(), name="cluster-relay-prune"),
        ]
        _LOG.info("event relay started as %s (%s)", self.origin, ", ".join(self._kinds))

    async def stop(self) -> None:
        """Stop listening; events published so far are sent first (up to a few seconds)."""
        if self._subscription is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await self._subscription.join()
                    await self._writer.written()
            await self._subscription.close()
        if self._writer.pending:
            _LOG.warning("event relay stops with %d event(s) not written", self._writer.pending)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            await self._pool.close()

    def health(self) -> dict[str, Any]:
        """For ``/metrics``: whether it listens, its counters, the events not written yet."""
        return {"enabled": True, **asdict(self.stats), "pending": self.pending}

    @property
    def pending(self) -> int:
        """Events published here and not written yet (the database did not answer)."""
        return self._writer.pending

    # -- out ---------------------------------------------------------------------------------

    def _wants(self, event: object) -> bool:
        return not self._republishing and isinstance(event, self._types)

    async def _send(self, event: Relayable) -> None:
        # Queued only: the writer sends the events in order, and keeps them while the database
        # does not answer (callcenter/cluster/relay_writer.py).
        payload = json.dumps(event.to_dict(), default=str, separators=(",", ":"))
        self._writer.put(type(event).__name__, payload)

    # -- in ----------------------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        delay = self._settings.reconnect_min_seconds
        while True:
            try:
                await self._listen_once()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self.stats.listening = False
                self.stats.reconnects += 1
                _LOG.warning(
                    "event relay lost its listening connection (%s); again in %.1f s",
                    type(exc).__name__,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._settings.reconnect_max_seconds)

    async def _listen_once(self) -> None:
        conn = await asyncpg.connect(
            self._dsn,
            timeout=_CONNECT_TIMEOUT,
            server_settings={"application_name": LISTENER_NAME},
        )
        try:
            # LISTEN first, then read what was missed: an event in between arrives twice
            # (as a row and as a notification) and the seen ids drop the second.
            self.listener_pid = conn.get_server_pid()
            await conn.add_listener(CHANNEL, self._on_notify)
            rows = await conn.fetch(
                _MISSED,
                self.origin,
                self._newest_id,
                self._newest_at,
                _CATCH_UP_OVERLAP_SECONDS,
                timeout=_CONNECT_TIMEOUT,
            )
            caught = sum(self._deliver_row(row) for row in rows)
            self.stats.caught_up += caught
            if caught:
                _LOG.info("event relay caught up %d event(s) missed while not listening", caught)
            self.stats.listening = True
            await self._serve(conn)
        finally:
            self.stats.listening = False
            with contextlib.suppress(Exception):
                await conn.close(timeout=1.0)

    async def _serve(self, conn: asyncpg.Connection) -> None:
        keepalive = self._settings.keepalive_seconds
        while True:
            try:
                message = await asyncio.wait_for(self._inbox.get(), keepalive)
            except TimeoutError:
                # Quiet: make sure the connection is still there (its notifications with it).
                await conn.fetchval("SELECT 1", timeout=keepalive)
                continue
            await self._deliver_notification(conn, message)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._inbox.put_nowait(payload)

    async def _deliver_notification(self, conn: asyncpg.Connection, message: str) -> None:
        note = json.loads(message)
        if note["o"] == self.origin or note["id"] in self._seen:
            return
        if note.get("p") is not None:
            self._deliver(note["id"], note["k"], note["p"], datetime.fromisoformat(note["at"]))
            return
        row = await conn.fetchrow(_ONE, note["id"], timeout=_CONNECT_TIMEOUT)
        if row is not None:  # pruned already: too old to matter
            self._deliver_row(row)

    def _deliver_row(self, row: asyncpg.Record) -> bool:
        if row["id"] in self._seen:
            return False
        return self._deliver(row["id"], row["kind"], json.loads(row["payload"]), row["at"])

    def _deliver(
        self, event_id: int, kind: str, payload: dict[str, Any], at: datetime | None
    ) -> bool:
        self._remember(event_id, at)
        event_type = self._kinds.get(kind)
        if event_type is None:
            # A newer process relays a kind this one does not know (a rolling upgrade).
            _LOG.debug("event relay ignores unknown kind %s", kind)
            return False
        try:
            event = event_type.from_dict(payload)
        except (KeyError, TypeError, ValueError) as exc:
            _LOG.error("event relay cannot read a %s: %s", kind, type(exc).__name__)
            return False
        self.stats.received += 1
        self._republishing = True
        try:
            self._bus.publish(event)
        finally:
            self._republishing = False
        return True

    def _remember(self, event_id: int, at: datetime | None) -> None:
        self._seen.add(event_id)
        self._seen_order.append(event_id)
        if len(self._seen_order) > _SEEN_KEPT:
            self._seen.discard(self._seen_order.popleft())
        if event_id > self._newest_id:
            self._newest_id = event_id
            if at is not None:
                self._newest_at = at

    # -- pruning -----------------------------------------------------------------------------

    async def _prune_forever(self) -> None:
        assert self._pool is not None
        while True:
            await asyncio.sleep(self._settings.prune_every_seconds)
            try:
                await self._pool.execute(
                    _PRUNE, self._settings.retention_seconds, timeout=_CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                _LOG.warning("event relay could not prune old events: %s", type(exc).__name__)


class IdleRelay:
    """No relay (SQLite: one process); the same handle for the composition root."""

    origin = ""

    def __init__(self) -> None:
        self.stats = RelayStats()

    def health(self) -> dict[str, Any]:
        return {"enabled": False, **asdict(self.stats), "pending": 0}

    async def stop(self) -> None:
        return None


async def start_relay(
    database_url: str,
    bus: EventBus,
    kinds: Sequence[type[Relayable]],
    *,
    settings: RelaySettings | None = None,
) -> EventRelay | IdleRelay:
    """The relay for this database: on PostgreSQL relaying ``kinds``, on SQLite idle."""
    if make_url(database_url).get_backend_name() != "postgresql":
        return IdleRelay()
    relay = EventRelay(bus, asyncpg_dsn(database_url), kinds, settings=settings)
    await relay.start()
    return relay
