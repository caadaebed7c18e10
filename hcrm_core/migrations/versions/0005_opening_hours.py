"""opening hours per queue, holidays, after-hours requests

Revision ID: 0005_opening_hours
Revises: 0004_queues
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0005_opening_hours'
down_revision = '0004_queues'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
