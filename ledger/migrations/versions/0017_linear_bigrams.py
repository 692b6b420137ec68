"""PostgreSQL search index: compute a document's character bigrams in linear time

``yq_bigrams`` (0012) took ``substr(doc, i, 2)`` for every position; on multibyte text each
``substr`` walks the string from its start, so a long post (the intake keeps up to 200,000
characters) took minutes to index and held the crawl worker that stored it. The new body splits
the text into characters once and pairs each with the next. Same result for every input (same
distinct, sorted bigrams), so the existing GIN indexes stay valid and are not rebuilt.
SQLite is not concerned (FTS5 trigram tokenizer).

Revision ID: 0017_linear_bigrams
Revises: 0016_round_merge
"""

from alembic import op

revision = "0017_linear_bigrams"
down_revision = "0016_round_merge"
branch_labels = None
depends_on = None

LINEAR = (
    "CREATE OR REPLACE FUNCTION yq_bigrams(doc text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT "
    "PARALLEL SAFE COST 10000 AS $$ "
    "SELECT coalesce(array_agg(DISTINCT pair), '{}'::text[]) FROM ("
    "SELECT c || lead(c) OVER (ORDER BY i) AS pair "
    "FROM unnest(string_to_array(doc, NULL)) WITH ORDINALITY AS t(c, i)) AS s "
    "WHERE pair IS NOT NULL $$"
)
QUADRATIC = (
    "CREATE OR REPLACE FUNCTION yq_bigrams(doc text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT "
    "PARALLEL SAFE COST 10000 AS $$ "
    "SELECT coalesce(array_agg(DISTINCT substr(doc, i, 2)), '{}'::text[]) "
    "FROM generate_series(1, length(doc) - 1) AS i $$"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LINEAR)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(QUADRATIC)
