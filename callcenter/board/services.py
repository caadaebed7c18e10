"""The supervisor board service: live queues and agents, pushed as coalesced snapshots.

Inputs arrive through one bus subscription (so they are handled in the order they were
published): the call tracker's notices, the agent desk's ``AgentStateChanged`` (its state of
signed-in agents, with wrap-up, wins over what the member events alone say) and
``QueuesChanged`` (the active queues, after every change in the console), the AMI queue
events (parsed at the edge by :mod:`callcenter.board.queue_events`) and ``AmiResynced``
after every AMI (re)connect. At start the day's finished calls are read from the ``calls``
table, so a restart keeps today's totals. Changes are coalesced: at most one
:class:`BoardChanged` every ``min_interval`` seconds, carrying the whole board as plain data
(:meth:`BoardState.snapshot`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callcenter.agents.notifier import AgentStateChanged, QueuesChanged
from callcenter.ami.bridge import AmiBridge
from callcenter.ami.errors import AmiError
from callcenter.ami.events import AmiEvent, AmiResynced, AmiSnapshot
from callcenter.board.queue_events import (
    BOARD_EVENTS,
    parse_board_event,
    parse_queue_entry,
    parse_queue_member,
    parse_queue_params,
)
from callcenter.board.state import BoardState, CallRecord
from callcenter.bus import EventBus, Subscription
from callcenter.calls.state import (
    AgentRinging,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallStarted,
    IvrProgress,
)
from callcenter.tasks import BackgroundTasks
from hcrm_core.db import Database
from hcrm_core.models import Call, CallDirection, User

_LOG = logging.getLogger(__name__)

MIN_INTERVAL = 0.25
_NOTICES = (CallStarted, CallQueued, AgentRinging, CallAnswered, CallEnded)


@dataclass(frozen=True, slots=True)
class BoardChanged:
    """Published on the bus: the whole supervisor board as plain JSON-able data."""

    snapshot: dict[str, Any]


def _is_input(item: object) -> bool:
    if type(item) is AmiEvent:
        return item.name in BOARD_EVENTS
    return isinstance(item, (*_NOTICES, AmiResynced, AgentStateChanged, QueuesChanged, IvrProgress))


class BoardService:
    """Keeps :class:`BoardState` current and publishes it; ``snapshot()`` for a new viewer."""

    def __init__(
        self,
        bus: EventBus,
        database: Database,
        ami: AmiBridge | None,
        *,
        timezone: str,
        queues: Iterable[tuple[str, str]],
        min_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bus = bus
        self._db = database
        self._ami = ami
        self._timezone = timezone
        self._clock = clock
        self._min_interval = min_interval
        self.state = BoardState(timezone, queues, clock())
        self._subscription: Subscription[object] | None = None
        self._flush: asyncio.TimerHandle | None = None
        self._midnight_timer: asyncio.TimerHandle | None = None
        self._last_push = 0.0
        self._tasks = BackgroundTasks("board")
        self.pushes = 0

    async def start(self) -> None:
        self.state.load_today(await self._today_calls())
        self.state.names_by_extension = await self._agent_names()
        self._subscription = self._bus.subscribe(
            object, self._on_input, name="supervisor-board", predicate=_is_input, maxsize=50_000
        )
        if self._ami is not None and self._ami.asterisk_ready:
            # Started after the bridge's own resync (a late console): read the queues now.
            self._tasks.spawn(self._resync_now(self._ami), "resync")
        self._midnight()

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None
        for timer in (self._flush, self._midnight_timer):
            if timer is not None:
                timer.cancel()
        # A resync or a names refresh is worthless once the board stops.
        await self._tasks.cancel_all()

    def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot(self._clock())

    # -- inputs ------------------------------------------------------------------------------

    async def _on_input(self, item: object) -> None:
        if isinstance(item, AmiEvent):
            parsed = parse_board_event(item)
            if parsed is None:
                return
            self.state.apply_queue_event(parsed, item.received_at)
            if item.name == "QueueMemberAdded" and self.state.unnamed_agents():
                self._tasks.spawn(self._refresh_names(), "names")
        elif isinstance(item, AmiResynced):
            self._apply_snapshot(item.snapshot)
            self._tasks.spawn(self._refresh_names(), "names")
        elif isinstance(item, _NOTICES):
            self.state.apply_notice(item)
        elif isinstance(item, AgentStateChanged):
            self.state.apply_desk_agent(item.agent)
        elif isinstance(item, QueuesChanged):
            if not self.state.set_queues(item.queues):
                return
        elif isinstance(item, IvrProgress):
            self.state.apply_ivr(item.linkedid, datetime.now(UTC))
            return  # nothing shown changed yet
        self._changed()

    def _apply_snapshot(self, snapshot: AmiSnapshot) -> None:
        self.state.apply_resync(
            [parse_queue_params(e) for e in snapshot.queue_params],
            [parse_queue_member(e) for e in snapshot.queue_members],
            [parse_queue_entry(e, snapshot.taken_at) for e in snapshot.queue_entries],
            snapshot.taken_at,
        )

    async def _resync_now(self, ami: AmiBridge) -> None:
        try:
            snapshot = await ami.resync()
        except AmiError as exc:
            _LOG.warning("board: queue status read failed (%s); waiting for the next resync", exc)
            return
        self._apply_snapshot(snapshot)
        self._changed()

    # -- output ------------------------------------------------------------------------------

    def _changed(self) -> None:
        """Coalesce: publish now if the last push is old enough, else once the interval ends."""
        if self._flush is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_push + self._min_interval - loop.time())
        self._flush = loop.call_later(delay, self._publish)

    def _publish(self) -> None:
        self._flush = None
        self._last_push = asyncio.get_running_loop().time()
        self.pushes += 1
        self._bus.publish(BoardChanged(self.snapshot()))

    def _midnight(self) -> None:
        """Wake at the next local midnight to start the day's totals again."""
        zone = ZoneInfo(self._timezone)
        now = datetime.fromtimestamp(self._clock(), zone)
        tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), zone)
        delay = max(1.0, tomorrow.timestamp() - now.timestamp())
        self._midnight_timer = asyncio.get_running_loop().call_later(delay, self._on_midnight)

    def _on_midnight(self) -> None:
        if self._subscription is None:
            return
        if self.state.roll_day(self._clock()):
            self._changed()
        self._midnight()

    # -- database ----------------------------------------------------------------------------

    async def _today_calls(self) -> list[CallRecord]:
        zone = ZoneInfo(self._timezone)
        midnight = datetime.combine(
            datetime.fromtimestamp(self._clock(), zone).date(), datetime.min.time(), zone
        )
        async with self._db.session() as session:
            rows = await session.execute(
                select(
                    Call.started_at,
                    Call.queue,
                    Call.answered_at,
                    Call.abandoned,
                    Call.queue_wait_seconds,
                    Call.ended_at,
                    Call.direction,
                ).where(Call.started_at >= midnight)
            )
            return [
                CallRecord(
                    started_at=row.started_at,
                    queue=row.queue,
                    answered=row.answered_at is not None,
                    abandoned=row.abandoned,
                    queue_wait_seconds=row.queue_wait_seconds,
                    ended=row.ended_at is not None,
                    inbound=row.direction is CallDirection.INBOUND or row.queue is not None,
                )
                for row in rows
            ]

    async def _agent_names(self) -> dict[str, str]:
        """Console users' display names by extension (matched to queue interfaces)."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(User.extension, User.display_name).where(User.extension.is_not(None))
            )
            return {ext: name for ext, name in rows if ext}

    async def _refresh_names(self) -> None:
        try:
            self.state.names_by_extension = await self._agent_names()
        except Exception as exc:  # names are cosmetic: the board keeps the member names
            _LOG.warning("board: agent names not refreshed: %s", type(exc).__name__)
            return
        self._changed()
