"""sessions: a per-user session version, and sign-in throttling per address

A dashboard session is a signed token naming the user and the user's ``session_version``;
changing the password, disabling, unlocking or changing the role bumps the version, which ends
every open session of that user. ``login_throttle`` counts failed sign-ins per client address,
so one address is slowed down long before any account can be locked by guessing.

Revision ID: 0014_sessions
Revises: 0009_source_warning
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import ledger.types

revision = "0014_sessions"
down_revision = "0009_source_warning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "login_throttle",
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("address"),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("session_version")
