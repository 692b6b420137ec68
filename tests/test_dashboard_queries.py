"""The dashboard benchmark's data generator at a tiny size on PostgreSQL: the data it writes is
consistent, and every page's query function returns what the generated data says it should."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from bench.dashboard.generate import SHANGHAI, Gen
from bench.dashboard.measure import PAGES, run_pages
from ledger.db import make_engine, session_scope
from ledger.migrate import upgrade
from ledger.models.alerts import Alert
from ledger.models.cases import Case
from ledger.models.clocks import Clock
from ledger.models.core import Message, Post
from ledger.models.events import Event
from ledger.reports import dashboard as dq

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def bench_db(pg_url):
    upgrade(pg_url)
    gen = Gen(pg_url, posts=2000, cases=50, now=NOW, log=lambda _m: None).run()
    engine = make_engine(pg_url)
    yield pg_url, engine, gen["counts"]
    engine.dispose()


def _scalar(session, sql: str) -> int:
    return session.execute(text(sql)).scalar_one()


def test_generated_data_is_consistent(bench_db):
    _, engine, counts = bench_db
    with session_scope(engine) as s:
        assert _scalar(s, "SELECT count(*) FROM post") == counts["post"] == 2000
        assert _scalar(s, "SELECT count(*) FROM ledger_case") == counts["ledger_case"] == 50
        assert _scalar(s, "SELECT count(*) FROM message") == counts["message"]
        assert _scalar(s, "SELECT count(*) FROM clock") == counts["clock_case_and_commitment"] + counts["clock_message"]
        # event totals match their posts; merged events hold none
        bad = _scalar(s, """SELECT count(*) FROM event e WHERE e.posts <> (SELECT count(*) FROM post p
                            WHERE p.event_id = e.id)""")
        assert bad == 0
        assert _scalar(s, "SELECT count(*) FROM post WHERE event_id IS NOT NULL") == counts["post_with_event"]
        assert _scalar(s, "SELECT count(*) FROM event WHERE merged_into_id IS NOT NULL AND posts > 0") == 0
        # duplicates point back to an earlier post with the same content hash
        assert _scalar(s, "SELECT count(*) FROM post WHERE dup_of_id IS NOT NULL") == counts["post_duplicates"] > 0
        assert _scalar(s, """SELECT count(*) FROM post d JOIN post o ON o.id = d.dup_of_id
                             WHERE o.id >= d.id OR o.content_hash <> d.content_hash""") == 0
        # every post in the 90-day window before now, ids in fetch order
        lo, hi = s.execute(text("SELECT min(fetched_at), max(fetched_at) FROM post")).one()
        assert NOW - timedelta(days=90) <= lo and hi <= NOW
        assert _scalar(s, """SELECT count(*) FROM post a JOIN post b ON b.id = a.id + 1
                             WHERE b.fetched_at < a.fetched_at""") == 0
        # case numbers follow the per-year counter; every case has the clocks of its grade
        assert _scalar(s, "SELECT sum(last) FROM case_counter") == 50  # the window spans a new year
        assert _scalar(s, "SELECT count(DISTINCT number) FROM ledger_case") == 50
        assert _scalar(s, """SELECT count(*) FROM ledger_case c WHERE NOT EXISTS (SELECT 1 FROM clock k
                             WHERE k.subject = 'case' AND k.subject_id = c.id)""") == 0
        assert _scalar(s, """SELECT count(*) FROM ledger_case c WHERE c.grade IN ('一般', '较大') AND EXISTS
                             (SELECT 1 FROM clock k WHERE k.subject = 'case' AND k.subject_id = c.id
                              AND k.rule_id <> 'other_response')""") == 0
        # met clocks carry their time; open cases' clocks are not closed unless met
        assert _scalar(s, "SELECT count(*) FROM clock WHERE status = 'met' AND (met_at IS NULL OR NOT closed)") == 0
        assert _scalar(s, "SELECT count(*) FROM clock WHERE status IN ('running', 'warning') AND closed") == 0
        assert _scalar(s, "SELECT count(*) FROM clock WHERE subject = 'message'") == counts["message"]
        # messages: answered ones know whether in time; sequences moved past the given ids
        assert _scalar(s, "SELECT count(*) FROM message WHERE replied_at IS NOT NULL AND on_time IS NULL") == 0
        assert _scalar(s, "SELECT nextval(pg_get_serial_sequence('post', 'id'))") == 2001


def test_page_queries_return_what_was_generated(bench_db):
    _, engine, counts = bench_db
    since = NOW - timedelta(days=30)
    with session_scope(engine) as s:
        n_since = s.exec(select(func.count()).select_from(Post).where(Post.fetched_at >= since)).one()[0]
        per_day = dq.posts_per_day_sql(s, since=since)
        assert sum(n for _, n in per_day) == n_since > 0
        expect_days: dict[str, int] = {}
        for ts in s.exec(select(Post.fetched_at).where(Post.fetched_at >= since)).scalars():
            day = ts.astimezone(SHANGHAI).date().isoformat()
            expect_days[day] = expect_days.get(day, 0) + 1
        assert per_day == sorted(expect_days.items())
        assert dq.posts_per_day_sql(s, since=NOW + timedelta(days=1)) == []
        assert dq.flag_counts(s, since=NOW + timedelta(days=1), field="categories") == {}
        assert sum(dq.sentiment_counts(s, since=since).values()) == n_since
        # sentiment over time: per Shanghai day and sentiment, equal to a plain recount
        expect_sent: dict[tuple[str, str], int] = {}
        for ts, sent in s.exec(select(Post.fetched_at, Post.sentiment).where(Post.fetched_at >= since)).all():
            key = (ts.astimezone(SHANGHAI).date().isoformat(), sent or "未知")
            expect_sent[key] = expect_sent.get(key, 0) + 1
        got_sent = dq.sentiment_per_day(s, since=since)
        assert {(d, k): n for d, k, n in got_sent} == expect_sent and len(got_sent) == len(expect_sent)
        assert [d for d, _, _ in got_sent] == sorted(d for d, _, _ in got_sent)
        assert dq.sentiment_per_day(s, since=NOW + timedelta(days=1)) == []
        # flag counts equal a plain recount of the same newest flagged posts
        for field in ("categories", "topics"):
            col = Post.categories if field == "categories" else Post.topics
            expect: dict[str, int] = {}
            rows = s.exec(select(col).where(Post.fetched_at >= since, Post.sensitivity > 0)
                          .order_by(Post.fetched_at.desc()).limit(5000)).scalars()
            for flags in rows:
                for f in flags:
                    expect[f["name"]] = expect.get(f["name"], 0) + 1
            got = dq.flag_counts(s, since=since, field=field)
            assert got == expect and list(got.values()) == sorted(got.values(), reverse=True)
        flagged = dq.flagged_posts(s, min_sensitivity=0.5, since=NOW - timedelta(days=3), limit=50)
        n_flagged = s.exec(select(func.count()).select_from(Post).where(
            Post.sensitivity >= 0.5, Post.fetched_at >= NOW - timedelta(days=3))).one()[0]
        assert len(flagged) == min(50, n_flagged)
        assert all(p.sensitivity >= 0.5 for p in flagged)
        assert [p.fetched_at for p in flagged] == sorted((p.fetched_at for p in flagged), reverse=True)
        # on duty: open cases with their open clocks; the ledger filters
        n_open = s.exec(select(func.count()).select_from(Case).where(Case.status.notin_(dq.CLOSED_STATUSES))).one()[0]
        opened = dq.open_cases_with_clocks(s, unit=None)
        assert len(opened) == n_open > 0
        assert all(not k.closed and k.subject_id == c.id for c, ks in opened for k in ks)
        assert len(dq.filter_cases(s, unit=None)) == 50
        assert len(dq.filter_cases(s, unit=None, status=["办结", "归档"])) == 50 - n_open
        # messages and on-time rates
        mc = dq.message_counts(s, unit=None, now=NOW)
        assert mc["total"] == counts["message"]
        assert mc["unanswered"] == s.exec(select(func.count()).select_from(Message)
                                          .where(Message.replied_at.is_(None))).one()[0]
        rates = dq.on_time_rates(s, since=NOW - timedelta(days=90))
        finished = s.exec(select(func.count()).select_from(Clock).where(
            Clock.subject == "case", Clock.status.in_(("met", "missed", "breached")))).one()[0]
        assert sum(r["总数"] for r in rates) == finished > 0
        # alerts and the biggest event's posts
        from ledger.alerts.escalation import list_alerts
        from ledger.posts.event_views import event_posts

        assert len(list_alerts(s, state="open", limit=100)) == min(100, counts["alert_open"])
        biggest = s.exec(select(Event).order_by(Event.posts.desc()).limit(1)).scalars().one()
        assert len(event_posts(s, event_id=biggest.id, limit=100)) == min(100, biggest.posts)
        facts = dq.event_case_facts(s, event_id=biggest.id)
        assert facts["post_ids"] and facts["discovered_at"] == biggest.first_seen
        assert s.exec(select(func.count()).select_from(Alert)).one()[0] == counts["alert"]


def test_every_page_loads_through_the_benchmark(bench_db):
    url, _, _ = bench_db
    results = run_pages(url, now=NOW, runs=1, log=lambda _m: None)
    assert [r.page for r in results] == [label for label, _ in PAGES]
    assert all(r.runs >= 1 and r.max >= r.p50 > 0 for r in results)


def test_sentiment_over_time_on_sqlite(sqlite_url):
    from analysis.assess import Assessor
    from ledger.posts.intake import RawPost, store_posts
    from ledger.posts.sources import add_source

    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    texts = ["小区停水三天没人管，太气人了", "新建的公园很漂亮，感谢政府", "今天发布了天气预报", "垃圾没人清运，臭气熏天"]
    with session_scope(engine) as s:
        sid = add_source(s, name="t", kind="file", url=None, actor="t", now=NOW).id
    for hour in range(0, 24 * 6, 7):  # fetched across six Shanghai days, some near midnight
        at = NOW - timedelta(hours=hour)
        with session_scope(engine) as s:
            store_posts(s, source_id=sid, assessor=Assessor(), now=at,
                        items=[RawPost(external_id=f"{hour}-{k}", text=f"{t} {hour}") for k, t in enumerate(texts)])
    since = NOW - timedelta(days=30)
    with session_scope(engine) as s:
        expect: dict[tuple[str, str], int] = {}
        for ts, sent in s.exec(select(Post.fetched_at, Post.sentiment).where(Post.fetched_at >= since)).all():
            key = (ts.astimezone(SHANGHAI).date().isoformat(), sent or "未知")
            expect[key] = expect.get(key, 0) + 1
        got = dq.sentiment_per_day(s, since=since)
    assert len({d for d, _ in expect}) >= 6 and len({k for _, k in expect}) >= 2
    assert {(d, k): n for d, k, n in got} == expect and len(got) == len(expect)
    engine.dispose()
