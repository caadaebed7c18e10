"""The outcome of each campaign's latest question-prompt render, kept across restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.models import Campaign, CampaignPromptRender, PromptRenderState


class PromptRenders:
    """Reads and writes ``campaign_prompt_renders``: one row per campaign, the latest render."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def save(
        self,
        campaign_id: int,
        state: PromptRenderState,
        at: datetime,
        *,
        prompts: int = 0,
        problem: str = "",
    ) -> None:
        async with self._database.transaction() as session:
            row = await session.get(CampaignPromptRender, campaign_id)
            if row is None:
                row = CampaignPromptRender(campaign_id=campaign_id)
                session.add(row)
            row.state, row.at, row.prompts, row.problem = state, at, prompts, problem[:500]

    async def latest(self, campaign_id: int) -> CampaignPromptRender | None:
        async with self._database.session() as session:
            return await session.get(CampaignPromptRender, campaign_id)

    async def interrupted(self) -> list[Campaign]:
        """Campaigns whose render was still running when the server stopped."""
        async with self._database.session() as session:
            rows = await session.scalars(
                select(Campaign)
                .join(CampaignPromptRender, CampaignPromptRender.campaign_id == Campaign.id)
                .where(CampaignPromptRender.state == PromptRenderState.RENDERING)
                .order_by(Campaign.id)
            )
            return list(rows)
