"""Leadership of the server processes (issue 18): the leader's row and epoch; call events
keyed so that several writers of the call log agree.

Revision ID: 0012_cluster_leadership
Revises: 0011_cluster_sessions
Create Date: 2026-12-06 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = "0012_cluster_leadership"
down_revision = "0011_cluster_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "cluster_leadership",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("leader", sa.String(200), nullable=True),
        sa.Column("lock_pid", sa.Integer(), nullable=True),
        sa.Column("elected_at", hcrm_core.models.base.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_leadership")),
    )
    # The one row every election updates (never inserted at run time: no race to create it).
    op.bulk_insert(table, [{"id": 1, "epoch": 0}])
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_key", sa.String(32), nullable=True))
        batch_op.create_index("uq_call_events_event_key", ["event_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.drop_index("uq_call_events_event_key")
        batch_op.drop_column("event_key")
    op.drop_table("cluster_leadership")
