"""full-text search indexes and monitoring schemes

Search (ledger.posts.search) over posts and messages (title and text) with Chinese substring
semantics, kept in step with every write by the database itself:
- SQLite: contentless FTS5 tables ``post_fts`` / ``message_fts`` (trigram tokenizer) over
  ``title || '\\n' || text || '\\n'`` filled by triggers on insert, update and delete, with
  fts5vocab tables over their trigrams (a two-character phrase is looked up as the trigrams that
  begin with it; the trailing line break makes every two characters the start of a trigram);
- PostgreSQL: a GIN index over the distinct character bigrams of
  ``lower(coalesce(title, '') || '\\n' || text)`` (the immutable SQL function ``yq_bigrams``),
  rows confirmed with ``strpos``. Chosen over pg_trgm because pg_trgm finds nothing for a
  two-character phrase and its extension is one per database, not per schema.
Existing rows are indexed here. Also the ``monitor_scheme`` table (监测方案).

Revision ID: 0012_search_schemes
Revises: 0009_source_warning
"""

import sqlalchemy as sa
from alembic import op

import ledger.types

revision = "0012_search_schemes"
down_revision = "0009_source_warning"
branch_labels = None
depends_on = None

TABLES = ("post", "message")


def _doc(row: str) -> str:
    return f"coalesce({row}.title, '') || char(10) || {row}.text || char(10)"


def _sqlite_upgrade(table: str) -> None:
    fts = f"{table}_fts"
    op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5(body, content='', tokenize='trigram')")
    op.execute(f"CREATE VIRTUAL TABLE {fts}_terms USING fts5vocab({fts}, 'row')")
    op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
               f"INSERT INTO {fts}(rowid, body) VALUES (new.id, {_doc('new')}); END")
    op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, body) VALUES ('delete', old.id, {_doc('old')}); END")
    op.execute(f"CREATE TRIGGER {fts}_au AFTER UPDATE OF title, text ON {table} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, body) VALUES ('delete', old.id, {_doc('old')}); "
               f"INSERT INTO {fts}(rowid, body) VALUES (new.id, {_doc('new')}); END")
    op.execute(f"INSERT INTO {fts}(rowid, body) SELECT id, {_doc(table)} FROM {table}")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in TABLES:
            _sqlite_upgrade(table)
    elif dialect == "postgresql":
        op.execute(
            # COST: evaluating it per row is far dearer than strpos; the planner should know
            "CREATE FUNCTION yq_bigrams(doc text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
            "COST 10000 AS $$ "
            "SELECT coalesce(array_agg(DISTINCT substr(doc, i, 2)), '{}'::text[]) "
            "FROM generate_series(1, length(doc) - 1) AS i $$"
        )
        for table in TABLES:
            op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin "
                       f"(yq_bigrams(lower(coalesce(title, '') || chr(10) || text)))")
    op.create_table(
        "monitor_scheme",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("all_terms", sa.JSON(), nullable=True),
        sa.Column("any_terms", sa.JSON(), nullable=True),
        sa.Column("none_terms", sa.JSON(), nullable=True),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("grade", sa.String(length=10), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_hit_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("hit_total", sa.Integer(), nullable=False),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("monitor_scheme")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in TABLES:
            fts = f"{table}_fts"
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {fts}_terms")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    elif dialect == "postgresql":
        for table in TABLES:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search")
        op.execute("DROP FUNCTION IF EXISTS yq_bigrams(text)")
