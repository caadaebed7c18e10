"""Batched writes of the call log: calls (upserted by Linkedid) and their raw AMI events.

The tracker never waits on the database: it hands rows to :class:`CallLogWriter`, which writes
them in one transaction per batch off the event path. A failed batch is kept and retried with
backoff (a call's end must never be lost); later changes of the same call replace the pending
row, so a backlog stays one row per call.

Events, the bulk of the rows, are serialised once when they are handed over (one JSON array per
event, by orjson) and inserted a few thousand at a time by one statement that takes them as a
single JSON parameter (SQLite's ``json_each``, PostgreSQL's ``json_array_elements``): the
database unpacks the rows, not the event loop. A per-row executemany on SQLite stalls under
load: aiosqlite's thread gives up the GIL around every row it steps and must win it back
from the busy event loop each time (seconds per batch while events pour in).

Several server processes on one database (issue 18) each have their own AMI session and
tracker, so each writes every call. They agree without a single writer: an event row carries
``event_key``, a digest of the event's headers as Asterisk sent them (identical in every
session; ``timestampevents`` makes two events of a channel differ), and a second copy is
dropped by ``ON CONFLICT DO NOTHING``; a call row is upserted by Linkedid, a column a writer
does not know (NULL) keeping what another wrote. Why not only the leader writing: a leader
killed mid-batch loses the events it had not written, and a follower would have to keep and
replay a buffer at takeover, deduplicating it all the same; with every process writing, a
process lost loses nothing. Stored events stay in stream order (what ``reports rebuild``
replays): the rows written are always a prefix of the one stream, each writer extending it in
order; only a process that missed events (its AMI link down) may add one out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Table, TextClause, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DataError, IntegrityError

from hcrm_core.db import Database
from hcrm_core.models import Call, CallEvent
from hcrm_core.models.base import UtcDateTime

_LOG = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.2
MAX_BACKOFF = 5.0
# Rows per insert statement (one JSON parameter of a megabyte or two).
_CHUNK = 2000

_CALLS: Table = Call.__table__  # type: ignore[assignment]
_EVENTS: Table = CallEvent.__table__  # type: ignore[assignment]
_EVENT_COLUMNS = ("linkedid", "seq", "received_at", "name", "headers", "event_key")

_CALL_JSON = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
# A call row: the columns it sets (every row the tracker makes has the same) and its JSON.
_CallRow = tuple[tuple[str, ...], bytes]


class CallLogWriter:
    def __init__(self, database: Database, *, flush_interval: float = FLUSH_INTERVAL) -> None:
        self._db = database
        self._interval = flush_interval
        self._calls: dict[str, _CallRow] = {}
        # Each pending event is one JSON array (bytes): never scanned by the garbage collector.
        self._events: list[bytes] = []
        self._insert_events = _bulk_insert_sql(_EVENTS, _EVENT_COLUMNS, database.dialect)
        self._wakeup = asyncio.Event()
        # One batch at a time: a flush() racing the loop must not let an older version of a
        # call row commit after a newer one.
        self._writing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._upserts: dict[tuple[str, ...], TextClause] = {}
        self._closing = False
        self.batches_written = 0
        self.rows_written = 0
        self.failures = 0
        # Rows the database refused for good (logged with their call), never retried.
        self.rejected = 0

    # -- producer side (called from the tracker; never blocks) -------------------------------

    def save_call(self, row: dict[str, Any]) -> None:
        """Queue the ``calls`` row of one call (its newest version replaces a pending one).

        Raises ``ValueError`` at once for a value the row cannot hold (a naive datetime).
        """
        try:
            encoded = orjson.dumps(row, default=_json_value, option=_CALL_JSON)
        except orjson.JSONEncodeError as exc:
            raise ValueError(f"call {row['linkedid']}: {exc.__cause__ or exc}") from exc
        self._calls[row["linkedid"]] = (tuple(row), encoded)
        self._wakeup.set()

    def save_event(
        self,
        linkedid: str,
        seq: int,
        received_at: datetime,
        name: str,
        headers: Mapping[str, str],
    ) -> None:
        """Queue one ``call_events`` row (``received_at`` timezone-aware)."""
        try:
            encoded = orjson.dumps(headers)
        except TypeError:  # not a plain dict of str (orjson is strict): the slow encoder
            encoded = json.dumps(dict(headers), ensure_ascii=False).encode()
        values = {
            "linkedid": linkedid,
            "seq": seq,
            "received_at": _timestamp(received_at),
            "name": name,
            # Encoded once: for the key and, as it is, for the row.
            "headers": orjson.Fragment(encoded),
            # Without Asterisk's Timestamp (``timestampevents`` off, or made-up input) nothing
            # tells two identical events apart: such rows are written as they come, unkeyed.
            "event_key": event_key(encoded) if "Timestamp" in headers else None,
        }
        row = orjson.dumps(values)
        self._events.append(row)
        if len(self._events) >= 2000:
            self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._calls) + len(self._events)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="call-log-writer")

    async def stop(self, timeout: float = 15.0) -> None:  # noqa: ASYNC109 - bounded shutdown
        """Write what is pending (retrying for up to ``timeout``) and stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                _LOG.error("call log: %d rows could not be written before shutdown", self.pending)

    async def flush(self) -> None:
        """Write everything pending now (tests and shutdown); raises if the database fails."""
        await self._write_batch()

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._interval)
                # Let a burst accumulate into one transaction.
                await asyncio.sleep(self._interval if not self._closing else 0)
            self._wakeup.clear()
            try:
                await self._write_batch()
                backoff = 0.2
            except Exception as exc:  # database down: keep the rows, retry later
                self.failures += 1
                _LOG.warning(
                    "call log: write failed (%s: %s); %d rows kept, retrying in %.1fs",
                    type(exc).__name__,
                    exc,
                    self.pending,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if self._closing and not self.pending:
                return

    async def _write_batch(self) -> None:
        async with self._writing:
            await self._write_pending()

    async def _write_pending(self) -> None:
        if not self._calls and not self._events:
            return
        calls, self._calls = self._calls, {}
        events, self._events = self._events, []
        try:
            try:
                async with self._db.transaction() as session:
                    await self._write_calls(session, list(calls.values()))
                    await self._insert(session, self._insert_events, events)
            except Exception as exc:
                if not _refused_rows(exc):
                    raise
                # A row the database will never take (a constraint, a value it cannot hold)
                # must not hold back every other call: write the rest apart, drop that one.
                _LOG.warning("call log: batch refused (%s); writing its rows apart", exc)
                await self._write_apart(calls, events)
        except BaseException:
            # Put the batch back in front; newer versions of a call row win.
            for linkedid, row in calls.items():
                self._calls.setdefault(linkedid, row)
            self._events[:0] = events
            raise
        self.batches_written += 1
        self.rows_written += len(calls) + len(events)

    async def _write_calls(self, session: Any, rows: list[_CallRow]) -> None:
        by_shape: dict[tuple[str, ...], list[bytes]] = {}
        for columns, encoded in rows:
            by_shape.setdefault(columns, []).append(encoded)
        for columns, encoded_rows in by_shape.items():
            await self._insert(session, self._upsert(columns), encoded_rows)

    async def _write_apart(self, calls: dict[str, _CallRow], events: list[bytes]) -> None:
        """Each call row, then each chunk of events (each event of a refused chunk), in its own
        transaction; rows refused again are logged and counted in ``rejected``. Raises (with
        ``calls`` and ``events`` left holding only what is not written) on any other error."""
        for linkedid in list(calls):
            columns, encoded = calls[linkedid]
            if await self._refused(self._upsert(columns), [encoded]):
                _LOG.error(
                    "call log: the row of call %s was refused; its events are kept", linkedid
                )
            del calls[linkedid]
        while events:
            chunk = events[:_CHUNK]
            if await self._refused(self._insert_events, chunk):
                refused = list(chunk) if len(chunk) == 1 else []
                for row in chunk if len(chunk) > 1 else []:
                    if await self._refused(self._insert_events, [row]):
                        refused.append(row)
                for row in refused:
                    _LOG.error("call log: an event row was refused: %.300s", row)
            del events[: len(chunk)]

    async def _refused(self, statement: TextClause, rows: list[bytes]) -> bool:
        """Insert ``rows`` in a transaction of their own; True if the database refused them."""
        try:
            async with self._db.transaction() as session:
                await self._insert(session, statement, rows)
        except Exception as exc:
            if not _refused_rows(exc):
                raise
            if len(rows) == 1:
                self.rejected += 1
            return True
        return False

    @staticmethod
    async def _insert(session: Any, statement: TextClause, rows: list[bytes]) -> None:
        # One statement per chunk, the rows as one JSON array: the database unpacks them.
        for start in range(0, len(rows), _CHUNK):
            array = b"[" + b",".join(rows[start : start + _CHUNK]) + b"]"
            await session.execute(statement, {"rows": array.decode()})

    def _upsert(self, columns: tuple[str, ...]) -> TextClause:
        statement = self._upserts.get(columns)
        if statement is None:
            statement = _bulk_insert_sql(_CALLS, columns, self._db.dialect)
            self._upserts[columns] = statement
        return statement


def _refused_rows(exc: BaseException) -> bool:
    """The database refused some row (a constraint, a value it cannot hold), as opposed to
    being unreachable or failing: retrying the same rows would fail forever."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    # SQLSTATE class 22: data exception; 23: integrity constraint violation.
    return isinstance(sqlstate, str) and sqlstate[:2] in ("22", "23")


def event_key(encoded_headers: bytes) -> str:
    """The natural key of one AMI event: a digest of its headers as Asterisk sent them (every
    AMI session gets the same), 32 hex characters."""
    return hashlib.blake2b(encoded_headers, digest_size=16).hexdigest()


def _timestamp(value: datetime) -> str:
    """UTC, ISO 8601 with a space and microseconds; naive datetimes are refused."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the call log")
    return value.astimezone(UTC).isoformat(" ", "microseconds")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _timestamp(value)
    # Anything else in a call's IVR context (a date, a Decimal...) is kept as its text rather
    # than the call's row being refused.
    return str(value)


