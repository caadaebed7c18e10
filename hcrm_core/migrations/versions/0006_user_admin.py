"""users kept by admins: disable, password reset

Revision ID: 0006_user_admin
Revises: 0005_opening_hours
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0006_user_admin'
down_revision = '0005_opening_hours'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
