"""Weekly ledger export, the queries: the selects that read one ISO week of the ledger (cases
active in the week with their clocks, releases and counts; every message and commitment open at
some point in the week) and :class:`Reader`, which runs them (on PostgreSQL through the driver,
two connections at once). :mod:`ledger.reports.weekly` turns the rows into the export's sections.
Nothing here commits or changes the ledger.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, or_
from sqlmodel import Session, select

from ledger.models import cases as case_tables
from ledger.models.clocks import Clock
from ledger.models.core import Message
from ledger.types import UTCDateTime

# The export's selects take the week as three named parameters, so each is built once and, for
# the driver, compiled once per dialect (compiling them cost as much as a small query).
_START = bindparam("week_start", type_=UTCDateTime())
_END = bindparam("week_end", type_=UTCDateTime())
_WEEK_NAMES = frozenset(p.key for p in (_START, _END))


def _week_params(week: Any) -> dict[str, datetime]:
    return {_START.key: week.start, _END.key: week.end}


def _week_cases(cm: Any) -> tuple[Any, Any]:
    """Cases active in the week: discovered before its end and not closed before its start."""
    return (cm.Case.discovered_at < _END, or_(cm.Case.closed_at.is_(None), cm.Case.closed_at >= _START))


def _week_case_ids(cm: Any) -> Any:
    """The ids of the week's cases as a subquery (no list of thousands of ids sent back and forth)."""
    return select(cm.Case.id).where(*_week_cases(cm)).scalar_subquery()


_CASE_COLS = ("id", "number", "title", "grade", "status", "responsible_unit", "lead_unit", "category",
              "disposal_type", "discovered_at", "leadership_reported_at", "closed_at")


def _case_stmt(cm: Any) -> Any:
    """The week's cases in order: the columns of ``_CASE_COLS``."""
    return (select(*(getattr(cm.Case, c) for c in _CASE_COLS)).where(*_week_cases(cm))
            .order_by(cm.Case.discovered_at, cm.Case.id))


def _case_counts_stmt(cm: Any) -> Any:
    """Per case of the week, what the export counts: briefings, referrals, linked posts,
    published releases and the first publication time. Correlated subqueries on the ``case_id``
    indexes, answered in one pass instead of one grouped query per table over the case set."""
    case_id = cm.Case.id

    def per_case(*cols: Any, model: Any) -> Any:
        return select(*cols).where(model.case_id == case_id).correlate(cm.Case).scalar_subquery()

    return select(case_id, per_case(func.count(), model=cm.Briefing), per_case(func.count(), model=cm.Referral),
                  per_case(func.count(), model=cm.CasePost), per_case(func.count(cm.Release.published_at), model=cm.Release),
                  per_case(func.min(cm.Release.published_at), model=cm.Release)).where(*_week_cases(cm))


def _clock_stmt(cm: Any) -> Any:
    """The running and finished clocks of the week's cases: case id, rule, status, late, due_at,
    met_at, provisional, the grade the clock applied under (read from the covering index of
    ``0013_honest_ledger``)."""
    rule = func.coalesce(func.nullif(Clock.rule_name, ""), Clock.rule_id)
    return (select(Clock.subject_id, rule, Clock.status, Clock.late, Clock.due_at, Clock.met_at, Clock.provisional,
                   Clock.grade)
            .where(Clock.subject == "case", Clock.status != "cancelled", Clock.subject_id.in_(_week_case_ids(cm)))
            .order_by(Clock.id))


def _release_stmt(cm: Any) -> Any:
    """The releases of the week's cases drafted or published in the week: case id, title, kind,
    status, revision, created_at, published_at, channel, url and the number of review steps
    (counted by the database instead of shipping each JSON list)."""
    r = cm.Release
    in_week = or_((r.published_at >= _START) & (r.published_at < _END), (r.created_at >= _START) & (r.created_at < _END))
    return (select(r.case_id, r.title, r.kind, r.status, r.revision, r.created_at, r.published_at, r.channel, r.url,
                   func.coalesce(func.json_array_length(r.review_steps), 0))
            .where(r.case_id.in_(_week_case_ids(cm)), in_week).order_by(r.id))


def _commitment_stmt(cm: Any) -> Any:
    """Every commitment open at some point in the week: made before its end and not fulfilled
    before its start, whatever its due date (one due in three weeks is listed from the week it
    was made), with its case's number."""
    c = cm.Commitment
    return (select(cm.Case.number, c.text, c.owner_unit, c.due_date, c.due_at, c.status, c.fulfilled_at,
                   c.public_at, c.public_where, c.created_at)
            .outerjoin(cm.Case, cm.Case.id == c.case_id)
            .where(c.created_at < _END, or_(c.fulfilled_at.is_(None), c.fulfilled_at >= _START))
            .order_by(c.due_at, c.id))


