"""security: the outbox keeps references to destinations, not their URLs

Notifications used to store the full apprise URL of their destination, SMTP passwords and
webhook tokens included, in the database and in every backup. They now store
``ref:<sha256 prefix> <URL without credentials>``, resolved against the configured destinations
at delivery (``ledger.alerts.outbox``). This revision rewrites the rows written before.
No table changes.

Revision ID: 0010_security
Revises: 0009_source_warning
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0010_security"
down_revision = "0009_source_warning"
branch_labels = None
depends_on = None


def _ref(url: str) -> str:
    # the same format as ledger.alerts.outbox.destination_ref (kept here: a migration is frozen)
    digest = hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:32]
    scheme, _, rest = url.partition("://")
    host = rest.split("@")[-1].split("?")[0].split("/")[0]
    return f"ref:{digest} {scheme}://{host}/…" if rest else f"ref:{digest} {url}"


def upgrade() -> None:
    conn = op.get_bind()
    table = sa.table("notification", sa.column("id", sa.Integer), sa.column("destination", sa.Text))
    rows = conn.execute(sa.select(table.c.id, table.c.destination)
                        .where(sa.not_(table.c.destination.like("ref:%")))).fetchall()
    for row_id, destination in rows:
        conn.execute(table.update().where(table.c.id == row_id).values(destination=_ref(destination or "")))


def downgrade() -> None:
    pass  # the URLs are not kept; a downgraded outbox resolves nothing it wrote under this revision
