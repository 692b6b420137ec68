"""dashboard indexes (and merge of the table heads)

Indexes for the dashboard pages' queries on a large ledger (see docs/BENCHMARKS.md, "Dashboard"):
- post (fetched_at, sentiment, sensitivity): 统计 counts by sentiment and day, flagged posts and
  flag counts filter by sensitivity inside the index (index-only scans);
- post (event_id, coalesce(published_at, fetched_at)): an event's posts per hour and its trend;
- post (event_id, likes DESC, id): an event's most liked posts;
- post (event_id, sensitivity DESC, id): an event's strongest posts when opening a case from it
  (NULLs last on both databases);
- clock (subject, started_at, status, subject_id, rule_name, late): on-time rates over a period
  (covering: read from the index alone);
- message (replied_at, due_at) and (unit, replied_at, due_at): unanswered / overdue counts;
- ledger_case (status, discovered_at): the 台账 list filtered by status.
B-tree only, so that every index works on SQLite and PostgreSQL.

Revision ID: 0007_dashboard_indexes
Revises: 0002_events, 0003_clocks, 0004_cases, 0005_alerts, 0006_users
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_dashboard_indexes"
down_revision = ("0002_events", "0003_clocks", "0004_cases", "0005_alerts", "0006_users")
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_index("ix_post_fetched_sentiment_sensitivity", "post", ["fetched_at", "sentiment", "sensitivity"])
    op.create_index("ix_post_event_seen", "post", ["event_id", sa.text("coalesce(published_at, fetched_at)")])
    op.create_index("ix_post_event_likes", "post", ["event_id", sa.text("likes DESC"), "id"])
    # SQLite sorts NULLs first ascending, so DESC puts them last; PostgreSQL needs it said
    op.create_index("ix_post_event_sensitivity", "post",
                    ["event_id", sa.text("sensitivity DESC NULLS LAST" if postgres else "sensitivity DESC"), "id"])
    op.create_index("ix_clock_subject_started", "clock",
                    ["subject", "started_at", "status", "subject_id", "rule_name", "late"])
    op.create_index("ix_message_open_due", "message", ["replied_at", "due_at"])
    op.create_index("ix_message_unit_open_due", "message", ["unit", "replied_at", "due_at"])
    op.create_index("ix_ledger_case_status_discovered", "ledger_case", ["status", "discovered_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_case_status_discovered", table_name="ledger_case")
    op.drop_index("ix_message_unit_open_due", table_name="message")
    op.drop_index("ix_message_open_due", table_name="message")
    op.drop_index("ix_clock_subject_started", table_name="clock")
    op.drop_index("ix_post_event_sensitivity", table_name="post")
    op.drop_index("ix_post_event_likes", table_name="post")
    op.drop_index("ix_post_event_seen", table_name="post")
    op.drop_index("ix_post_fetched_sentiment_sensitivity", table_name="post")
