"""honest ledger: the grade a case clock applied under, overdue messages noted once

* ``clock.grade``: the case's grade when the clock started, so that a duty missed while a case
  was 重大 stays in the statistics after a downgrade and says under which grade it applied.
  The covering index the weekly export reads (``ix_clock_subject_outcome``) gains the column.
* ``message.overdue_at``: when the tick noted that the message's reply deadline passed
  unanswered (and alerted, once). Messages already overdue for more than a day are marked as
  noted, as the 24-hour look-back of earlier versions would never have alerted them.
* Indexes for the weekly export's carry-over (messages still unanswered, messages answered in
  the week) and for the tick's pass over messages not yet noted overdue.

Revision ID: 0013_honest_ledger
Revises: 0009_source_warning
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from ledger.types import UTCDateTime

revision = "0013_honest_ledger"
down_revision = "0009_source_warning"
branch_labels = None
depends_on = None

OLD_COLUMNS = ["subject", "subject_id", "status", "due_at", "met_at", "late", "provisional", "rule_name", "rule_id", "id"]
NEW_COLUMNS = [*OLD_COLUMNS, "grade"]
UNANSWERED = sa.text("replied_at IS NULL")
NOT_NOTED = sa.text("replied_at IS NULL AND overdue_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("clock", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grade", sa.String(length=20), nullable=True))
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overdue_at", UTCDateTime(), nullable=True))
    op.execute(sa.text(
        "UPDATE clock SET grade = (SELECT grade FROM ledger_case WHERE ledger_case.id = clock.subject_id) "
        "WHERE subject = 'case'"))
    cutoff = datetime.now(UTC) - timedelta(days=1)  # the look-back of earlier versions
    message = sa.table("message", sa.column("overdue_at", UTCDateTime()), sa.column("due_at", UTCDateTime()),
                       sa.column("replied_at", UTCDateTime()))
    op.execute(message.update()
               .where(message.c.replied_at.is_(None), message.c.due_at.is_not(None), message.c.due_at < cutoff)
               .values(overdue_at=message.c.due_at))
    op.drop_index("ix_clock_subject_outcome", table_name="clock")
    op.create_index("ix_clock_subject_outcome", "clock", NEW_COLUMNS)
    op.create_index("ix_message_replied_at", "message", ["replied_at"])
    op.create_index("ix_message_unanswered", "message", ["received_at"],
                    postgresql_where=UNANSWERED, sqlite_where=UNANSWERED)
    op.create_index("ix_message_overdue_pending", "message", ["due_at"],
                    postgresql_where=NOT_NOTED, sqlite_where=NOT_NOTED)


def downgrade() -> None:
    op.drop_index("ix_message_overdue_pending", table_name="message")
    op.drop_index("ix_message_unanswered", table_name="message")
    op.drop_index("ix_message_replied_at", table_name="message")
    op.drop_index("ix_clock_subject_outcome", table_name="clock")
    op.create_index("ix_clock_subject_outcome", "clock", OLD_COLUMNS)
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("overdue_at")
    with op.batch_alter_table("clock", schema=None) as batch_op:
        batch_op.drop_column("grade")
