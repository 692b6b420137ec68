"""Time each dashboard page's queries the way the page runs them (same functions, same arguments).

A page "load" is everything the page reads from the database for one render, with the Python
work done on the rows (dicts, masking) that the page does inside its session; Streamlit rendering
is not included. Each load varies what a user varies (role and unit, filters, the case or event
opened, the week). Results: per page p50 / p95 / max in ms, plus the same per query function.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import event, func, select

from ledger.db import make_engine, session_scope

BUDGET_MS = 300.0


@dataclass
class Timer:
    """Collects the time of each named query inside one page load."""

    parts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        self.parts[name].append((time.perf_counter() - t0) * 1000)
        return out


@dataclass
class PageResult:
    page: str
    runs: int
    p50: float
    p95: float
    max: float
    queries: dict[str, tuple[float, float, float]]
    statements: int = 0  # SQL statements per load (mean)

    @property
    def ok(self) -> bool:
        return self.p95 <= BUDGET_MS


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q * len(s)) - 1))
    return s[k]


def _summary(values: list[float]) -> tuple[float, float, float]:
    return round(statistics.median(values), 1), round(pct(values, 0.95), 1), round(max(values), 1)


class Pages:
    """The page loads, bound to one database and one ``now``."""

    def __init__(self, url: str, *, now: datetime, seed: int = 7) -> None:
        from config.caseconfig import load_case_env
        from config.settings import get_settings

        self.engine = make_engine(url)
        self.statements = 0
        event.listen(self.engine, "before_cursor_execute", self._count)
        self.now = now
        self.rnd = random.Random(seed)
        self.settings = get_settings()
        self.env = load_case_env(self.settings)
        with session_scope(self.engine) as s:
            from ledger.models.cases import Case

            self.case_ids = list(s.exec(select(Case.id)).scalars())  # type: ignore[call-overload]
            self.units = [u for u in s.exec(select(Case.responsible_unit).distinct()).scalars() if u]  # type: ignore[call-overload]
            self.categories = [c for c in s.exec(select(Case.category).distinct()).scalars() if c]  # type: ignore[call-overload]

    def _count(self, *_args) -> None:
        self.statements += 1

    def close(self) -> None:
        self.engine.dispose()

    def _unit(self, share: float = 0.3) -> str | None:
        """A 责任单位 user's unit for part of the loads, else None (on-duty / leader / admin)."""
        return self.rnd.choice(self.units) if self.units and self.rnd.random() < share else None

    # ------------------------------------------------------------------ pages
    def onduty(self, t: Timer) -> None:
        from ledger.alerts.duty import on_duty_at
        from ledger.alerts.escalation import alert_to_dict, list_alerts
        from ledger.posts.sources import list_sources
        from ledger.reports.dashboard import flagged_posts, open_cases_with_clocks

        at, unit = self.now, self._unit()
        with session_scope(self.engine) as s:
            t("on_duty_at", lambda: on_duty_at(s, at=at).as_dict())
        with session_scope(self.engine) as s:  # the source-health line
            t("list_sources", lambda: [(x.name, x.status, bool(x.last_warning))
                                       for x in list_sources(s, enabled_only=True)])
        with session_scope(self.engine) as s:
            t("open_cases_with_clocks", lambda: [(c.number, [k.due_at for k in ks])
                                                 for c, ks in open_cases_with_clocks(s, unit=unit)])
        with session_scope(self.engine) as s:
            t("flagged_posts", lambda: [(p.title, p.categories) for p in flagged_posts(
                s, min_sensitivity=self.settings.flag_sensitivity, since=at - timedelta(days=3), limit=50)])
        with session_scope(self.engine) as s:
            t("list_alerts", lambda: [alert_to_dict(a) for a in list_alerts(s, state="open", limit=100)])

    def events(self, t: Timer) -> None:
        from ledger.posts.event_views import event_posts, top_events
        from ledger.reports.dashboard import event_case_facts, event_hourly

        at = self.now
        top = self.rnd.choice((20, 20, 20, 50))
        with session_scope(self.engine) as s:
            events = t("top_events", lambda: top_events(s, limit=top, now=at))
        if not events:
            return
        pick = self.rnd.choice(events[:10])["id"]
        with session_scope(self.engine) as s:
            t("event_hourly", lambda: event_hourly(s, event_id=pick, since=at - timedelta(days=7)))
            t("event_posts", lambda: [p.text[:200] for p in event_posts(s, event_id=pick, limit=100)])
            t("event_case_facts", lambda: event_case_facts(s, event_id=pick))

    def cases_list(self, t: Timer) -> None:
        from dashboard.data import SHANGHAI
        from ledger.models.cases import Case
        from ledger.reports.dashboard import distinct_values, filter_cases

        r, at = self.rnd, self.now
        with session_scope(self.engine) as s:
            t("distinct_values", lambda: (distinct_values(s, Case.responsible_unit), distinct_values(s, Case.category)))
        today = at.astimezone(SHANGHAI).date()
        days = r.choice((90, 90, 30, 7))
        start = datetime.combine(today - timedelta(days=days), dtime(0), tzinfo=SHANGHAI)
        end = datetime.combine(today, dtime(0), tzinfo=SHANGHAI) + timedelta(days=1)
        statuses = list(self.env.policy.statuses)
        f = {"status": r.choice(([], [], ["处置"], ["发现", "研判", "交办", "处置"], ["办结"])),
             "grade": r.choice(([], [], ["重大", "特别重大"], ["一般"])),
             "responsible_unit": r.choice(self.units) if self.units and r.random() < 0.3 else None,
             "category": r.choice(self.categories) if self.categories and r.random() < 0.2 else None,
             "start": start, "end": end}
        f["status"] = [x for x in f["status"] if x in statuses]
        unit = self._unit(0.2)
        with session_scope(self.engine) as s:
            t("filter_cases", lambda: [(c.id, c.number, c.title) for c in filter_cases(s, unit=unit, **f)])

    def case_page(self, t: Timer) -> None:
        from ledger.cases.views import case_detail
        from ledger.cases.workflow import get_case
        from ledger.reports.dashboard import can_see_case

        cid = self.rnd.choice(self.case_ids)
        with session_scope(self.engine) as s:
            t("get_case", lambda: can_see_case(get_case(s, cid), None))
        with session_scope(self.engine) as s:
            t("case_detail", lambda: case_detail(s, case_id=cid, policy=self.env.policy))

    def messages(self, t: Timer) -> None:
        from ledger.messages.service import list_messages, message_row
        from ledger.reports.dashboard import message_counts

        at, unit = self.now, self._unit()
        overdue_only = self.rnd.random() < 0.3
        with session_scope(self.engine) as s:
            t("message_counts", lambda: message_counts(s, unit=unit, now=at))
            t("list_messages", lambda: [message_row(m, at) for m in list_messages(
                s, now=at, overdue_first=True, overdue_only=overdue_only, unit=unit, limit=200)])

    def stats(self, t: Timer) -> None:
        from ledger.reports.dashboard import (
            flag_counts,
            on_time_rates,
            posts_per_day_sql,
            sentiment_counts,
        )

        since = self.now - timedelta(days=30)
        unit = self._unit(0.2)
        with session_scope(self.engine) as s:
            t("on_time_rates", lambda: on_time_rates(s, since=since, unit=unit))
            if unit is None:
                t("posts_per_day_sql", lambda: posts_per_day_sql(s, since=since))
                t("sentiment_counts", lambda: sentiment_counts(s, since=since))
                t("flag_counts", lambda: (flag_counts(s, since=since, field="categories"),
                                          flag_counts(s, since=since, field="topics")))

    def export(self, t: Timer) -> None:
        from dashboard.data import SHANGHAI
        from ledger.reports.weekly import collect_week, parse_week
        from ledger.reports.weekly_queries import _statements

        back = self.rnd.randint(1, 11)
        y, w, _ = (self.now.astimezone(SHANGHAI).date() - timedelta(weeks=back)).isocalendar()
        week = parse_week(f"{y}-W{w:02d}")
        with session_scope(self.engine) as s:
            t("collect_week", lambda: collect_week(s, week, now=self.now))
        # its selects run through the driver (two connections), unseen by SQLAlchemy's events
        self.statements += len(_statements())

    def posts(self, t: Timer) -> None:
        from ledger.posts.queries import post_view, recent_posts, source_names

        limit = self.rnd.choice((100, 100, 200))
        only_negative = self.rnd.random() < 0.3
        with session_scope(self.engine) as s:
            t("source_names", lambda: source_names(s))
            t("recent_posts", lambda: [post_view(p) for p in recent_posts(
                s, limit=limit * (3 if only_negative else 1))])

    def search_posts(self, t: Timer) -> None:
        """最新帖文 with a search box entry: the newest posts containing the words (100 or 200 shown,
        sometimes only negative ones)."""
        from ledger.posts.queries import post_view, source_names
        from ledger.posts.search import SearchFilters, search_posts

        query = self.rnd.choice(SEARCH_QUERIES)
        limit = self.rnd.choice((100, 100, 200))
        negative = "negative" if self.rnd.random() < 0.3 else None
        with session_scope(self.engine) as s:
            t("source_names", lambda: source_names(s))
            t("search_posts", lambda: [post_view(p) for p in search_posts(
                s, query=query, limit=limit, filters=SearchFilters(sentiment=negative))])

    def search_messages(self, t: Timer) -> None:
        """留言办理 with a search box entry: the matching messages' ids (at most 5,000), then the list."""
        from ledger.messages.service import list_messages, message_row
        from ledger.posts.search import SearchFilters, search_message_ids

        at, unit = self.now, self._unit()
        query = self.rnd.choice(SEARCH_QUERIES)
        with session_scope(self.engine) as s:
            ids = t("search_message_ids", lambda: search_message_ids(
                s, query=query, limit=5000, filters=SearchFilters(unit=unit)))
            t("list_messages", lambda: [message_row(m, at) for m in list_messages(
                s, now=at, overdue_first=True, unit=unit, limit=200, ids=ids)])

    def sources(self, t: Timer) -> None:
        from ledger.posts.sources import list_sources

        with session_scope(self.engine) as s:
            t("list_sources", lambda: [(x.name, x.status, x.last_error) for x in list_sources(s)])


