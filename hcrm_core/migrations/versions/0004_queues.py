"""queues as data: queues, members by agent or skill, IVR options

Revision ID: 0004_queues
Revises: 0003_schedules
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0004_queues'
down_revision = '0003_schedules'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
