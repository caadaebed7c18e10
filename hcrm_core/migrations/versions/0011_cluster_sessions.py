"""Console sessions and login throttles in the database (issue 18): several server processes
behind one load balancer share them.

Revision ID: 0011_cluster_sessions
Revises: 0010_agent_history
Create Date: 2026-12-06 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = "0011_cluster_sessions"
down_revision = "0010_agent_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = hcrm_core.models.base.UtcDateTime
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("last_seen", utc(), nullable=False),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    op.create_index("ix_console_sessions_last_seen", "console_sessions", ["last_seen"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", utc(), nullable=False),
    )
    op.create_index("ix_login_failures_address_at", "login_failures", ["address", "at"])
    op.create_table(
        "login_backoffs",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", utc(), nullable=False),
        sa.Column("next_allowed_at", utc(), nullable=False),
    )
    op.create_index("ix_login_backoffs_last_at", "login_backoffs", ["last_at"])


def downgrade() -> None:
    op.drop_index("ix_login_backoffs_last_at", table_name="login_backoffs")
    op.drop_table("login_backoffs")
    op.drop_index("ix_login_failures_address_at", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_console_sessions_last_seen", table_name="console_sessions")
    op.drop_index("ix_console_sessions_user_id", table_name="console_sessions")
    op.drop_table("console_sessions")