# what people type into the search boxes: a place, an issue, two characters, a place and an issue,
# a phrase of the post bodies, and words found nowhere in the generated ledger
SEARCH_QUERIES = ["望湖花园小区", "物业乱收费", "漏水", "噪音", "金桥工业园 拖欠", "河西区 垃圾清运", "多次向社区反映",
                  "双黄连", "地铁站", "医院 挂号", "燃气", "长乐"]

PAGES: list[tuple[str, str]] = [
    ("值班台", "onduty"), ("事件", "events"), ("台账（列表与筛选）", "cases_list"), ("台账（案件页）", "case_page"),
    ("留言办理", "messages"), ("统计（30天）", "stats"), ("导出 · 生成（整周汇总）", "export"), ("最新帖文", "posts"),
    ("最新帖文 · 检索", "search_posts"), ("留言办理 · 检索", "search_messages"), ("设置（来源）", "sources"),
]


def run_pages(url: str, *, now: datetime, runs: int = 40, only: set[str] | None = None,
              log: Callable[[str], None] = print) -> list[PageResult]:
    """Load every page ``runs`` times (after one unmeasured warm-up load) and summarise."""
    pages = Pages(url, now=now)
    results = []
    try:
        for label, name in PAGES:
            if only and name not in only:
                continue
            fn = getattr(pages, name)
            fn(Timer())  # warm-up (imports, first plans)
            timer, totals = Timer(), []
            pages.statements = 0
            for _ in range(runs):
                t0 = time.perf_counter()
                fn(timer)
                totals.append((time.perf_counter() - t0) * 1000)
            res = PageResult(label, runs, *_summary(totals), {q: _summary(v) for q, v in timer.parts.items()},
                             round(pages.statements / runs))
            log(f"  {label}: p50 {res.p50} ms, p95 {res.p95} ms, max {res.max} ms "
                + ("" if res.ok else "  (over budget) ") + "; ".join(f"{q} p95 {v[1]}" for q, v in res.queries.items()))
            results.append(res)
    finally:
        pages.close()
    return results


def data_now(url: str) -> datetime:
    """The ``now`` of a generated data set: just after its newest post."""
    from ledger.models.core import Post

    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            newest = s.exec(select(func.max(Post.fetched_at))).scalar_one()  # type: ignore[call-overload]
    finally:
        engine.dispose()
    return (newest + timedelta(minutes=10)).replace(second=0, microsecond=0)
