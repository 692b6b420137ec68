"""Read-side queries behind the dashboard pages (kept here so pages stay thin and benchmarks can run them).

Every query that a responsible unit's user runs takes ``unit`` and returns only that unit's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlmodel import Session

from ledger.cases.views import of_unit
from ledger.clocks.rules import LATE, ON_TIME, outcome
from ledger.models.alerts import Person
from ledger.models.cases import Case, Commitment
from ledger.models.clocks import Clock
from ledger.models.core import Message, Post
from ledger.models.users import User

CLOSED_STATUSES = ("办结", "归档")
OPEN_CLOCK_STATUSES = ("running", "warning", "missed", "breached", "paused")


def can_see_case(case: Case, unit: str | None) -> bool:
    """Whether a user of ``unit`` (None = not unit-restricted) may see ``case``."""
    if unit is None:
        return True
    return unit in {case.responsible_unit, case.lead_unit, *(case.co_units or [])}


def open_cases_with_clocks(session: Session, *, unit: str | None, limit: int = 200) -> list[tuple[Case, list[Clock]]]:
    """Open cases (not 办结 / 归档) with their open clocks, most urgent first."""
    stmt = select(Case).where(Case.status.notin_(CLOSED_STATUSES))
    if unit is not None:
        stmt = stmt.where(of_unit(unit))
    cases = list(session.exec(stmt.order_by(Case.discovered_at.desc()).limit(limit)).scalars())  # type: ignore[call-overload]
    if not cases:
        return []
    ids = [c.id for c in cases]
    clocks: dict[int, list[Clock]] = {i: [] for i in ids}
    rows = session.exec(select(Clock).where(  # type: ignore[call-overload]
        Clock.subject == "case", Clock.subject_id.in_(ids), Clock.closed == False,  # noqa: E712
        Clock.status.in_(OPEN_CLOCK_STATUSES))).scalars()
    for clock in rows:
        clocks[clock.subject_id].append(clock)
    out = [(c, sorted(clocks[c.id], key=lambda k: k.due_at)) for c in cases]
    far = datetime.max.replace(tzinfo=cases[0].discovered_at.tzinfo)
    out.sort(key=lambda pair: pair[1][0].due_at if pair[1] else far)
    return out


def flagged_posts(session: Session, *, min_sensitivity: float, since: datetime | None = None,
                  limit: int = 50) -> list[Post]:
    """Posts at or above the sensitivity threshold, newest first."""
    stmt = select(Post).where(Post.sensitivity >= min_sensitivity)
    if since is not None:
        stmt = stmt.where(Post.fetched_at >= since)
    stmt = stmt.order_by(Post.fetched_at.desc(), Post.id.desc()).limit(limit)
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def filter_cases(session: Session, *, unit: str | None, status: Sequence[str] = (), grade: Sequence[str] = (),
                 responsible_unit: str | None = None, category: str | None = None,
                 start: datetime | None = None, end: datetime | None = None, limit: int = 500) -> list[Case]:
    """Cases for the 台账 page with its filters; newest discovery first."""
    stmt = select(Case)
    if unit is not None:
        stmt = stmt.where(of_unit(unit))
    if status:
        stmt = stmt.where(Case.status.in_(list(status)))
    if grade:
        stmt = stmt.where(Case.grade.in_(list(grade)))
    if responsible_unit:
        stmt = stmt.where(Case.responsible_unit == responsible_unit)
    if category:
        stmt = stmt.where(Case.category == category)
    if start is not None:
        stmt = stmt.where(Case.discovered_at >= start)
    if end is not None:
        stmt = stmt.where(Case.discovered_at < end)
    stmt = stmt.order_by(Case.discovered_at.desc(), Case.id.desc()).limit(limit)
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def distinct_values(session: Session, column) -> list[str]:
    return [v for v in session.exec(select(column).distinct().order_by(column)).scalars() if v]  # type: ignore[call-overload]


def units_in_use(session: Session) -> list[str]:
    """Unit names the ledger already holds: cases' responsible and lead units, commitments'
    owners, messages' units, the roster's people and unit users, sorted, without repeats."""
    names: set[str] = set()
    for column in (Case.responsible_unit, Case.lead_unit, Commitment.owner_unit, Message.unit, Person.unit,
                   User.unit):
        names.update(distinct_values(session, column))
    return sorted(names)


def posts_per_day_sql(session: Session, *, since: datetime) -> list[tuple[str, int]]:
    """Posts per Asia/Shanghai day since ``since``, counted in the database."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _posts_per_day_pg(session, since=since)
    day = func.strftime("%Y-%m-%d", Post.fetched_at, "+8 hours")
    stmt = select(day, func.count()).where(Post.fetched_at >= since).group_by(day).order_by(day)
    return [(d, n) for d, n in session.exec(stmt).all()]  # type: ignore[call-overload]


