"""callbacks that keep the caller's place in the queue

Revision ID: 0008_callbacks
Revises: 0007_tasks_complaints
Create Date: 2026-12-06 19:30:00.000000

One row per callback a caller asked for while waiting in a queue (hcrm_core/models/callbacks.py).
Continuous enrolment needs no schema: it adds campaign attempts as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = '0008_callbacks'
down_revision = '0007_tasks_complaints'
branch_labels = None
depends_on = None

_STATUSES = ('waiting', 'placed', 'dialling', 'done', 'failed', 'cancelled')


def upgrade() -> None:
    utc = hcrm_core.models.base.UtcDateTime(timezone=True)
    op.create_table(
        'queue_callbacks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('queue', sa.String(length=64), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=True),
        sa.Column('phone_e164', sa.String(length=20), nullable=False),
        sa.Column('arrived_at', utc, nullable=False),
        sa.Column('priority', sa.SmallInteger(), nullable=False),
        sa.Column('queue_position', sa.SmallInteger(), nullable=True),
        sa.Column(
            'status',
            sa.Enum(*_STATUSES, name='callbackstatus', native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column('placement', sa.Integer(), nullable=False),
        sa.Column('dial_attempts', sa.Integer(), nullable=False),
        sa.Column('due_at', utc, nullable=False),
        sa.Column('linkedid', sa.String(length=64), nullable=True),
        sa.Column('outcome_detail', sa.String(length=120), nullable=True),
        sa.Column('task_id', sa.Integer(), nullable=True),
        sa.Column('created_at', utc, nullable=False),
        sa.Column('ended_at', utc, nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id']),
        sa.ForeignKeyConstraint(['task_id'], ['followup_tasks.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('queue_callbacks', schema=None) as batch_op:
        batch_op.create_index('ix_queue_callbacks_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_queue_callbacks_patient_id'), ['patient_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('queue_callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queue_callbacks_patient_id'))
        batch_op.drop_index('ix_queue_callbacks_status_due')
    op.drop_table('queue_callbacks')
