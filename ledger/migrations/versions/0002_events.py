"""events table

Revision ID: 0002_events
Revises: 0001_core
Create Date: 2026-11-22 02:45:00
"""

import sqlalchemy as sa
from alembic import op

import ledger.types

revision = "0002_events"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("labels_posts", sa.Integer(), nullable=True),
        sa.Column("rep_post_id", sa.Integer(), nullable=True),
        sa.Column("first_seen", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_seen", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("dislikes", sa.Integer(), nullable=False),
        sa.Column("reposts", sa.Integer(), nullable=False),
        sa.Column("heat_base", sa.Float(), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_first_seen"), ["first_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_last_seen"), ["last_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_heat_base"), ["heat_base"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_merged_into_id"), ["merged_into_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_updated_at"))
        batch_op.drop_index(batch_op.f("ix_event_merged_into_id"))
        batch_op.drop_index(batch_op.f("ix_event_heat_base"))
        batch_op.drop_index(batch_op.f("ix_event_last_seen"))
        batch_op.drop_index(batch_op.f("ix_event_first_seen"))
    op.drop_table("event")
