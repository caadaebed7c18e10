"""Complaint and task status history (issue 17): every status change with its time, so the
reports of a past period do not drift; existing cases get a history from what they hold.

Revision ID: 0019_case_status_history
Revises: 0018_reports_agent_quarters
Create Date: 2026-12-07 05:00:00.000000

The backfill (one INSERT ... SELECT per step, in the order the steps happened, so rows of one
case sorted by time and id read as its story) must agree with the reports' own reading of a
case without history (hcrm_core/services/case_history.py: ``task_story``, ``complaint_story``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = "0019_case_status_history"
down_revision = "0018_reports_agent_quarters"
branch_labels = None
depends_on = None

_TASK_STATUSES = ("open", "done", "cancelled", "in_progress", "cannot_reach")
_COMPLAINT_STATUSES = ("received", "investigating", "responded", "closed", "reopened")
_SEVERITIES = ("low", "medium", "high", "critical")
_ACTOR = "'backfill'"

_TASK_BACKFILL = (
    # created, open
    f"""INSERT INTO task_status_changes (task_id, status, owner_user_id, at, actor)
    SELECT id, 'open', COALESCE(owner_user_id, claimed_by_user_id), created_at, {_ACTOR}
    FROM followup_tasks ORDER BY id""",
    # claimed (a claim still held, or one that led to the outcome)
    f"""INSERT INTO task_status_changes (task_id, status, owner_user_id, at, actor)
    SELECT id, 'in_progress', COALESCE(owner_user_id, claimed_by_user_id),
           COALESCE(claimed_at, updated_at, created_at), {_ACTOR}
    FROM followup_tasks
    WHERE status = 'in_progress'
       OR (claimed_at IS NOT NULL AND status <> 'open'
           AND (closed_at IS NULL OR claimed_at <= closed_at))
    ORDER BY id""",
    # finished
    f"""INSERT INTO task_status_changes (task_id, status, owner_user_id, at, actor)
    SELECT id, status, COALESCE(owner_user_id, claimed_by_user_id),
           COALESCE(closed_at, updated_at, created_at), {_ACTOR}
    FROM followup_tasks WHERE status IN ('done', 'cannot_reach', 'cancelled')
    ORDER BY id""",
)

# The status the steps below leave a complaint in; a complaint whose status is another one
# (investigated again after a response, reopened) gets a last row at its last update.
_COMPLAINT_STEPS_END = """CASE
    WHEN resolved_at IS NOT NULL THEN 'closed'
    WHEN responded_at IS NOT NULL THEN 'responded'
    WHEN acknowledged_at IS NOT NULL AND status <> 'received' THEN 'investigating'
    ELSE 'received' END"""
# What a complaint's rows carry as it is now: nothing older is known.
_KEPT = "severity, category, acknowledge_due_at, respond_due_at"
_COMPLAINT_INSERT = """INSERT INTO complaint_status_changes
    (complaint_id, status, severity, category, acknowledge_due_at, respond_due_at, at, actor)"""
_COMPLAINT_BACKFILL = (
    f"""{_COMPLAINT_INSERT}
    SELECT id, 'received', {_KEPT}, created_at, {_ACTOR}
    FROM complaints ORDER BY id""",
    f"""{_COMPLAINT_INSERT}
    SELECT id, 'investigating', {_KEPT}, acknowledged_at, {_ACTOR}
    FROM complaints
    WHERE acknowledged_at IS NOT NULL AND status <> 'received'
      AND (responded_at IS NULL OR acknowledged_at < responded_at)
    ORDER BY id""",
    f"""{_COMPLAINT_INSERT}
    SELECT id, 'responded', {_KEPT}, responded_at, {_ACTOR}
    FROM complaints WHERE responded_at IS NOT NULL ORDER BY id""",
    f"""{_COMPLAINT_INSERT}
    SELECT id, 'closed', {_KEPT}, resolved_at, {_ACTOR}
    FROM complaints WHERE resolved_at IS NOT NULL ORDER BY id""",
    f"""{_COMPLAINT_INSERT}
    SELECT id, status, {_KEPT},
           COALESCE(updated_at, resolved_at, responded_at, acknowledged_at, created_at),
           {_ACTOR}
    FROM complaints WHERE status <> {_COMPLAINT_STEPS_END} ORDER BY id""",
)


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def upgrade() -> None:
    utc = hcrm_core.models.base.UtcDateTime(timezone=True)
    op.create_table(
        "task_status_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("followup_tasks.id"), nullable=False),
        sa.Column("status", _enum(_TASK_STATUSES, "followupstatus"), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("at", utc, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
    )
    op.create_index("ix_task_status_changes_task_at", "task_status_changes", ["task_id", "at"])
    op.create_index("ix_task_status_changes_at", "task_status_changes", ["at"])
    op.create_table(
        "complaint_status_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("complaint_id", sa.Integer(), sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("status", _enum(_COMPLAINT_STATUSES, "complaintstatus"), nullable=False),
        sa.Column("severity", _enum(_SEVERITIES, "complaintseverity"), nullable=False),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("acknowledge_due_at", utc, nullable=True),
        sa.Column("respond_due_at", utc, nullable=True),
        sa.Column("at", utc, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
    )
    op.create_index(
        "ix_complaint_status_changes_complaint_at",
        "complaint_status_changes",
        ["complaint_id", "at"],
    )
    op.create_index("ix_complaint_status_changes_at", "complaint_status_changes", ["at"])
    for statement in (*_TASK_BACKFILL, *_COMPLAINT_BACKFILL):
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_complaint_status_changes_at", table_name="complaint_status_changes")
    op.drop_index("ix_complaint_status_changes_complaint_at", table_name="complaint_status_changes")
    op.drop_table("complaint_status_changes")
    op.drop_index("ix_task_status_changes_at", table_name="task_status_changes")
    op.drop_index("ix_task_status_changes_task_at", table_name="task_status_changes")
    op.drop_table("task_status_changes")
