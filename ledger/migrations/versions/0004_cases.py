"""case tables: cases, linked posts, releases and their reviews, briefings, commitments, referrals

Revision ID: 0004_cases
Revises: 0001_core
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import ledger.types

revision = "0004_cases"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_counter',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_table('ledger_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('grade', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('disposal_type', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
    sa.Column('jurisdiction', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('responsible_unit', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('lead_unit', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('co_units', sa.JSON(), nullable=False),
    sa.Column('discovered_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('occurred_at', ledger.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('leadership_reported_at', ledger.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('leadership_report_note', sa.Text(), nullable=True),
    sa.Column('last_release_at', ledger.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', ledger.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('archived_at', ledger.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    op.create_index(op.f('ix_ledger_case_discovered_at'), 'ledger_case', ['discovered_at'], unique=False)
    op.create_index(op.f('ix_ledger_case_event_id'), 'ledger_case', ['event_id'], unique=False)
    op.create_index(op.f('ix_ledger_case_grade'), 'ledger_case', ['grade'], unique=False)
    op.create_index(op.f('ix_ledger_case_responsible_unit'), 'ledger_case', ['responsible_unit'], unique=False)
    op.create_index(op.f('ix_ledger_case_status'), 'ledger_case', ['status'], unique=False)
    op.create_table('briefing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('held_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('spokesperson', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('recorded_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['ledger_case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_briefing_case_id'), 'briefing', ['case_id'], unique=False)
    op.create_table('commitment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('owner_unit', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('due_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('fulfilled_at', ledger.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('public_where', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('public_at', ledger.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', ledger.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['ledger_case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_commitment_case_id'), 'commitment', ['case_id'], unique=False)
    op.create_index(op.f('ix_commitment_due_at'), 'commitment', ['due_at'], unique=False)
    op.create_index(op.f('ix_commitment_owner_unit'), 'commitment', ['owner_unit'], unique=False)
    op.create_index(op.f('ix_commitment_status'), 'commitment', ['status'], unique=False)
    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('referred_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('recorded_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['ledger_case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_referral_case_id'), 'referral', ['case_id'], unique=False)
    op.create_table('release',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('review_steps', sa.JSON(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('drafted_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', ledger.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('published_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['ledger_case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_release_case_id'), 'release', ['case_id'], unique=False)
    op.create_index(op.f('ix_release_published_at'), 'release', ['published_at'], unique=False)
    op.create_table('case_post',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('added_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('added_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['ledger_case.id'], ),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'post_id', name='uq_case_post')
    )
    op.create_index(op.f('ix_case_post_case_id'), 'case_post', ['case_id'], unique=False)
    op.create_index(op.f('ix_case_post_post_id'), 'case_post', ['post_id'], unique=False)
    op.create_table('release_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('release_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('step_index', sa.Integer(), nullable=False),
    sa.Column('reviewer', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('reviewed_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('recorded_at', ledger.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['release_id'], ['release.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_release_review_release_id'), 'release_review', ['release_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_release_review_release_id'), table_name='release_review')
    op.drop_table('release_review')
    op.drop_index(op.f('ix_case_post_post_id'), table_name='case_post')
    op.drop_index(op.f('ix_case_post_case_id'), table_name='case_post')
    op.drop_table('case_post')
    op.drop_index(op.f('ix_release_published_at'), table_name='release')
    op.drop_index(op.f('ix_release_case_id'), table_name='release')
    op.drop_table('release')
    op.drop_index(op.f('ix_referral_case_id'), table_name='referral')
    op.drop_table('referral')
    op.drop_index(op.f('ix_commitment_status'), table_name='commitment')
    op.drop_index(op.f('ix_commitment_owner_unit'), table_name='commitment')
    op.drop_index(op.f('ix_commitment_due_at'), table_name='commitment')
    op.drop_index(op.f('ix_commitment_case_id'), table_name='commitment')
    op.drop_table('commitment')
    op.drop_index(op.f('ix_briefing_case_id'), table_name='briefing')
    op.drop_table('briefing')
    op.drop_index(op.f('ix_ledger_case_status'), table_name='ledger_case')
    op.drop_index(op.f('ix_ledger_case_responsible_unit'), table_name='ledger_case')
    op.drop_index(op.f('ix_ledger_case_grade'), table_name='ledger_case')
    op.drop_index(op.f('ix_ledger_case_event_id'), table_name='ledger_case')
    op.drop_index(op.f('ix_ledger_case_discovered_at'), table_name='ledger_case')
    op.drop_table('ledger_case')
    op.drop_table('case_counter')
