"""(placeholder, filled by the issue that owns it)

Revision ID: 0009_call_control
Revises: 0008_callbacks
Create Date: 2026-12-06 19:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import hcrm_core.models.base  # noqa: F401

revision = '0009_call_control'
down_revision = '0008_callbacks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
