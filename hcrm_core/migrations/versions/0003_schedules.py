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

# doctors helper: the exception kinds before and after this revision.
_OLD_KINDS = ('leave', 'holiday', 'other')
_NEW_KINDS = ('leave', 'holiday', 'other', 'sick', 'extra_session')
# slots helper: the campaign kinds before and after this revision.
_OLD_CAMPAIGN_KINDS = ('reminder', 'post_discharge', 'adherence', 'survey')
_NEW_CAMPAIGN_KINDS = (*_OLD_CAMPAIGN_KINDS, 'appointment-changed')


def _campaign_kind(kinds: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*kinds, name='campaignkind', native_enum=False, create_constraint=True)


def upgrade() -> None:
    # doctors helper: begin -- template locations, sick days and extra sessions
    with op.batch_alter_table('schedule_templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location', sa.String(length=120), nullable=True))
    with op.batch_alter_table('schedule_exceptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slot_minutes', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('location', sa.String(length=120), nullable=True))
        # The kind's CHECK lists the values: replaced to add 'sick' and 'extra_session'.
        batch_op.alter_column(
            'kind',
            existing_type=sa.Enum(*_OLD_KINDS, name='exceptionkind', native_enum=False, create_constraint=True),
            type_=sa.Enum(*_NEW_KINDS, name='exceptionkind', native_enum=False, create_constraint=True),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(
            'extra_session',
            "kind <> 'extra_session' OR (slot_minutes IS NOT NULL AND doctor_id IS NOT NULL)",
        )
        batch_op.create_check_constraint('slot_minutes', 'slot_minutes BETWEEN 5 AND 240')
    # doctors helper: end
    # slots helper: begin -- campaigns telling patients of moved or cancelled appointments
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.alter_column(
            'kind',
            existing_type=_campaign_kind(_OLD_CAMPAIGN_KINDS),
            type_=_campaign_kind(_NEW_CAMPAIGN_KINDS),
            existing_nullable=False,
        )
    # slots helper: end


def downgrade() -> None:
    # slots helper: begin
    # The old kinds cannot say "appointment changed": those campaigns and their calls go.
    changed = "(SELECT id FROM campaigns WHERE kind = 'appointment-changed')"
    attempts = f"(SELECT id FROM campaign_attempts WHERE campaign_id IN {changed})"
    op.execute(f"DELETE FROM survey_answers WHERE attempt_id IN {attempts}")
    op.execute(f"UPDATE followup_tasks SET source_attempt_id = NULL WHERE source_attempt_id IN {attempts}")
    op.execute(f"UPDATE calls SET campaign_attempt_id = NULL WHERE campaign_attempt_id IN {attempts}")
    op.execute(f"DELETE FROM campaign_attempts WHERE campaign_id IN {changed}")
    op.execute("DELETE FROM campaigns WHERE kind = 'appointment-changed'")
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.alter_column(
            'kind',
            existing_type=_campaign_kind(_NEW_CAMPAIGN_KINDS),
            type_=_campaign_kind(_OLD_CAMPAIGN_KINDS),
            existing_nullable=False,
        )
    # slots helper: end
    # doctors helper: begin
    # The old kinds cannot say "sick" or "extra session": sick days become leave, extra
    # sessions go (their slots stay, like any slot already generated).
    op.execute("UPDATE schedule_exceptions SET kind = 'leave' WHERE kind = 'sick'")
    op.execute("DELETE FROM schedule_exceptions WHERE kind = 'extra_session'")
    with op.batch_alter_table('schedule_exceptions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_schedule_exceptions_slot_minutes'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_schedule_exceptions_extra_session'), type_='check')
        batch_op.alter_column(
            'kind',
            existing_type=sa.Enum(*_NEW_KINDS, name='exceptionkind', native_enum=False, create_constraint=True),
            type_=sa.Enum(*_OLD_KINDS, name='exceptionkind', native_enum=False, create_constraint=True),
            existing_nullable=False,
        )
        batch_op.drop_column('location')
        batch_op.drop_column('slot_minutes')
    with op.batch_alter_table('schedule_templates', schema=None) as batch_op:
        batch_op.drop_column('location')
    # doctors helper: end
