"""Agent state history (issue 17): every change of an agent's state, with its time; the
call log indexed by when calls queued and were answered (the reports).

Revision ID: 0010_agent_history
Revises: 0008_callbacks
Create Date: 2026-12-06 19:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = "0010_agent_history"
down_revision = "0008_callbacks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_state_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("extension", sa.String(32), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("pause_reason", sa.String(80), nullable=False),
        sa.Column("at", hcrm_core.models.base.UtcDateTime(), nullable=False),
    )
    op.create_index("ix_agent_state_changes_user_at", "agent_state_changes", ["user_id", "at"])
    op.create_index("ix_agent_state_changes_at", "agent_state_changes", ["at"])
    op.create_index("ix_calls_queued_at", "calls", ["queued_at"])
    op.create_index("ix_calls_answered_at", "calls", ["answered_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_answered_at", table_name="calls")
    op.drop_index("ix_calls_queued_at", table_name="calls")
    op.drop_index("ix_agent_state_changes_at", table_name="agent_state_changes")
    op.drop_index("ix_agent_state_changes_user_at", table_name="agent_state_changes")
    op.drop_table("agent_state_changes")