def _pg_days(session: Session, since: datetime) -> tuple[date, datetime, int] | None:
    """The Asia/Shanghai days (UTC+8, no daylight saving time) from ``since`` to the newest post:
    (first day, its start as a UTC instant, number of days); None without posts."""
    newest = session.exec(select(func.max(Post.fetched_at)).where(Post.fetched_at >= since)).one()[0]  # type: ignore[call-overload]
    if newest is None:
        return None
    shift = timedelta(hours=8)
    first, last = (since.astimezone(UTC) + shift).date(), (newest.astimezone(UTC) + shift).date()
    return first, datetime.combine(first, time(0), tzinfo=UTC) - shift, (last - first).days + 1


def _posts_per_day_pg(session: Session, *, since: datetime) -> list[tuple[str, int]]:
    """:func:`posts_per_day_sql` as one count per day over the fetch-time index (a month can hold
    hundreds of thousands of posts: counting index ranges costs far less than computing a day for
    every row and grouping)."""
    span = _pg_days(session, since)
    if span is None:
        return []
    first, start, days = span
    sql = text("""
        SELECT b.i, (SELECT count(*) FROM post
                     WHERE post.fetched_at >= greatest(b.lo, :since) AND post.fetched_at < b.lo + interval '1 day')
        FROM (SELECT i, CAST(:start AS timestamptz) + i * interval '1 day' AS lo
              FROM generate_series(0, :days - 1) AS i) AS b""")
    counts = dict(session.execute(sql, {"since": since, "start": start, "days": days}).all())
    return [((first + timedelta(days=i)).isoformat(), counts[i]) for i in range(days) if counts.get(i)]


def sentiment_per_day(session: Session, *, since: datetime) -> list[tuple[str, str, int]]:
    """(Asia/Shanghai day, sentiment, posts) since ``since``: the sentiment over time. Counted on
    the (fetched_at, sentiment, sensitivity) index alone; on PostgreSQL one index range per day,
    like :func:`_posts_per_day_pg`."""
    if session.get_bind().dialect.name == "postgresql":
        span = _pg_days(session, since)
        if span is None:
            return []
        first, start, days = span
        sql = text("""
            SELECT b.i, s.sentiment, s.n
            FROM (SELECT i, CAST(:start AS timestamptz) + i * interval '1 day' AS lo
                  FROM generate_series(0, :days - 1) AS i) AS b,
                 LATERAL (SELECT post.sentiment, count(*) AS n FROM post
                          WHERE post.fetched_at >= greatest(b.lo, :since) AND post.fetched_at < b.lo + interval '1 day'
                          GROUP BY post.sentiment) AS s
            ORDER BY b.i, s.sentiment""")
        rows = session.execute(sql, {"since": since, "start": start, "days": days}).all()
        return [((first + timedelta(days=i)).isoformat(), sent or "未知", n) for i, sent, n in rows]
    day = func.strftime("%Y-%m-%d", Post.fetched_at, "+8 hours")
    stmt = (select(day, Post.sentiment, func.count()).where(Post.fetched_at >= since)
            .group_by(day, Post.sentiment).order_by(day, Post.sentiment))
    return [(d, sent or "未知", n) for d, sent, n in session.exec(stmt).all()]  # type: ignore[call-overload]


def sentiment_counts(session: Session, *, since: datetime) -> dict[str, int]:
    stmt = select(Post.sentiment, func.count()).where(Post.fetched_at >= since).group_by(Post.sentiment)
    return {k or "未知": n for k, n in session.exec(stmt).all()}  # type: ignore[call-overload]


