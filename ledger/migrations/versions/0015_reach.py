"""message board state: 待回复 / 办理中 / 已办理 as the 留言板 shows it

Messages crawled from a 问政 / 留言板 board (``crawlers.boards``) carry the board's own state;
a message the board shows 办理中 has no reply yet but is being handled, which the reply fields
alone cannot say. The state is kept in step with the board on every crawl.

Revision ID: 0015_reach
Revises: 0009_source_warning
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_reach"
down_revision = "0009_source_warning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("board_state", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("board_state")
