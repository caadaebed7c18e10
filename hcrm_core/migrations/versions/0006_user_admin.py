"""users kept by admins: disable, password reset

Revision ID: 0006_user_admin
Revises: 0005_opening_hours
Create Date: 2026-12-06 16:00:00.000000

Users that exist keep their password (``must_change_password`` false). An extension is held
by one active user at most: a partial unique index (PostgreSQL and SQLite both have them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = '0006_user_admin'
down_revision = '0005_opening_hours'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                'password_changed_at',
                hcrm_core.models.base.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.create_index(
            'uq_users_active_extension',
            ['extension'],
            unique=True,
            sqlite_where=sa.text('active'),
            postgresql_where=sa.text('active'),
        )


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('uq_users_active_extension')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('must_change_password')
