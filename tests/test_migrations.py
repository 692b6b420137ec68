"""Fresh migrations on SQLite and PostgreSQL create every table the models declare."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel

import ledger.models  # noqa: F401
from ledger.db import make_engine
from ledger.migrate import current, heads, upgrade


def test_fresh_migration_matches_models(any_url):
    upgrade(any_url)
    engine = make_engine(any_url)
    names = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= names
    assert current(engine) == set(heads(any_url))
    # running again is a no-op
    upgrade(any_url)
    engine.dispose()


def test_sqlite_is_in_wal_mode(sqlite_engine):
    with sqlite_engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert mode == "wal"
    assert timeout >= 1000


@pytest.mark.postgres
def test_unique_post_per_source_external_id_on_postgres(pg_engine):
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError
    from sqlmodel import Session

    from ledger.models import Post, Source

    now = datetime(2026, 1, 1, tzinfo=UTC)
    with Session(pg_engine) as s:
        src = Source(name="s", kind="rss", url="http://x", created_at=now)
        s.add(src)
        s.commit()
        s.add(Post(source_id=src.id, external_id="a", text="x", fetched_at=now))
        s.commit()
        s.add(Post(source_id=src.id, external_id="a", text="y", fetched_at=now))
        with pytest.raises(IntegrityError):
            s.commit()


def test_the_migrations_have_one_head(sqlite_url):
    """Branches made in parallel are merged, so the next migration has one revision to follow."""
    assert len(heads(sqlite_url)) == 1, heads(sqlite_url)