def _bulk_insert_sql(table: Table, columns: tuple[str, ...], dialect: str) -> TextClause:
    """INSERT into ``table`` of the rows given as one JSON array ``:rows``, in order.

    Each row is a JSON object keyed by column name. Calls are upserted on their Linkedid.
    Timestamps are the text of :func:`_timestamp`; SQLite keeps its first 26 characters, the
    naive-UTC text SQLAlchemy stores there. PostgreSQL reads each object once
    (``json_to_recordset``) into columns of the table's own types.
    """
    names = ", ".join(columns)
    if dialect == "postgresql":
        types = ", ".join(
            f"{name} {table.c[name].type.compile(dialect=postgresql.dialect())}" for name in columns
        )
        sql = (
            f"INSERT INTO {table.name} ({names}) SELECT {names} "
            f"FROM ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS ({types})) "
            f"WITH ORDINALITY AS r({names}, row_number) ORDER BY row_number"
        )
    else:
        values = []
        for name in columns:
            kind = table.c[name].type
            value = f"json_extract(value, '$.{name}')"
            if isinstance(kind, UtcDateTime):
                value = f"substr({value}, 1, 26)"
            values.append(value)
        # "WHERE true": SQLite's parser would read an upsert's ON as a join constraint.
        sql = (
            f"INSERT INTO {table.name} ({names}) SELECT {', '.join(values)} "
            "FROM json_each(:rows) WHERE true ORDER BY key"
        )
    if table is _CALLS:
        updates = ", ".join(_merged(table, name) for name in columns if name != "linkedid")
        sql += f" ON CONFLICT (linkedid) DO UPDATE SET {updates}"
    elif table is _EVENTS:
        # The same event written by another server process (issue 18): kept once.
        sql += " ON CONFLICT (event_key) DO NOTHING"
    return text(sql)


def _merged(table: Table, name: str) -> str:
    """The upsert of one call column. A column this writer does not know (NULL) keeps what
    another process wrote (it may have served the call's IVR dialog, or started before the
    call did); the tracker never sets a known column back to NULL, so one writer is unchanged.
    """
    if table.c[name].nullable:
        return f"{name} = COALESCE(excluded.{name}, {table.name}.{name})"
    return f"{name} = excluded.{name}"
