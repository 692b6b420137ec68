"""source warning: what the last successful crawl skipped

A crawl succeeds when it stores what it could, but detail pages that failed (HTTP errors,
redirect loops, oversized or empty pages) or matched no body selector used to show only in the
log and in ``yuqing source test``. The source now keeps a summary of them from its last crawl,
shown with its health in ``yuqing source list`` and on 设置 · 来源.

Revision ID: 0009_source_warning
Revises: 0008_export_clock_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_source_warning"
down_revision = "0008_export_clock_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_warning", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_column("last_warning")
