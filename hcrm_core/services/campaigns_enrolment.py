"""Continuous enrolment: running campaigns take in the patients who qualify after their start.

A campaign's start schedules everyone who qualifies then (:mod:`campaigns`); this keeps a
running campaign up to date afterwards. Reminder campaigns enrol each appointment booked since
(its reminder is due the day before, whenever it was booked, or at once when that is past) and
withdraw the reminders of appointments cancelled or moved since; post-discharge campaigns enrol
patients as they are discharged, adherence (chronic-care) campaigns as they are flagged with the
campaign's condition. Surveys and appointment-changed calls keep their own ways.

Each sweep of a campaign runs in one transaction holding the campaign's row lock, so two server
processes sharing a database never enrol the same appointment or patient twice; the dialer's
claim also refuses a reminder whose appointment is no longer booked, so a cancellation between
two sweeps is never dialled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.db import Database
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AttemptStatus,
    Campaign,
    CampaignAttempt,
    CampaignKind,
    CampaignStatus,
    utcnow,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.campaigns_config import parse_config
from hcrm_core.services.campaigns_targets import select_targets
from hcrm_core.services.leadership import Fence

_LOG = logging.getLogger(__name__)
_ATTEMPTS: Table = CampaignAttempt.__table__  # type: ignore[assignment]

# The kinds whose targets keep arriving while they run.
CONTINUOUS_KINDS: Final = frozenset(
    {CampaignKind.REMINDER, CampaignKind.POST_DISCHARGE, CampaignKind.ADHERENCE}
)
# outcome_detail of a reminder withdrawn because its appointment is no longer booked.
WITHDRAWN: Final = "appointment_withdrawn"


@dataclass(frozen=True, slots=True)
class Enrolled:
    """What one sweep of one campaign did."""

    campaign_id: int
    enrolled: int
    withdrawn: int


class EnrolmentService:
    def __init__(self, database: Database, policy: BookingPolicy) -> None:
        self._db = database
        self._policy = policy

    async def sweep(
        self, *, now: datetime | None = None, fence: Fence | None = None
    ) -> list[Enrolled]:
        """Enrol and withdraw for every running continuous campaign; returns the changes."""
        now = now or utcnow()
        async with self._db.session() as session:
            ids = list(
                await session.scalars(
                    select(Campaign.id)
                    .where(
                        Campaign.status == CampaignStatus.RUNNING,
                        Campaign.kind.in_(tuple(CONTINUOUS_KINDS)),
                    )
                    .order_by(Campaign.id)
                )
            )
        changes = []
        for campaign_id in ids:
            change = await self.sweep_campaign(campaign_id, now=now, fence=fence)
            if change.enrolled or change.withdrawn:
                _LOG.info(
                    "campaign=%s enrolled %d, withdrew %d",
                    campaign_id,
                    change.enrolled,
                    change.withdrawn,
                )
                changes.append(change)
        return changes

    async def sweep_campaign(
        self, campaign_id: int, *, now: datetime, fence: Fence | None = None
    ) -> Enrolled:
        async with self._db.transaction() as session:
            if fence is not None:  # the leader's job (issue 18)
                await fence.check(session)
            campaign = await session.get(Campaign, campaign_id, with_for_update=True)
            if campaign is None or campaign.status is not CampaignStatus.RUNNING:
                return Enrolled(campaign_id, 0, 0)
            withdrawn = 0
            if campaign.kind is CampaignKind.REMINDER:
                withdrawn = await _withdraw_inactive(session, campaign_id)
            enrolled = 0
            if campaign.kind in CONTINUOUS_KINDS:
                enrolled = await self._enrol(session, campaign, now)
        return Enrolled(campaign_id, enrolled, withdrawn)

    async def _enrol(self, session: AsyncSession, campaign: Campaign, now: datetime) -> int:
        config = parse_config(campaign.kind, campaign.settings)
        targets = await select_targets(
            session,
            campaign.kind,
            config,
            now=now,
            tz=self._policy.timezone,
            not_in_campaign=campaign.id,
        )
        if not targets:
            return 0
        rows = [
            {
                "campaign_id": campaign.id,
                "patient_id": t.patient_id,
                "appointment_id": t.appointment_id,
                "phone_e164": t.phone_e164,
                "attempt_no": 1,
                "status": AttemptStatus.SCHEDULED,
                "scheduled_for": t.due,
            }
            for t in targets
        ]
        connection = await session.connection()
        await connection.execute(insert(_ATTEMPTS), rows)
        return len(rows)


async def _withdraw_inactive(session: AsyncSession, campaign_id: int) -> int:
    """Cancel the scheduled reminders whose appointment was cancelled or moved."""
    inactive = select(Appointment.id).where(Appointment.status != AppointmentStatus.BOOKED)
    result = await session.execute(
        update(CampaignAttempt)
        .where(
            CampaignAttempt.campaign_id == campaign_id,
            CampaignAttempt.status == AttemptStatus.SCHEDULED,
            CampaignAttempt.appointment_id.in_(inactive.scalar_subquery()),
        )
        .values(status=AttemptStatus.CANCELLED, outcome_detail=WITHDRAWN)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
