"""The agent state history: every change of an agent's shown state, stored with its time.

Follows the desk's own :class:`~callcenter.agents.notifier.AgentStateChanged` on the bus (so
nothing on the AMI path waits for it) and writes the changes in batches, like the call log: one
transaction per batch, a failed batch kept and retried, what is pending written at stop.
A change is stored only when the state or the pause reason differs from the agent's last
stored one (the desk also publishes queue and device changes, which are not states).

With several server processes every one sees every agent's changes; only the leader stores
them (:attr:`AgentHistoryWriter.writes`), or each change would be stored once per process and
the reports' times would double. The others keep following, so a new leader goes on from
the last state without storing it again, and keep the changes of the last
:data:`UNSTORED_SECONDS` they did not store: the leader may die with its last batch unwritten,
and changes made in the second between two leaders are stored by nobody. A new leader's first
batch hands those over; the store keeps only the changes after each agent's last stored one
(``hcrm_core.services.agent_history.store_changes``), so what the old leader stored is not
stored twice, nor is the last batch of an old leader that wakes up after a freeze.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from callcenter.agents.notifier import AgentStateChanged
from callcenter.bus import EventBus, Subscription
from hcrm_core.db import Database
from hcrm_core.services.agent_history import StateChange, store_changes

_LOG = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.5
MAX_BACKOFF = 5.0
# A follower keeps the changes it saw this long: a takeover takes at most 5 s, and a leader
# whose database is away retries its batch for a while before it may die with it.
UNSTORED_SECONDS = 60.0
UNSTORED_KEPT = 20_000


class AgentHistoryWriter:
    def __init__(
        self, bus: EventBus, database: Database, *, flush_interval: float = FLUSH_INTERVAL
    ) -> None:
        self._bus = bus
        self._db = database
        self._interval = flush_interval
        self._pending: list[StateChange] = []
        # A follower's changes not stored by it: (monotonic time seen, change), oldest first.
        self._unstored: deque[tuple[float, StateChange]] = deque(maxlen=UNSTORED_KEPT)
        self._last: dict[int, tuple[str, str]] = {}
        self._subscription: Subscription[AgentStateChanged] | None = None
        self._task: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()
        self._closing = False
        self.failures = 0
        # Whether this process stores the changes: the leader's, with several processes.
        self.writes: Callable[[], bool] = lambda: True

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(
            AgentStateChanged, self._on_change, name="agent-history"
        )
        self._task = asyncio.create_task(self._run(), name="agent-history-writer")

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - bounded shutdown
        if self._subscription is not None:
            await self._subscription.close()
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await asyncio.wait_for(self.flush(), timeout)
        except Exception:
            _LOG.error("agent history: %d changes could not be written", len(self._pending))

    async def _on_change(self, event: AgentStateChanged) -> None:
        self.record(event)

    def record(self, event: AgentStateChanged) -> None:
        """Queue one change (no I/O): skipped when neither state nor pause reason moved."""
        if event.user_id is None:
            return
        agent = event.agent
        key = (str(agent["state"]), str(agent.get("pause_reason") or ""))
        last = self._last.get(event.user_id)
        if last == key:
            return
        self._last[event.user_id] = key
        since = float(agent.get("since") or 0.0)
        # ``since`` is when the shown state began; a new pause reason in the same state
        # began now.
        same_state = last is not None and last[0] == key[0]
        at = since if since > 0 and not same_state else time.time()
        change = StateChange(
            user_id=event.user_id,
            username=event.username,
            extension=str(agent.get("extension") or ""),
            state=key[0],
            pause_reason=key[1],
            at=datetime.fromtimestamp(at, UTC),
        )
        if self.writes():
            self._take_over()
            self._pending.append(change)
        else:
            self._keep(change)

    def _keep(self, change: StateChange) -> None:
        now = time.monotonic()
        while self._unstored and self._unstored[0][0] < now - UNSTORED_SECONDS:
            self._unstored.popleft()
        self._unstored.append((now, change))

    def _take_over(self) -> None:
        """Leading now: the changes seen while following go with the next batch (the store
        skips those the old leader stored)."""
        if not self._unstored:
            return
        _LOG.info(
            "agent history: leading; %d changes seen while following handed to the store",
            len(self._unstored),
        )
        self._pending[:0] = [change for _, change in self._unstored]
        self._unstored.clear()

    async def flush(self) -> None:
        """Write what is pending now; raises if the database fails (kept for a retry)."""
        async with self._writing:
            if self.writes():
                self._take_over()
            batch, self._pending = self._pending, []
            try:
                await store_changes(self._db, batch)
            except BaseException:
                self._pending[:0] = batch
                raise

    async def _run(self) -> None:
        backoff = self._interval
        while not self._closing:
            await asyncio.sleep(backoff)
            try:
                await self.flush()
            except Exception as exc:
                self.failures += 1
                _LOG.warning("agent history: batch failed (%s); retrying", type(exc).__name__)
                backoff = min(backoff * 2, MAX_BACKOFF)
            else:
                backoff = self._interval
