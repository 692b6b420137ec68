"""Engines and sessions: SQLite in WAL mode with a busy timeout, or PostgreSQL, from one URL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

T = TypeVar("T")


def make_engine(url: str, *, busy_timeout_ms: int = 30000, echo: bool = False, pool_size: int | None = None,
                sqlite_cache_kib: int | None = None) -> Engine:
    """Create an engine for ``url``; for SQLite create the parent folder and set WAL pragmas.

    What an engine keeps is bounded: at most ``pool_size`` idle connections (SQLAlchemy's default
    of 5 when None; connections opened beyond it for a burst are closed when returned), each
    SQLite connection with a page cache of at most ``sqlite_cache_kib`` KiB (SQLite's default of
    2,000 when None) and at most 128 prepared statements (the ``sqlite3`` module's cache), and
    SQLAlchemy's compiled-statement cache of at most 500 entries per engine."""
    parsed = make_url(url)
    pool = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": 10}
    if parsed.get_backend_name() == "sqlite":
        is_file = bool(parsed.database) and parsed.database != ":memory:"
        if is_file:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False, "cached_statements": 128},
            query_cache_size=500,
            **(pool if is_file else {}),
        )
        cache_pragma = f"PRAGMA cache_size=-{int(sqlite_cache_kib)}" if sqlite_cache_kib else None

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            if cache_pragma:
                cur.execute(cache_pragma)
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, echo=echo, pool_pre_ping=True, query_cache_size=500, **pool)
    if parsed.get_backend_name() == "postgresql":

        @event.listens_for(engine, "connect")
        def _utc_session(dbapi_conn, _record):
            # Sessions in UTC whatever the server's TimeZone: timestamptz values arrive in UTC (no
            # conversion per value) and no SQL depends on the server's local time zone.
            autocommit = dbapi_conn.autocommit
            dbapi_conn.autocommit = True
            dbapi_conn.execute("SET TIME ZONE 'UTC'")
            dbapi_conn.autocommit = autocommit

    return engine


def stable_in(values: Sequence[T]) -> list[T]:
    """``values`` for an ``IN (...)`` list, padded to a power-of-two length by repeating the last
    one (the result of the IN is the same). The SQL text of a bound IN list has one placeholder
    per value and each text is prepared and cached per connection; in a long-running process a
    list whose length varies from run to run would leave a prepared statement of every length
    in the cache. Padded, a query has at most one text per power of two."""
    out = list(values)
    if out:
        out.extend(out[-1:] * ((1 << (len(out) - 1).bit_length()) - len(out)))
    return out


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class PlannerStats:
    """Keeps PostgreSQL's planner statistics of a table current while a large import grows it.

    Autovacuum analyses a table only after its naptime and once a tenth of it has changed; during
    a burst into a young table the planner still sees the statistics of a nearly empty one (or
    none) and picks sequential scans for lookups that an index answers in milliseconds (the
    content-hash lookup of event clustering went from about 3 ms to 60 ms per batch at 50,000
    posts). ``grew(engine, n)``, called after each stored batch is committed, runs ``ANALYZE`` on
    the table whenever the rows added since the last one reach the size the table had then (and
    at least ``min_rows``): a handful of runs over an import, each a sample of at most 30,000 rows
    by default. No-op on other databases (SQLite plans these lookups from its indexes alone)."""

    def __init__(self, table: str, *, min_rows: int = 2_000) -> None:
        if not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
        self.table, self.min_rows = table, min_rows
        self._known: float | None = None  # rows at the last ANALYZE (or as the catalogue says)
        self._added = 0
        self.runs = 0

    def grew(self, engine: Engine, added: int) -> bool:
        """Count ``added`` rows just committed; analyse when due (in a transaction of its own, so
        that the sample sees them). True when ANALYZE ran."""
        if engine.dialect.name != "postgresql" or added <= 0:
            return False
        from sqlalchemy import text

        with engine.begin() as conn:
            if self._known is None:
                tuples = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"),
                                      {"t": self.table}).scalar()
                self._known = max(float(tuples or 0), 0.0)  # -1: never analysed
            self._added += added
            if self._added < max(self.min_rows, self._known):
                return False
            from psycopg import sql  # the identifier quoted by the driver

            conn.connection.dbapi_connection.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(self.table)))
        self._known += self._added
        self._added = 0
        self.runs += 1
        return True
