"""Batched writes of the call log: calls (upserted by Linkedid) and their raw AMI events.

The tracker never waits on the database: it hands rows to :class:`CallLogWriter`, which writes
them in one transaction per batch off the event path. A failed batch is kept and retried with
backoff (a call's end must never be lost); later changes of the same call replace the pending
row, so a backlog stays one row per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import JSON, Table, Text, bindparam, cast, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hcrm_core.db import Database
from hcrm_core.models import Call, CallEvent

_LOG = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.2
MAX_BACKOFF = 5.0
_UPSERT_EXCLUDE = {"linkedid"}
# Rows per multi-VALUES upsert: well under SQLite's host-parameter limit (32,766).
_CHUNK = 500
_EVENT_CHUNK = 500

_CALLS: Table = Call.__table__  # type: ignore[assignment]
_EVENTS: Table = CallEvent.__table__  # type: ignore[assignment]


class CallLogWriter:
    def __init__(self, database: Database, *, flush_interval: float = FLUSH_INTERVAL) -> None:
        self._db = database
        self._interval = flush_interval
        self._calls: dict[str, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._wakeup = asyncio.Event()
        # One batch at a time: a flush() racing the loop must not let an older version of a
        # call row commit after a newer one.
        self._writing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._upsert_statement: tuple[tuple[str, ...], Any] | None = None
        self._closing = False
        self.batches_written = 0
        self.rows_written = 0
        self.failures = 0

    # -- producer side (called from the tracker; never blocks) -------------------------------

    def save_call(self, row: dict[str, Any]) -> None:
        self._calls[row["linkedid"]] = row
        self._wakeup.set()

    def save_event(self, row: dict[str, Any]) -> None:
        """Queue one ``call_events`` row; its ``headers`` is already JSON text.

        Rows are kept with atomic values only (str, int, datetime): such dicts are never
        tracked by the garbage collector, so a backlog of thousands of them does not lengthen
        every full collection (which stalls the event loop while it walks them).
        """
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
            async with self._db.transaction() as session:
                rows = list(calls.values())
                # Core (not ORM) executemany of one cached statement, in chunks: the
                # parameters are processed on the event loop, and each await between chunks
                # lets the AMI reader run. (A multi-VALUES statement would be compiled anew
                # for every batch: 100+ ms of loop time for 500 call rows.)
                for start in range(0, len(rows), _CHUNK):
                    await session.execute(self._upsert(rows[0]), rows[start : start + _CHUNK])
                insert_events = self._event_insert()
                for start in range(0, len(events), _EVENT_CHUNK):
                    await session.execute(insert_events, events[start : start + _EVENT_CHUNK])
        except BaseException:
            # Put the batch back in front; newer versions of a call row win.
            for linkedid, row in calls.items():
                self._calls.setdefault(linkedid, row)
            self._events[:0] = events
            raise
        self.batches_written += 1
        self.rows_written += len(calls) + len(events)

    def _event_insert(self) -> Any:
        # The headers arrive serialised: bound as text (SQLite keeps JSON as text), cast to
        # JSON on PostgreSQL.
        headers: Any = bindparam("headers", type_=Text())
        if self._db.dialect == "postgresql":
            headers = cast(headers, JSON)
        return insert(_EVENTS).values(
            linkedid=bindparam("linkedid"),
            seq=bindparam("seq"),
            received_at=bindparam("received_at"),
            name=bindparam("name"),
            headers=headers,
        )

    def _upsert(self, sample: dict[str, Any]) -> Any:
        """The upsert of call rows shaped like ``sample`` (every row has the same keys)."""
        columns = tuple(sample)
        if self._upsert_statement is None or self._upsert_statement[0] != columns:
            statement = (
                pg_insert(_CALLS) if self._db.dialect == "postgresql" else sqlite_insert(_CALLS)
            )
            updates = {
                name: statement.excluded[name] for name in columns if name not in _UPSERT_EXCLUDE
            }
            upsert = statement.on_conflict_do_update(index_elements=["linkedid"], set_=updates)
            self._upsert_statement = (columns, upsert)
        return self._upsert_statement[1]
