"""The dialplan's fallback queue (callers go there when the IVR server is unreachable) cannot be
deactivated: refused with the field named, nothing written (the API: web_console's
test_fallback_queue_api.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from callcenter.asterisk import const
from hcrm_core.actors import Actor
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AuditEvent
from hcrm_core.models.queues import FALLBACK_QUEUE
from hcrm_core.services import queues as svc
from hcrm_core.services.queues import Members, QueueSettings

ADMIN = Actor.user(1, "sue")


async def _audits(database: Any) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_the_dialplan_renders_the_queue_the_service_keeps_active() -> None:
    assert const.FALLBACK_QUEUE == FALLBACK_QUEUE == "enquiries"


async def test_deactivating_the_fallback_queue_is_refused_naming_the_field(database):
    audits = await _audits(database)
    with pytest.raises(ValidationFailed) as refused:
        await svc.update_queue(database, FALLBACK_QUEUE, QueueSettings(active=False), ADMIN)
    assert refused.value.field == "active" and "IVR" in refused.value.message
    with pytest.raises(ValidationFailed) as refused:
        await svc.update_queue(
            database,
            FALLBACK_QUEUE,
            QueueSettings(active=False, display_name="Closed"),
            ADMIN,
            members=Members(),
        )
    assert refused.value.field == "active"
    kept = await svc.get_queue(database, FALLBACK_QUEUE)
    assert (kept.active, kept.display_name, kept.members.everyone) == (
        True,
        "Everything else: results, billing, directions",
        True,
    )
    assert await _audits(database) == audits
    # Other changes to it, and deactivating another queue, go through as before.
    changed = await svc.update_queue(
        database, FALLBACK_QUEUE, QueueSettings(display_name="Front desk"), ADMIN
    )
    assert changed.display_name == "Front desk"
    other = await svc.update_queue(database, "appointments", QueueSettings(active=False), ADMIN)
    assert not other.active
