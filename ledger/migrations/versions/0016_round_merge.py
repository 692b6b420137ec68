"""merge of this round's branches (security, seed workflows, search and schemes, honest ledger,
sessions, reach) into one head; no schema change of its own

Revision ID: 0016_round_merge
Revises: 0010_security, 0011_seed_workflows, 0012_search_schemes, 0013_honest_ledger, 0014_sessions,
0015_reach
"""

revision = "0016_round_merge"
down_revision = ("0010_security", "0011_seed_workflows", "0012_search_schemes", "0013_honest_ledger",
                 "0014_sessions", "0015_reach")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
