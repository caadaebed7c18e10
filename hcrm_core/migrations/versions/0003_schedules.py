"""doctors' schedules kept from the console: slot horizon, schedule changes

Revision ID: 0003_schedules
Revises: 0002_transcript_index
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0003_schedules'
down_revision = '0002_transcript_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
