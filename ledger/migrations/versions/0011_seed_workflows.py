"""seed workflows: policy register and interpretations, 涉嫌违法 on cases, PII reason on reviews

The policy register (政策解读) keeps published policy documents and the interpretation materials
released for them; the interpretation clock is a ``clock`` row of subject ``policy``. A case
can be marked 涉嫌违法 (its leads must then be referred before closing). A 保密审查 that passes
a text holding personal numbers records the reviewer's reason.

Revision ID: 0011_seed_workflows
Revises: 0009_source_warning
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import ledger.types

revision = "0011_seed_workflows"
down_revision = "0009_source_warning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_doc",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("doc_number", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("published_at", ledger.types.UTCDateTime(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("returned_at", ledger.types.UTCDateTime(), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_policy_doc_unit", "policy_doc", ["unit"])
    op.create_index("ix_policy_doc_published_at", "policy_doc", ["published_at"])
    op.create_table(
        "policy_interpretation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("form", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("published_at", ledger.types.UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("recorded_at", ledger.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["policy_id"], ["policy_doc.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_policy_interpretation_policy_id", "policy_interpretation", ["policy_id"])
    with op.batch_alter_table("ledger_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspected_illegal", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("release_review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pii_ok_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("release_review", schema=None) as batch_op:
        batch_op.drop_column("pii_ok_reason")
    with op.batch_alter_table("ledger_case", schema=None) as batch_op:
        batch_op.drop_column("suspected_illegal")
    op.drop_index("ix_policy_interpretation_policy_id", table_name="policy_interpretation")
    op.drop_table("policy_interpretation")
    op.drop_index("ix_policy_doc_published_at", table_name="policy_doc")
    op.drop_index("ix_policy_doc_unit", table_name="policy_doc")
    op.drop_table("policy_doc")
