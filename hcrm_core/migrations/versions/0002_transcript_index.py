"""transcript blind index (transcript_terms)

Revision ID: 0002_transcript_index
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000

The index holds keyed tokens that only the server can compute (from recording.key), so this
migration cannot fill it: ``callcenter recordings reindex`` does, for transcripts written
before it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002_transcript_index'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('transcript_terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transcript_id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_transcript_terms_recording_id_recordings')),
    sa.ForeignKeyConstraint(['transcript_id'], ['transcripts.id'], name=op.f('fk_transcript_terms_transcript_id_transcripts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcript_terms')),
    sa.UniqueConstraint('transcript_id', 'token', name='uq_transcript_terms_transcript_token')
    )
    with op.batch_alter_table('transcript_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transcript_terms_recording_id'), ['recording_id'], unique=False)
        batch_op.create_index('ix_transcript_terms_token_transcript', ['token', 'transcript_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('transcript_terms', schema=None) as batch_op:
        batch_op.drop_index('ix_transcript_terms_token_transcript')
        batch_op.drop_index(batch_op.f('ix_transcript_terms_recording_id'))

    op.drop_table('transcript_terms')
