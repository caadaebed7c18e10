"""What became of a campaign's question prompts the last time they were rendered.

Kept in the database, not in the server's memory, so the campaign's page tells the truth after
a restart, and a render the restart interrupted is started again (the telephony side renders;
hcrm_core only keeps the outcome).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime
from hcrm_core.models.base_types import enum_type


class PromptRenderState(StrEnum):
    RENDERING = "rendering"
    READY = "ready"
    FAILED = "failed"


class CampaignPromptRender(Base):
    """One row per campaign whose questions were ever rendered: the latest render's outcome."""

    __tablename__ = "campaign_prompt_renders"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    state: Mapped[PromptRenderState] = mapped_column(enum_type(PromptRenderState))
    # When the render started (rendering) or ended (ready, failed).
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Question prompts written or already current, every language (ready).
    prompts: Mapped[int] = mapped_column(default=0)
    # Why it failed, in words for the campaign's page (failed).
    problem: Mapped[str] = mapped_column(String(500), default="")
