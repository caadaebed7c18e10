"""Campaign question prompts' render outcome, kept across restarts (issue 15).

Revision ID: 0015_prompt_renders
Revises: 0014_segments
Create Date: 2026-12-06 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = "0015_prompt_renders"
down_revision = "0014_segments"
branch_labels = None
depends_on = None

_STATES = ("rendering", "ready", "failed")


def upgrade() -> None:
    op.create_table(
        "campaign_prompt_renders",
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaigns.id"),
            primary_key=True,
        ),
        sa.Column(
            "state",
            sa.Enum(*_STATES, name="promptrenderstate", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("at", hcrm_core.models.base.UtcDateTime(), nullable=False),
        sa.Column("prompts", sa.Integer(), nullable=False),
        sa.Column("problem", sa.String(500), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("campaign_prompt_renders")
