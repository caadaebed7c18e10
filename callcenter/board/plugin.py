"""Wiring of the supervisor board: the service that keeps the board and publishes it.

Started by the server's composition root after the agent desk (the board follows the desk's
agent states and its ``QueuesChanged``) and before the AMI bridge connects, so the bridge's
first resync fills it. The console forwards the
:class:`~callcenter.board.services.BoardChanged` snapshots it publishes to supervisors' browsers.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.ami.bridge import AmiBridge
from callcenter.asterisk.const import QUEUES
from callcenter.board.services import BoardService
from callcenter.bus import EventBus
from callcenter.settings import BoardSettings
from hcrm_core.db import Database
from hcrm_core.services.queues import list_queues


@dataclass(frozen=True, slots=True)
class Board:
    service: BoardService

    async def stop(self) -> None:
        await self.service.stop()


async def shown_queues(database: Database) -> list[tuple[str, str]]:
    """The queues the board starts with: the database's active ones (name, display name);
    a site that keeps none there has the two default queues."""
    queues = await list_queues(database)
    if not queues:
        return [(q.name, q.description) for q in QUEUES]
    return [(q.name, q.display_name) for q in queues if q.active]


async def start(
    *,
    bus: EventBus,
    database: Database,
    ami: AmiBridge,
    timezone: str,
    alerts: BoardSettings | None = None,
    wrapup_max_seconds: float | None = None,
) -> Board:
    """Load today's calls and follow the bus; ``timezone`` is the hospital's (the board's day).

    ``alerts``: when a queue is flagged; ``wrapup_max_seconds``: when an agent's wrap-up is."""
    service = BoardService(
        bus, database, ami, timezone=timezone, queues=await shown_queues(database)
    )
    service.state.alerts = alerts or BoardSettings()
    service.state.wrapup_max_seconds = wrapup_max_seconds
    await service.start()
    return Board(service)