def posts_per_source(session: Session, *, since: datetime, limit: int = 15) -> list[tuple[str, int]]:
    """(source name, posts fetched since ``since``), most first (one grouped range scan of the
    fetch-time index, like :func:`sentiment_counts`)."""
    from ledger.models.core import Source

    counted = (select(Post.source_id, func.count().label("n")).where(Post.fetched_at >= since)
               .group_by(Post.source_id).subquery())
    stmt = (select(Source.name, counted.c.n).join(counted, counted.c.source_id == Source.id)
            .order_by(counted.c.n.desc(), Source.name).limit(limit))
    return [(name, n) for name, n in session.exec(stmt).all()]  # type: ignore[call-overload]


def posts_per_district(session: Session, *, since: datetime, limit: int = 15) -> list[tuple[str, int]]:
    """(jurisdiction as assessed, posts fetched since ``since``), most first; posts without a place
    are left out."""
    stmt = (select(Post.jurisdiction, func.count()).where(Post.fetched_at >= since, Post.jurisdiction.is_not(None))  # type: ignore[union-attr]
            .group_by(Post.jurisdiction).order_by(func.count().desc(), Post.jurisdiction).limit(limit))
    return [(j, n) for j, n in session.exec(stmt).all()]  # type: ignore[call-overload]


def flag_counts(session: Session, *, since: datetime, field: str, limit: int = 5000) -> dict[str, int]:
    """Counts of category / topic names among recent flagged posts (JSON column, counted in Python)."""
    column = Post.categories if field == "categories" else Post.topics
    if session.get_bind().dialect.name == "postgresql":
        return _flag_counts_pg(session, since=since, field=field, limit=limit)
    stmt = (select(column).where(Post.fetched_at >= since, Post.sensitivity > 0)
            .order_by(Post.fetched_at.desc()).limit(limit))
    counts: dict[str, int] = {}
    for flags in session.exec(stmt).scalars():  # type: ignore[call-overload]
        for f in flags or []:
            name = f.get("name") if isinstance(f, dict) else str(f)
            if name:
                counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _flag_counts_pg(session: Session, *, since: datetime, field: str, limit: int) -> dict[str, int]:
    """:func:`flag_counts` counted in PostgreSQL (no JSON shipped to Python); same result and order:
    most frequent first, ties in the order first met (newest post first, flags in stored order).
    Cast to jsonb once per row: operators on ``json`` re-parse the text each time."""
    column = "categories" if field == "categories" else "topics"
    sql = text(f"""
        WITH recent AS (
            SELECT flags, row_number() OVER (ORDER BY fetched_at DESC, id DESC) AS rn
            FROM (SELECT {column}::jsonb AS flags, fetched_at, id FROM post WHERE fetched_at >= :since AND sensitivity > 0
                  ORDER BY fetched_at DESC, id DESC LIMIT :limit) AS newest
        ), names AS (
            SELECT CASE jsonb_typeof(e.value) WHEN 'object' THEN e.value ->> 'name' ELSE e.value #>> '{{}}' END
                       AS name,
                   recent.rn * 100000 + e.ord AS seen
            FROM recent, jsonb_array_elements(recent.flags) WITH ORDINALITY AS e(value, ord)
            WHERE jsonb_typeof(recent.flags) = 'array'
        )
        SELECT name, count(*) AS n, min(seen) AS first_seen FROM names
        WHERE name IS NOT NULL AND name <> ''
        GROUP BY name ORDER BY n DESC, first_seen""")
    rows = session.execute(sql, {"since": since, "limit": limit}).all()
    return {name: n for name, n, _ in rows}


