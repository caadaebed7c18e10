"""The queues kept in the database (``hcrm_core.services.queues``) as queues.conf sections."""

from __future__ import annotations

from collections.abc import Sequence

from callcenter.asterisk.const import QueueSpec
from hcrm_core.db import Database
from hcrm_core.services.queues import QueueView, list_queues


def queue_specs(queues: Sequence[QueueView]) -> list[QueueSpec]:
    """The active queues as queues.conf sections."""
    return [
        QueueSpec(
            name=q.name,
            description=q.display_name,
            strategy=q.strategy,
            timeout=q.ring_timeout,
            wrapuptime=q.wrapup_seconds,
            announce_position=q.announce_position,
            announce_holdtime=q.announce_holdtime,
            announce_frequency=q.announce_frequency,
        )
        for q in queues
        if q.active
    ]


async def stored_queue_specs(database: Database) -> list[QueueSpec] | None:
    """The database's active queues; None when it keeps none (the defaults then apply)."""
    queues = await list_queues(database)
    return queue_specs(queues) if queues else None
