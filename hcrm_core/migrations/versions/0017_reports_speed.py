"""Reports' speed (issue 17): the call log indexed by queue, so the report finds the queues
of the call log with one index seek each instead of reading every call ever logged.

Revision ID: 0017_reports_speed
Revises: 0016_reports_more
Create Date: 2026-12-06 22:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0017_reports_speed"
down_revision = "0016_reports_more"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_queue_queued_at", "calls", ["queue", "queued_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_queue_queued_at", table_name="calls")
