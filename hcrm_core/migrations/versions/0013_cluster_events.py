"""Events relayed between server processes sharing one PostgreSQL (issue 18): written by the
process that saw them, announced with NOTIFY, read by the others; pruned after an hour.

Revision ID: 0013_cluster_events
Revises: 0012_cluster_leadership
Create Date: 2026-12-06 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = "0013_cluster_events"
down_revision = "0012_cluster_leadership"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("at", hcrm_core.models.base.UtcDateTime(), nullable=False),
    )
    op.create_index("ix_cluster_events_at", "cluster_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_cluster_events_at", table_name="cluster_events")
    op.drop_table("cluster_events")