def on_time_rates(session: Session, *, since: datetime, unit: str | None = None) -> list[dict[str, Any]]:
    """Per clock rule, grade it applied under and responsible unit: duties finished (met, missed
    or breached) and the on-time share, judged by :func:`ledger.clocks.rules.outcome` as every
    view is. A duty missed while the case was 重大 stays counted under 重大 after a downgrade."""
    stmt = (select(Clock.rule_name, Clock.grade, Case.responsible_unit, Clock.status, Clock.late, func.count())
            .join(Case, and_(Clock.subject == "case", Clock.subject_id == Case.id))
            .where(Clock.started_at >= since, Clock.status.in_(("met", "missed", "breached")))
            .group_by(Clock.rule_name, Clock.grade, Case.responsible_unit, Clock.status, Clock.late))
    if unit is not None:
        stmt = stmt.where(Case.responsible_unit == unit)
    acc: dict[tuple[str, str, str], list[int]] = {}
    for rule, grade, resp, status, late, n in session.exec(stmt).all():  # type: ignore[call-overload]
        key = (rule or "?", grade or "—", resp or "未指定")
        ok_total = acc.setdefault(key, [0, 0])
        result = outcome(status, late, None)
        if result in (ON_TIME, LATE):
            ok_total[1] += n
            ok_total[0] += n if result == ON_TIME else 0
    return [{"时钟": r, "适用等级": g, "责任单位": u, "按时": ok, "总数": total,
             "按时率": round(ok / total, 3) if total else None}
            for (r, g, u), (ok, total) in sorted(acc.items())]


def message_counts(session: Session, *, unit: str | None, now: datetime) -> dict[str, int]:
    base = select(func.count()).select_from(Message)
    if unit is not None:
        base = base.where(Message.unit == unit)
    total = session.exec(base).one()[0]  # type: ignore[call-overload]
    overdue = session.exec(base.where(Message.replied_at.is_(None), Message.due_at < now)).one()[0]  # type: ignore[call-overload]
    unanswered = session.exec(base.where(Message.replied_at.is_(None))).one()[0]  # type: ignore[call-overload]
    return {"total": total, "overdue": overdue, "unanswered": unanswered}


def event_hourly(session: Session, *, event_id: int, since: datetime, limit: int = 20000) -> list[tuple[datetime, int]]:
    """Posts of one event per hour since ``since`` (by publication, else fetch time)."""
    seen = func.coalesce(Post.published_at, Post.fetched_at)
    rows = session.exec(select(seen).where(Post.event_id == event_id, seen >= since).limit(limit)).scalars()  # type: ignore[call-overload]
    counts: dict[datetime, int] = {}
    for ts in rows:
        if ts is None:
            continue
        if ts.tzinfo is None:  # SQLite returns the coalesce without the column type
            from datetime import UTC

            ts = ts.replace(tzinfo=UTC)
        bucket = ts.replace(minute=0, second=0, microsecond=0)
        counts[bucket] = counts.get(bucket, 0) + 1
    return sorted(counts.items())


def event_cases(session: Session, *, event_id: int) -> list[tuple[int, str, str]]:
    """(id, number, status) of the cases opened from an event (indexed on case.event_id)."""
    from ledger.models.cases import Case

    rows = session.exec(select(Case.id, Case.number, Case.status)  # type: ignore[call-overload]
                        .where(Case.event_id == event_id).order_by(Case.id)).all()
    return [(r[0], r[1], r[2]) for r in rows]


def event_case_facts(session: Session, *, event_id: int) -> dict[str, Any]:
    """What opening a case from an event starts from: discovery time (first fetch), strongest grade
    suggested among its posts, the most common category, unit and disposal type, and top posts."""
    grades = ("一般", "较大", "重大", "特别重大")
    # only the columns used: whole posts (text, JSON assessment...) cost far more to load
    posts = session.exec(select(Post.id, Post.fetched_at, Post.severity, Post.categories,  # type: ignore[call-overload]
                                Post.responsible_unit, Post.disposal_type, Post.jurisdiction)
                         .where(Post.event_id == event_id)
                         .order_by(Post.sensitivity.desc().nullslast(), Post.id).limit(500)).all()
    if not posts:
        return {}

    def common(values):
        counts: dict[str, int] = {}
        for v in values:
            if v:
                counts[v] = counts.get(v, 0) + 1
        return max(counts, key=counts.get) if counts else None

    return {
        "discovered_at": min(p.fetched_at for p in posts),
        "grade": max((p.severity for p in posts if p.severity in grades), key=grades.index, default="一般"),
        "category": common(f.get("name") for p in posts for f in (p.categories or []) if isinstance(f, dict)),
        "responsible_unit": common(p.responsible_unit for p in posts),
        "disposal_type": common(p.disposal_type for p in posts),
        "jurisdiction": common(p.jurisdiction for p in posts),
        "post_ids": [p.id for p in posts[:20]],
    }