def _message_stmt() -> Any:
    """Every message open at some point in the week: received before its end and not answered
    before its start (received in the week, answered in the week or later, or still unanswered
    from an earlier week: carried over until answered). Each branch reads its own index (receipt time,
    reply time, the partial index of unanswered messages), so no history is scanned. Only the
    first 300 characters of a message and of its reply are exported, so they are cut in the
    database."""
    m = Message
    received = (m.received_at >= _START) & (m.received_at < _END)
    answered_since = (m.replied_at >= _START) & (m.received_at < _END)  # in the week or after it
    unanswered = m.replied_at.is_(None) & (m.received_at < _END)
    return (select(m.id, m.external_id, m.channel, m.title, m.author, func.substr(m.text, 1, 300), m.unit,
                   m.received_at, m.due_at, m.due_provisional, m.replied_at, func.substr(m.reply_text, 1, 300),
                   m.on_time, m.late_working_days)
            .where(or_(received, answered_since, unanswered)).order_by(m.received_at, m.id))


@cache
def _statements() -> tuple[Any, ...]:
    """The export's selects: cases, their clocks, their releases (read on the session's
    connection), then messages, commitments and the per-case counts (on the second connection
    of :class:`Reader`, or after the others)."""
    cm = case_tables
    return (_case_stmt(cm), _clock_stmt(cm), _release_stmt(cm), _message_stmt(), _commitment_stmt(cm),
            _case_counts_stmt(cm))


@dataclass(frozen=True)
class _DriverPlan:
    """A select as SQLAlchemy compiles it for a dialect: the SQL, its constant parameters as
    SQLAlchemy would send them, and the bind processor of each week parameter."""

    sql: str
    params: dict[str, Any]
    week: dict[str, Any]

    @classmethod
    def compile(cls, stmt: Any, dialect: Any) -> _DriverPlan:
        compiled = stmt.compile(dialect=dialect)
        params = compiled.construct_params(dict.fromkeys(_WEEK_NAMES))
        week: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in _WEEK_NAMES:
                week[name] = processor
            elif processor is not None and name in params:
                params[name] = processor(params[name])
        return cls(str(compiled), params, week)

    def bind(self, values: dict[str, Any]) -> dict[str, Any]:
        out = dict(self.params)
        for name, processor in self.week.items():
            out[name] = processor(values[name]) if processor is not None else values[name]
        return out


_PLANS: dict[Any, tuple[_DriverPlan, ...]] = {}


def _driver_plans(dialect: Any) -> tuple[_DriverPlan, ...]:
    plans = _PLANS.get(dialect)
    if plans is None:
        plans = _PLANS[dialect] = tuple(_DriverPlan.compile(stmt, dialect) for stmt in _statements())
    return plans


def _has_own_writes(session: Session, conn: Any) -> bool:
    """Whether the session's transaction holds changes not yet committed (pending objects, or
    rows written: PostgreSQL assigns a transaction id at the first write)."""
    if session.new or session.dirty or session.deleted:
        return True
    return conn.exec_driver_sql("SELECT txid_current_if_assigned()").scalar() is not None


def _driver_rows(raw: Any, sql: str, params: dict[str, Any]) -> list[tuple]:
    with raw.cursor(binary=True) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


class Reader:
    """Runs the export's selects (:func:`_statements`) for one week and hands back each one's
    rows, as tuples to unpack (ORM rows with attribute access cost more than the queries).

    With ``ahead`` on PostgreSQL, two helper threads run them through the driver with the binary
    protocol (timestamps arrive as numbers, not text to parse): the first three on the session's
    connection, the others on a second connection from the engine's pool, so the server works on
    two queries at once while the caller builds rows from those already read. Both connections
    read committed data as each statement starts, as the session's own statements do; a session
    holding changes of its own not yet committed (which the second connection could not see)
    reads everything itself. Otherwise (SQLite connections stay in their own thread) each select
    runs on the session's connection through SQLAlchemy when its rows are asked for."""

    # which connection runs each statement of _statements(): 0 the session's, 1 the second
    CHAIN = (0, 0, 0, 1, 1, 1)

    def __init__(self, session: Session, week: Any, *, ahead: bool = True) -> None:
        self.conn = session.connection()
        self.values = _week_params(week)
        self.pools: list[ThreadPoolExecutor] = []
        self.second: Any = None
        self.futures: list[Future] = []
        dialect = self.conn.dialect
        if ahead and dialect.name == "postgresql" and not _has_own_writes(session, self.conn):
            self.second = self.conn.engine.connect()
            raws = (self.conn.connection.driver_connection, self.second.connection.driver_connection)
            # one thread per connection, each running its statements in order
            self.pools = [ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-read") for _ in raws]
            self.futures = [self.pools[c].submit(_driver_rows, raws[c], plan.sql, plan.bind(self.values))
                            for c, plan in zip(self.CHAIN, _driver_plans(dialect), strict=True)]

    def rows(self, i: int) -> list[Any]:
        if self.futures:
            return self.futures[i].result()
        return self.conn.execute(_statements()[i], self.values).all()

    def close(self) -> None:
        for f in self.futures:
            f.cancel()
        for pool in self.pools:
            pool.shutdown(wait=True)  # nothing may still run on the connections afterwards
        if self.second is not None:
            self.second.close()
