"""Segmentation (issue 17, part 3): patient tags, saved segments, the departments' visit fee.

Revision ID: 0014_segments
Revises: 0013_cluster_events
Create Date: 2026-12-06 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hcrm_core.models.base

revision = "0014_segments"
down_revision = "0013_cluster_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.add_column(
            sa.Column("visit_fee_cents", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "patient_tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("created_at", hcrm_core.models.base.UtcDateTime(), nullable=False),
        sa.UniqueConstraint("name", name="uq_patient_tags_name"),
    )
    op.create_table(
        "patient_tag_links",
        sa.Column(
            "patient_id",
            sa.Integer(),
            sa.ForeignKey(
                "patients.id",
                ondelete="CASCADE",
                name="fk_patient_tag_links_patient_id_patients",
            ),
            primary_key=True,
        ),
        sa.Column(
            "tag_id",
            sa.Integer(),
            sa.ForeignKey(
                "patient_tags.id",
                ondelete="CASCADE",
                name="fk_patient_tag_links_tag_id_patient_tags",
            ),
            primary_key=True,
        ),
        sa.Column("tagged_at", hcrm_core.models.base.UtcDateTime(), nullable=False),
        sa.Column(
            "tagged_by_user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_patient_tag_links_tagged_by_user_id_users"),
            nullable=True,
        ),
    )
    op.create_index("ix_patient_tag_links_tag_id", "patient_tag_links", ["tag_id"])
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column(
            "created_by_user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_segments_created_by_user_id_users"),
            nullable=True,
        ),
        sa.Column("created_at", hcrm_core.models.base.UtcDateTime(), nullable=False),
        sa.Column("updated_at", hcrm_core.models.base.UtcDateTime(), nullable=False),
        sa.UniqueConstraint("name", name="uq_segments_name"),
    )


def downgrade() -> None:
    op.drop_table("segments")
    op.drop_index("ix_patient_tag_links_tag_id", table_name="patient_tag_links")
    op.drop_table("patient_tag_links")
    op.drop_table("patient_tags")
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("visit_fee_cents")
