"""Shared fixtures: real SQLite files in tmp dirs, throwaway schemas on the real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ledger.db import make_engine
from ledger.migrate import upgrade
from tests.shared_data import (  # noqa: F401 - the hooks keep skips for missing data visible
    REPO,
    SHARED_DATA,
    pytest_configure,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
    shared_data,
)

PG_ADMIN_URL = os.environ.get("YUQING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def fixed_now() -> datetime:
    return datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai, a Monday


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'yuqing.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str):
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema in the `test` database; dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - only when the server is down
        pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    sep = "&" if "?" in PG_ADMIN_URL else "?"
    yield f"{PG_ADMIN_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str):
    upgrade(pg_url)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_url(request, tmp_path: Path) -> Iterator[str]:
    """Run a test once on a SQLite file and once on a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'yuqing.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def any_engine(any_url: str):
    upgrade(any_url)
    engine = make_engine(any_url)
    yield engine
    engine.dispose()
