"""opening hours per queue, holidays, after-hours requests

Revision ID: 0005_opening_hours
Revises: 0004_queues
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = '0005_opening_hours'
down_revision = '0004_queues'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'opening_hours',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('queue', sa.String(length=64), nullable=False),
        sa.Column('weekday', sa.SmallInteger(), nullable=False),
        sa.Column('opens_minute', sa.Integer(), nullable=False),
        sa.Column('closes_minute', sa.Integer(), nullable=False),
        sa.Column('created_at', hcrm_core.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_opening_hours_weekday')),
        sa.CheckConstraint(
            'opens_minute >= 0 AND opens_minute < closes_minute AND closes_minute <= 1440',
            name=op.f('ck_opening_hours_minutes'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_opening_hours')),
        sa.UniqueConstraint(
            'queue', 'weekday', 'opens_minute',
            name=op.f('uq_opening_hours_queue_weekday_opens_minute'),
        ),
    )
    with op.batch_alter_table('opening_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opening_hours_queue'), ['queue'], unique=False)

    op.create_table(
        'holidays',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('queue', sa.String(length=64), nullable=True),
        sa.Column('created_at', hcrm_core.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_holidays')),
    )
    with op.batch_alter_table('holidays', schema=None) as batch_op:
        batch_op.create_index('ix_holidays_day_queue', ['day', 'queue'], unique=False)

    op.create_table(
        'after_hours_options',
        sa.Column('queue', sa.String(length=64), nullable=False),
        sa.Column('emergency_digit', sa.String(length=1), nullable=True),
        sa.Column('emergency_number', sa.String(length=32), nullable=True),
        sa.Column('voicemail', sa.Boolean(), nullable=False),
        sa.Column('callback', sa.Boolean(), nullable=False),
        sa.Column('closed_messages', sa.JSON(), nullable=False),
        sa.Column('updated_at', hcrm_core.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            '(emergency_digit IS NULL) = (emergency_number IS NULL)',
            name=op.f('ck_after_hours_options_emergency_pair'),
        ),
        sa.PrimaryKeyConstraint('queue', name=op.f('pk_after_hours_options')),
    )

    op.create_table(
        'after_hours_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column(
            'kind',
            sa.Enum(
                'voicemail', 'callback', name='afterhourskind',
                native_enum=False, create_constraint=True, length=9,
            ),
            nullable=False,
        ),
        sa.Column('queue', sa.String(length=64), nullable=False),
        sa.Column('caller_number', sa.String(length=64), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=True),
        sa.Column('recording_path', sa.String(length=300), nullable=True),
        sa.Column('linkedid', sa.String(length=64), nullable=True),
        sa.Column(
            'status',
            sa.Enum(
                'open', 'done', name='afterhoursstatus',
                native_enum=False, create_constraint=True, length=4,
            ),
            nullable=False,
        ),
        sa.Column('task_id', sa.Integer(), nullable=True),
        sa.Column('created_at', hcrm_core.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['patient_id'], ['patients.id'],
            name=op.f('fk_after_hours_requests_patient_id_patients'),
        ),
        sa.ForeignKeyConstraint(
            ['task_id'], ['followup_tasks.id'],
            name=op.f('fk_after_hours_requests_task_id_followup_tasks'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_after_hours_requests')),
    )
    with op.batch_alter_table('after_hours_requests', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_after_hours_requests_patient_id'), ['patient_id'], unique=False
        )
        batch_op.create_index(
            'ix_after_hours_requests_status_created', ['status', 'created_at'], unique=False
        )


def downgrade() -> None:
    op.drop_table('after_hours_requests')
    op.drop_table('after_hours_options')
    op.drop_table('holidays')
    op.drop_table('opening_hours')
