"""Campaign settings refused field by field, all at once, with nothing stored (both engines)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import FieldErrors, ValidationFailed
from hcrm_core.models import AuditEvent, Campaign, CampaignKind
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.campaigns import CampaignService

ADMIN = Actor("user:admin", user_id=None)
BAD: dict[str, Any] = {
    "max_concurrent": 0,
    "calls_per_second": "fast",
    "window": {"start": "07:00"},
    "retries": {"busy": {"retry_delay_minutes": 15, "max_attempts": 11}},
    "questions": [
        {
            "key": "Feeling",
            "text": {"en": "How are you? Well 1, poorly 2."},
            "options": {"1": "well"},
        },
        {"key": "sleep", "kind": "nps", "text": {"en": ""}},
    ],
}


async def _count(database: Database, model: Any) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_every_bad_setting_is_named_and_nothing_is_stored(database: Database) -> None:
    service = CampaignService(database, BookingPolicy())
    with pytest.raises(FieldErrors) as refused:
        await service.create("Check", CampaignKind.SURVEY, BAD, ADMIN)
    assert refused.value.errors == {
        "max_concurrent": "must be at least 1",
        "calls_per_second": "must be a number",
        "window": "calls are allowed only between 08:00 and 21:00",
        "retries.busy.max_attempts": "must be at most 10",
        "questions.0.key": "use lower-case letters, digits and _ (starting with a letter)",
        "questions.1.text": "an English text is required (the fallback language)",
    }
    assert refused.value.field == "max_concurrent"  # a one-field reader sees the first
    assert refused.value.http_status == 422
    assert await _count(database, Campaign) == 0
    assert await _count(database, AuditEvent) == 0

    campaign = await service.create("Check", CampaignKind.SURVEY, {"max_concurrent": 2}, ADMIN)
    with pytest.raises(FieldErrors) as refused:
        await service.update_settings(campaign.id, {"window": {"weekdays": [7]}}, ADMIN)
    assert set(refused.value.errors) == {"window"}
    # A rule across questions still names its field.
    twice = [BAD["questions"][0] | {"key": "same", "options": {"1": "a"}}] * 2
    with pytest.raises(ValidationFailed) as refused_once:
        await service.update_settings(campaign.id, {"questions": twice}, ADMIN)
    assert refused_once.value.field == "settings"
    assert "unique" in refused_once.value.message
    unchanged = await service.get(campaign.id)
    assert unchanged.settings["max_concurrent"] == 2
    assert await _count(database, AuditEvent) == 1  # the creation only
