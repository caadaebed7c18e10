"""The demo's campaigns: a reminder and a post-discharge follow-up, dialling right away.

Made once (by name) and started, on the demo database: the reminder calls the patients booked
for tomorrow, the follow-up those discharged in the last two weeks (``followup_day`` 0, so they
are due now). Calling hours are the legal 08:00-21:00 in the hospital's time zone, every day of
the week: outside them the campaigns wait, and the demo says so. The simulated patients who
answer are :mod:`callcenter.demo.callees`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import CampaignKind, CampaignStatus
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.campaigns import CampaignService

_LOG = logging.getLogger(__name__)

REMINDER_NAME = "Demo: tomorrow's appointment reminders"
FOLLOW_UP_NAME = "Demo: post-discharge follow-up"
# Every day, within the legal calling hours (campaigns_config.CallingWindow).
_WINDOW = {"start": "08:00", "end": "21:00", "weekdays": [0, 1, 2, 3, 4, 5, 6]}
# Gentle pacing: a few calls at a time, so the board and the results fill as one watches.
_PACING = {"max_concurrent": 3, "calls_per_second": 0.5, "ring_timeout_seconds": 30}


@dataclass(frozen=True, slots=True)
class DemoCampaign:
    id: int
    name: str
    status: str
    scheduled: int


def campaign_settings(kind: CampaignKind, now: datetime, timezone: str) -> dict[str, Any]:
    """The demo's settings for a campaign of ``kind`` (validated by CampaignService)."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    settings: dict[str, Any] = {**_PACING, "window": _WINDOW}
    if kind is CampaignKind.REMINDER:
        tomorrow = (today + timedelta(days=1)).isoformat()
        settings["targets"] = {"appointment_from": tomorrow, "appointment_to": tomorrow}
    else:
        since = (today - timedelta(days=14)).isoformat()
        settings["targets"] = {"discharged_from": since, "discharged_to": today.isoformat()}
        settings["followup_day"] = 0
    return settings


async def ensure_demo_campaigns(
    database: Database, policy: BookingPolicy, now: datetime
) -> list[DemoCampaign]:
    """Create and start the two demo campaigns unless they exist (any state)."""
    service = CampaignService(database, policy)
    existing = {c.name: c for c in await service.all()}
    actor = Actor("demo")
    result = []
    for name, kind in (
        (REMINDER_NAME, CampaignKind.REMINDER),
        (FOLLOW_UP_NAME, CampaignKind.POST_DISCHARGE),
    ):
        campaign = existing.get(name)
        scheduled = 0
        if campaign is None:
            settings = campaign_settings(kind, now, policy.timezone.key)
            campaign = await service.create(name, kind, settings, actor)
            scheduled = await service.start(campaign.id, actor, now=now)
            _LOG.info("demo: campaign %s started, %d calls scheduled", campaign.id, scheduled)
        elif campaign.status is CampaignStatus.PAUSED:
            await service.start(campaign.id, actor, now=now)
        campaign = await service.get(campaign.id)
        result.append(DemoCampaign(campaign.id, name, campaign.status.value, scheduled))
    return result
