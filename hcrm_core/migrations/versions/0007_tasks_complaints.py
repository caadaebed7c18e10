"""task inbox and complaints to closure

Revision ID: 0007_tasks_complaints
Revises: 0006_user_admin
Create Date: 2026-12-06 19:30:00.000000

``followup_tasks`` stays the one task table: it gains a source (kind and reference), a due
time, a queue, notes, an outcome, the claim and a version (claims are a conditional UPDATE on
it), and two statuses (in_progress, cannot_reach). Existing tasks get their source from what
created them: a campaign attempt, or an after-hours request.

``complaints`` gains severity, department, due times from the severity policy, and the
received -> investigating -> responded -> closed / reopened statuses (old values mapped:
open -> received, in_progress -> investigating, resolved -> responded). Linked calls and the
contact log are two new tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = '0007_tasks_complaints'
down_revision = '0006_user_admin'
branch_labels = None
depends_on = None

_OLD_TASK_STATUS = ('open', 'done', 'cancelled')
_NEW_TASK_STATUS = (*_OLD_TASK_STATUS, 'in_progress', 'cannot_reach')
_TASK_SOURCES = (
    'manual', 'survey', 'campaign', 'ivr_no_agent', 'voicemail', 'callback_request',
    'missed_callback', 'appointment_change', 'complaint',
)
_OLD_COMPLAINT_STATUS = ('open', 'in_progress', 'resolved', 'closed')
_NEW_COMPLAINT_STATUS = ('received', 'investigating', 'responded', 'closed', 'reopened')
_BOTH_COMPLAINT_STATUS = (*_OLD_COMPLAINT_STATUS, 'received', 'investigating', 'responded', 'reopened')
_STATUS_MAP = (('open', 'received'), ('in_progress', 'investigating'), ('resolved', 'responded'))
_SEVERITIES = ('low', 'medium', 'high', 'critical')


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(
        *values, name=name, native_enum=False, create_constraint=True,
        length=max(len(value) for value in values),
    )


def _utc() -> hcrm_core.models.base.UtcDateTime:
    return hcrm_core.models.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('followup_tasks', schema=None) as batch_op:
        batch_op.alter_column(
            'status',
            existing_type=sa.Enum(*_OLD_TASK_STATUS, name='followupstatus', native_enum=False, create_constraint=True),
            type_=_enum(_NEW_TASK_STATUS, 'followupstatus'),
            existing_nullable=False,
        )
        batch_op.add_column(
            sa.Column('source_kind', _enum(_TASK_SOURCES, 'tasksource'), server_default='manual', nullable=False)
        )
        batch_op.add_column(sa.Column('source_ref', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('due_at', _utc(), nullable=True))
        batch_op.add_column(sa.Column('queue', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('notes', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', _utc(), nullable=True))
        batch_op.add_column(sa.Column('last_call_ref', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('created_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False))
        batch_op.add_column(sa.Column('updated_at', _utc(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_followup_tasks_claimed_by_user_id_users'), 'users', ['claimed_by_user_id'], ['id']
        )
        batch_op.create_index('ix_followup_tasks_status_due_at', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_followup_tasks_owner_status', ['owner_user_id', 'status'], unique=False)
    op.execute(
        "UPDATE followup_tasks SET source_kind = 'campaign', "
        "source_ref = 'attempt:' || CAST(source_attempt_id AS VARCHAR(20)) "
        "WHERE source_attempt_id IS NOT NULL"
    )
    for kind, source in (('voicemail', 'voicemail'), ('callback', 'callback_request')):
        op.execute(
            f"UPDATE followup_tasks SET source_kind = '{source}', source_ref = ("
            "SELECT 'after_hours_request:' || CAST(r.id AS VARCHAR(20)) FROM after_hours_requests r "
            "WHERE r.task_id = followup_tasks.id) "
            f"WHERE id IN (SELECT task_id FROM after_hours_requests WHERE kind = '{kind}' "
            "AND task_id IS NOT NULL)"
        )

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.alter_column(
            'status',
            existing_type=sa.Enum(*_OLD_COMPLAINT_STATUS, name='complaintstatus', native_enum=False, create_constraint=True),
            type_=_enum(_BOTH_COMPLAINT_STATUS, 'complaintstatus'),
            existing_nullable=False,
        )
    for old, new in _STATUS_MAP:
        op.execute(f"UPDATE complaints SET status = '{new}' WHERE status = '{old}'")
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.alter_column(
            'status',
            existing_type=_enum(_BOTH_COMPLAINT_STATUS, 'complaintstatus'),
            type_=_enum(_NEW_COMPLAINT_STATUS, 'complaintstatus'),
            existing_nullable=False,
        )
        batch_op.add_column(
            sa.Column('severity', _enum(_SEVERITIES, 'complaintseverity'), server_default='medium', nullable=False)
        )
        batch_op.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('acknowledge_due_at', _utc(), nullable=True))
        batch_op.add_column(sa.Column('respond_due_at', _utc(), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', _utc(), nullable=True))
        batch_op.add_column(sa.Column('responded_at', _utc(), nullable=True))
        batch_op.add_column(sa.Column('reopened_count', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('updated_at', _utc(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_complaints_department_id_departments'), 'departments', ['department_id'], ['id']
        )
        batch_op.create_index('ix_complaints_status_respond_due', ['status', 'respond_due_at'], unique=False)

    op.create_table(
        'complaint_calls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('complaint_id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('linked_by', sa.String(length=80), nullable=False),
        sa.Column('linked_at', _utc(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_complaint_calls_call_id_calls')),
        sa.ForeignKeyConstraint(
            ['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_calls_complaint_id_complaints')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_calls')),
        sa.UniqueConstraint('complaint_id', 'call_id', name=op.f('uq_complaint_calls_complaint_id_call_id')),
    )
    with op.batch_alter_table('complaint_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_calls_complaint_id'), ['complaint_id'], unique=False)
    op.execute(
        "INSERT INTO complaint_calls (complaint_id, call_id, linked_by, linked_at) "
        "SELECT id, call_id, 'migration', created_at FROM complaints WHERE call_id IS NOT NULL"
    )
    op.create_table(
        'complaint_contacts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('complaint_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=80), nullable=False),
        sa.Column('contacted_at', _utc(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_complaint_contacts_call_id_calls')),
        sa.ForeignKeyConstraint(
            ['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_contacts_complaint_id_complaints')
        ),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_complaint_contacts_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_contacts')),
    )
    with op.batch_alter_table('complaint_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_contacts_complaint_id'), ['complaint_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaint_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_contacts_complaint_id'))
    op.drop_table('complaint_contacts')
    with op.batch_alter_table('complaint_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_calls_complaint_id'))
    op.drop_table('complaint_calls')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_status_respond_due')
        batch_op.drop_constraint(batch_op.f('fk_complaints_department_id_departments'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('ck_complaints_complaintseverity'), type_='check')
        for column in (
            'updated_at', 'reopened_count', 'responded_at', 'acknowledged_at', 'respond_due_at',
            'acknowledge_due_at', 'department_id', 'severity',
        ):
            batch_op.drop_column(column)
        batch_op.alter_column(
            'status',
            existing_type=_enum(_NEW_COMPLAINT_STATUS, 'complaintstatus'),
            type_=_enum(_BOTH_COMPLAINT_STATUS, 'complaintstatus'),
            existing_nullable=False,
        )
    op.execute("UPDATE complaints SET status = 'open' WHERE status = 'reopened'")
    for old, new in _STATUS_MAP:
        op.execute(f"UPDATE complaints SET status = '{old}' WHERE status = '{new}'")
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.alter_column(
            'status',
            existing_type=_enum(_BOTH_COMPLAINT_STATUS, 'complaintstatus'),
            type_=sa.Enum(*_OLD_COMPLAINT_STATUS, name='complaintstatus', native_enum=False, create_constraint=True),
            existing_nullable=False,
        )
    # The old statuses cannot say "in progress" or "cannot reach": they become open and done.
    op.execute("UPDATE followup_tasks SET status = 'open' WHERE status = 'in_progress'")
    op.execute("UPDATE followup_tasks SET status = 'done' WHERE status = 'cannot_reach'")
    with op.batch_alter_table('followup_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_followup_tasks_owner_status')
        batch_op.drop_index('ix_followup_tasks_status_due_at')
        batch_op.drop_constraint(batch_op.f('fk_followup_tasks_claimed_by_user_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('ck_followup_tasks_tasksource'), type_='check')
        for column in (
            'updated_at', 'version', 'created_by', 'last_call_ref', 'claimed_at',
            'claimed_by_user_id', 'outcome', 'notes', 'queue', 'due_at', 'source_ref', 'source_kind',
        ):
            batch_op.drop_column(column)
        batch_op.alter_column(
            'status',
            existing_type=_enum(_NEW_TASK_STATUS, 'followupstatus'),
            type_=sa.Enum(*_OLD_TASK_STATUS, name='followupstatus', native_enum=False, create_constraint=True),
            existing_nullable=False,
        )
