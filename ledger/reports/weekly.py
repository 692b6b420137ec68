"""Weekly ledger export for leadership, part one: collect one ISO week (Asia/Shanghai) of the
ledger (cases with every clock and outcome, releases, commitments, messages with reply times,
statistics) into :class:`WeeklyData`. :mod:`ledger.reports.weekly_xlsx` writes the workbook,
:mod:`ledger.reports.weekly_docx` the 周报, and :mod:`ledger.reports.export` both.

Personal numbers are masked (:func:`analysis.pii.mask`) in everything written. Times are shown
in the local time zone. Nothing here commits or changes the ledger.
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, or_
from sqlmodel import Session, select

from analysis.pii import mask, mask_many
from ledger.clocks.rules import MET, OPEN_STATUSES, OVERDUE_STATUSES
from ledger.models import cases as case_tables
from ledger.models.clocks import Clock
from ledger.models.core import Message
from ledger.types import UTCDateTime

SHANGHAI = ZoneInfo("Asia/Shanghai")
CLOCK_STATUS = {"running": "计时中", "warning": "即将到期", "met": "已完成", "missed": "未达目标",
                "breached": "已超时限", "paused": "已暂停", "cancelled": "已取消", "restarted": "已重新计时"}
GRADES = ("特别重大", "重大", "较大", "一般")


class ExportError(ValueError):
    """Bad export request (message in Chinese)."""


@dataclass(frozen=True)
class Week:
    """One ISO week in a local time zone: [start, end) as aware UTC instants."""

    label: str
    start: datetime
    end: datetime
    tz: ZoneInfo

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.tz).date()

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(7)]

    def title(self) -> str:
        y, w = self.label.split("-W")
        last = self.first_day + timedelta(days=6)
        return f"{y}年第{int(w)}周（{self.first_day.month}月{self.first_day.day}日—{last.month}月{last.day}日）"


def parse_week(label: str, tz: ZoneInfo = SHANGHAI) -> Week:
    """``YYYY-Www`` → the week in ``tz`` (Monday 00:00 to the next Monday 00:00)."""
    m = re.fullmatch(r"\s*(\d{4})-?W(\d{1,2})\s*", label or "", re.IGNORECASE)
    if not m:
        raise ExportError(f"周次格式应为 YYYY-Www，例如 2026-W10: {label!r}")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ExportError(f"{year} 年没有第 {week} 周") from exc
    start = datetime.combine(monday, time(0, 0), tzinfo=tz)
    return Week(f"{year}-W{week:02d}", start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC), tz)


def previous_week(now: datetime, tz: ZoneInfo = SHANGHAI) -> Week:
    """The last full week before ``now`` (what the Monday-morning job reports)."""
    y, w, _ = (now.astimezone(tz) - timedelta(days=7)).isocalendar()
    return parse_week(f"{y}-W{w:02d}", tz)


def local(dt: datetime | None, tz: ZoneInfo = SHANGHAI) -> datetime | None:
    """Naive local time for a spreadsheet cell (Excel has no time zones)."""
    return dt.astimezone(tz).replace(tzinfo=None, microsecond=0) if dt is not None else None


def fmt(dt: datetime | None, tz: ZoneInfo = SHANGHAI) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M") if dt is not None else "—"


def rate(ok: int, total: int) -> float | None:
    return round(ok / total, 4) if total else None


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


# ---------------------------------------------------------------------------- collection
@dataclass
class WeeklyData:
    """Everything the two files show, already masked, plus the figures."""

    week: Week
    cases: list[dict[str, Any]] = field(default_factory=list)
    clocks: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    commitments: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    clock_rates: list[dict[str, Any]] = field(default_factory=list)
    unit_rates: list[dict[str, Any]] = field(default_factory=list)
    overdue: list[dict[str, Any]] = field(default_factory=list)
    top_events: list[dict[str, Any]] = field(default_factory=list)


# The export's selects take the week as three named parameters, so each is built once and, for
# the driver, compiled once per dialect (compiling them cost as much as a small query).
_START = bindparam("week_start", type_=UTCDateTime())
_END = bindparam("week_end", type_=UTCDateTime())
_NEXT_END = bindparam("next_week_end", type_=UTCDateTime())
_WEEK_NAMES = frozenset(p.key for p in (_START, _END, _NEXT_END))


def _week_params(week: Week) -> dict[str, datetime]:
    return {_START.key: week.start, _END.key: week.end, _NEXT_END.key: week.end + timedelta(days=7)}


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
    met_at, provisional (read from the covering index of ``0008_export_clock_index``)."""
    rule = func.coalesce(func.nullif(Clock.rule_name, ""), Clock.rule_id)
    return (select(Clock.subject_id, rule, Clock.status, Clock.late, Clock.due_at, Clock.met_at, Clock.provisional)
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
    """Commitments made before the week's end, due before the end of the next week and not
    fulfilled before the week began, with their case's number."""
    c = cm.Commitment
    return (select(cm.Case.number, c.text, c.owner_unit, c.due_date, c.due_at, c.status, c.fulfilled_at,
                   c.public_at, c.public_where)
            .outerjoin(cm.Case, cm.Case.id == c.case_id)
            .where(c.due_at < _NEXT_END, c.created_at < _END, or_(c.fulfilled_at.is_(None), c.fulfilled_at >= _START))
            .order_by(c.due_at, c.id))


def _message_stmt() -> Any:
    """The messages received in the week, in order; only the first 300 characters of a message
    and of its reply are exported, so they are cut in the database."""
    m = Message
    return (select(m.id, m.external_id, m.channel, m.title, m.author, func.substr(m.text, 1, 300), m.unit,
                   m.received_at, m.due_at, m.due_provisional, m.replied_at, func.substr(m.reply_text, 1, 300),
                   m.on_time, m.late_working_days)
            .where(m.received_at >= _START, m.received_at < _END).order_by(m.received_at, m.id))


@cache
def _statements() -> tuple[Any, ...]:
    """The export's selects: cases, their clocks, their releases (read on the session's
    connection), then messages, commitments and the per-case counts (on the second connection
    of :class:`_Reader`, or after the others)."""
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


class _Reader:
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

    def __init__(self, session: Session, week: Week, *, ahead: bool = True) -> None:
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


def _per_day(instants, week: Week) -> list[int]:
    """How many of ``instants`` fall on each local day of the week (by the local midnights, not
    a time-zone conversion per instant)."""
    ordered = sorted(instants)
    bounds = [datetime.combine(d, time(0, 0), tzinfo=week.tz) for d in week.days]
    bounds.append(week.end)
    at = [bisect_left(ordered, b) for b in bounds]
    return [at[i + 1] - at[i] for i in range(7)]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while a week's rows become dicts. Those rows and dicts
    form no reference cycles (reference counting frees them), yet creating some 100,000 of them
    triggers full collections over the whole process heap, which cost as much as the queries."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def collect_week(session: Session, week: Week, *, now: datetime, read_ahead: bool = True) -> WeeklyData:
    """Read the week from the ledger: cases active in the week (discovered before its end and
    not closed before its start), their clocks, releases, commitments, the messages received in
    the week, and the figures derived from them. ``read_ahead``: on PostgreSQL, run the queries
    in a helper thread while rows are built (see :class:`_Reader`); the result is the same."""
    with _cyclic_gc_paused():
        fetch = _Reader(session, week, ahead=read_ahead)
        try:
            data = _collect_week(fetch, week, now=now)
        finally:
            fetch.close()
        # the rows read are freed before the collector runs again, so it never walks them
        del fetch
    return data


class _Tally:
    """On-time / late counts per clock rule and per unit, and the overdue items by kind."""

    def __init__(self) -> None:
        self.rules: dict[str, Counter] = defaultdict(Counter)
        self.units: dict[str, Counter] = defaultdict(Counter)
        self.overdue: dict[str, list[dict[str, Any]]] = {"时限": [], "承诺": [], "留言": []}

    def count(self, rule: str, unit: str, outcome: str) -> None:
        self.rules[rule][outcome] += 1
        self.units[unit][outcome] += 1


def _add_messages(data: WeeklyData, rows: list[Any], tally: _Tally, as_of: datetime) -> None:
    overdue = tally.overdue["留言"]
    n = len(rows)
    # title, author, text and reply of every message masked in one pass (columns 3, 4, 5, 11)
    masked = mask_many([r[i] for i in (3, 4, 5, 11) for r in rows])
    for k, (m_id, external_id, channel, _, _, _, m_unit, received_at, due_at, provisional, replied_at,
            _, on_time, late_days) in enumerate(rows):
        unit = m_unit or "未指定"
        m_title = masked[k]
        if on_time is True:
            outcome = "on_time"
            tally.count("留言答复", unit, outcome)
        elif on_time is False or (replied_at is None and due_at is not None and due_at < as_of):
            outcome = "late"
            tally.count("留言答复", unit, outcome)
            late = f"超期答复（{late_days}个工作日）" if late_days else "超期答复"
            overdue.append({"kind": "留言", "what": f"{external_id} {m_title[:40]}", "item": "留言答复",
                            "due": due_at, "unit": unit, "status": "逾期未答复" if replied_at is None else late})
        else:
            outcome = "open"
        data.messages.append({
            "id": m_id, "external_id": external_id, "channel": channel, "title": m_title,
            "author": masked[n + k], "received_at": received_at, "due_at": due_at,
            "provisional": provisional, "replied_at": replied_at,
            "hours": round((replied_at - received_at).total_seconds() / 3600, 1) if replied_at else None,
            "on_time": on_time, "late_working_days": late_days, "unit": unit,
            "outcome": outcome, "reply": masked[3 * n + k], "text": masked[2 * n + k],
        })


def _add_commitments(data: WeeklyData, rows: list[Any], tally: _Tally, as_of: datetime) -> None:
    end = data.week.end
    for number, text, owner_unit, due_date, due_at, c_status, fulfilled_at, public_at, public_where in rows:
        number = number or ""
        text = mask(text)
        fulfilled = fulfilled_at is not None and fulfilled_at < end
        overdue = not fulfilled and due_at < as_of
        state = "已落实" if fulfilled else ("逾期" if overdue else ("本周到期" if due_at < end else "下周到期"))
        data.commitments.append({"case": number, "text": text, "unit": owner_unit,
                                 "due_date": due_date, "due_at": due_at, "status": c_status,
                                 "state": state, "fulfilled_at": fulfilled_at, "public_at": public_at,
                                 "public_where": public_where})
        if overdue:
            tally.overdue["承诺"].append({"kind": "承诺", "what": f"{number} {text[:60]}", "item": "承诺事项",
                                          "due": due_at, "unit": owner_unit, "status": "逾期未落实"})


def _add_cases(data: WeeklyData, case_rows: list[Any], clock_rows: list[Any], release_rows: list[Any],
               tally: _Tally, as_of: datetime) -> None:
    start, end = data.week.start, data.week.end
    all_clocks: dict[int, list] = defaultdict(list)
    for subject_id, *rest in clock_rows:
        all_clocks[subject_id].append(rest)
    all_releases: dict[int, list] = defaultdict(list)
    for (case_id, *rest), r_title in zip(release_rows, mask_many([r[1] for r in release_rows]), strict=True):
        rest[0] = r_title
        all_releases[case_id].append(rest)
    titles = mask_many([r[2] for r in case_rows])
    overdue = tally.overdue["时限"]
    for k, (case_id, number, _, grade, status, responsible_unit, lead_unit, category, disposal_type,
            discovered_at, reported_at, closed_at) in enumerate(case_rows):
        unit = responsible_unit or "未指定"
        title = titles[k]
        clock_cells = []
        for rule, c_status, late, due_at, met_at, provisional in all_clocks.get(case_id, ()):
            # on_time | late | open as of ``as_of`` (the end of the week or the export time):
            # a running clock whose due time has passed is already late
            if c_status == MET:
                outcome = "late" if late else "on_time"
            elif c_status in OVERDUE_STATUSES or (c_status in OPEN_STATUSES and due_at is not None and due_at < as_of):
                outcome = "late"
            else:
                outcome = "open"
            shown = CLOCK_STATUS.get(c_status, c_status)
            clock_cells.append({"rule": rule, "due": due_at, "status": shown, "met_at": met_at,
                                "provisional": provisional, "outcome": outcome})
            if outcome == "open":
                continue
            if (due_at is not None and start <= due_at < end) or (met_at is not None and start <= met_at < end):
                tally.count(rule, unit, outcome)
            if outcome == "late" and c_status != "met":
                overdue.append({"kind": "时限", "what": f"{number} {title}", "item": rule, "due": due_at,
                                "unit": unit, "status": shown})
        data.cases.append({
            "id": case_id, "number": number, "title": title, "grade": grade,
            "status": status, "unit": unit, "lead_unit": lead_unit, "category": category,
            "disposal_type": disposal_type, "discovered_at": discovered_at,
            "leadership_reported_at": reported_at, "closed_at": closed_at,
            "releases": 0, "first_release_at": None, "briefings": 0, "referrals": 0, "posts": 0,
            "clocks": clock_cells, "new": start <= discovered_at < end,
        })
        for r_title, kind, r_status, revision, created_at, published_at, channel, url, reviews in all_releases.get(case_id, ()):
            data.releases.append({"case": number, "title": r_title, "kind": kind, "status": r_status,
                                  "revision": revision, "created_at": created_at,
                                  "published_at": published_at, "channel": channel, "url": url,
                                  "reviews": int(reviews or 0)})


def _add_case_counts(data: WeeklyData, rows: list[Any]) -> None:
    by_id = {c["id"]: c for c in data.cases}
    for case_id, briefings, referrals, posts, published, first_release in rows:
        case = by_id.get(case_id)
        if case is not None:
            case.update(briefings=briefings, referrals=referrals, posts=posts, releases=published,
                        first_release_at=first_release)


def _rates(tally: dict[str, Counter], key: str) -> list[dict[str, Any]]:
    return [{key: k, "on_time": v["on_time"], "late": v["late"], "total": v["on_time"] + v["late"],
             "rate": rate(v["on_time"], v["on_time"] + v["late"])} for k, v in sorted(tally.items())]


def _collect_week(fetch: _Reader, week: Week, *, now: datetime) -> WeeklyData:
    data = WeeklyData(week=week)
    as_of = min(now, week.end)
    tally = _Tally()
    # messages and commitments first: on PostgreSQL they are read while the cases, their clocks
    # and releases are still being read on the other connection
    _add_messages(data, fetch.rows(3), tally, as_of)
    _add_commitments(data, fetch.rows(4), tally, as_of)
    _add_cases(data, fetch.rows(0), fetch.rows(1), fetch.rows(2), tally, as_of)
    _add_case_counts(data, fetch.rows(5))
    data.overdue = [*tally.overdue["时限"], *tally.overdue["承诺"], *tally.overdue["留言"]]
    data.clock_rates = _rates(tally.rules, "rule")
    data.unit_rates = _rates(tally.units, "unit")
    new_cases = [c for c in data.cases if c["new"]]
    replied = [m for m in data.messages if m["replied_at"] is not None]
    msg_tally = tally.rules.get("留言答复", Counter())
    data.figures = {
        "new_cases": len(new_cases),
        "active_cases": len(data.cases),
        **{f"new_{g}": sum(1 for c in new_cases if c["grade"] == g) for g in GRADES},
        "closed_cases": sum(1 for c in data.cases if c["closed_at"] and week.start <= c["closed_at"] < week.end),
        "releases_published": sum(1 for r in data.releases if r["published_at"] and week.start <= r["published_at"] < week.end),
        "messages": len(data.messages),
        "messages_replied": len(replied),
        "messages_on_time": msg_tally["on_time"],
        "messages_late": msg_tally["late"],
        "message_on_time_rate": rate(msg_tally["on_time"], msg_tally["on_time"] + msg_tally["late"]),
        "commitments_due": sum(1 for c in data.commitments if c["state"] in ("本周到期", "逾期") or
                               (c["state"] == "已落实" and week.start <= c["due_at"] < week.end)),
        "commitments_overdue": sum(1 for c in data.commitments if c["state"] == "逾期"),
        "overdue_items": len(data.overdue),
        "messages_per_day": _per_day((m["received_at"] for m in data.messages), week),
        "cases_per_day": _per_day((c["discovered_at"] for c in new_cases), week),
    }
    rank = {g: i for i, g in enumerate(GRADES)}
    data.top_events = sorted(data.cases, key=lambda c: (rank.get(c["grade"], 9), -c["posts"], c["number"]))[:10]
    return data
