"""The IVR, campaign, complaint and task reports: indexes on when things happened.

Revision ID: 0016_reports_more
Revises: 0015_prompt_renders
Create Date: 2026-12-06 22:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0016_reports_more"
down_revision = "0015_prompt_renders"
branch_labels = None
depends_on = None

# (index, table, columns): each report reads its rows by a time range (or, for the audit
# log, an IVR cancellation's row by the appointment it names).
_INDEXES = [
    ("ix_calls_ivr_entered_at", "calls", ["ivr_entered_at"]),
    ("ix_appointments_booked_at", "appointments", ["booked_at"]),
    ("ix_appointments_cancelled_at", "appointments", ["cancelled_at"]),
    ("ix_audit_log_entity", "audit_log", ["entity", "entity_id"]),
    ("ix_campaign_attempts_dialled_at", "campaign_attempts", ["dialled_at"]),
    ("ix_followup_tasks_created_at", "followup_tasks", ["created_at"]),
    ("ix_complaints_created_at", "complaints", ["created_at"]),
]


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
