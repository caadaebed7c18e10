"""queues as data: queues, members by agent or skill, IVR options

Revision ID: 0004_queues
Revises: 0003_schedules
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = '0004_queues'
down_revision = '0003_schedules'
branch_labels = None
depends_on = None

# The two queues every site had before queues were data (callcenter.asterisk.const.QUEUES),
# with the settings queues.conf gave them; every agent joins both, as before.
_DEFAULT_QUEUES = (
    ("appointments", "Booking, moving and cancelling appointments", "0"),
    ("enquiries", "Everything else: results, billing, directions", None),
)


def upgrade() -> None:
    queues = op.create_table(
        'queues',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('display_name', sa.String(length=100), nullable=False),
        sa.Column('strategy', sa.String(length=16), nullable=False),
        sa.Column('ring_timeout', sa.Integer(), nullable=False),
        sa.Column('wrapup_seconds', sa.Integer(), nullable=False),
        sa.Column('max_wait_seconds', sa.Integer(), nullable=False),
        sa.Column('overflow', sa.String(length=16), nullable=False),
        sa.Column('overflow_queue', sa.String(length=32), nullable=True),
        sa.Column('announce_position', sa.Boolean(), nullable=False),
        sa.Column('announce_holdtime', sa.Boolean(), nullable=False),
        sa.Column('announce_frequency', sa.Integer(), nullable=False),
        sa.Column('menu_digit', sa.String(length=1), nullable=True),
        sa.Column('everyone', sa.Boolean(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('updated_at', hcrm_core.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_queues')),
        sa.UniqueConstraint('name', name=op.f('uq_queues_name')),
    )
    op.create_table(
        'skills',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_skills')),
        sa.UniqueConstraint('name', name=op.f('uq_skills_name')),
    )
    op.create_table(
        'user_skills',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('skill_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['skill_id'], ['skills.id'], name=op.f('fk_user_skills_skill_id_skills')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_skills_user_id_users')),
        sa.PrimaryKeyConstraint('user_id', 'skill_id', name=op.f('pk_user_skills')),
    )
    op.create_table(
        'queue_agents',
        sa.Column('queue_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_queue_agents_queue_id_queues')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_queue_agents_user_id_users')),
        sa.PrimaryKeyConstraint('queue_id', 'user_id', name=op.f('pk_queue_agents')),
    )
    op.create_table(
        'queue_skills',
        sa.Column('queue_id', sa.Integer(), nullable=False),
        sa.Column('skill_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_queue_skills_queue_id_queues')),
        sa.ForeignKeyConstraint(['skill_id'], ['skills.id'], name=op.f('fk_queue_skills_skill_id_skills')),
        sa.PrimaryKeyConstraint('queue_id', 'skill_id', name=op.f('pk_queue_skills')),
    )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('chronic_care', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.alter_column('chronic_care', server_default=None)

    now = hcrm_core.models.base.utcnow()
    op.bulk_insert(
        queues,
        [
            {
                'name': name,
                'display_name': display,
                'strategy': 'rrmemory',
                'ring_timeout': 15,
                'wrapup_seconds': 10,
                'max_wait_seconds': 0,
                'overflow': 'hangup',
                'overflow_queue': None,
                'announce_position': True,
                'announce_holdtime': False,
                'announce_frequency': 60,
                'menu_digit': digit,
                'everyone': True,
                'active': True,
                'updated_at': now,
            }
            for name, display, digit in _DEFAULT_QUEUES
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('chronic_care')
    op.drop_table('queue_skills')
    op.drop_table('queue_agents')
    op.drop_table('user_skills')
    op.drop_table('skills')
    op.drop_table('queues')
