"""A feed on a real local HTTP server → crawled → assessed → stored; errors recorded on the source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from analysis.assess import Assessor
from crawlers.runner import CrawlOptions, crawl_source
from ledger.db import session_scope
from ledger.models import AuditLog, Evidence, Post, Source
from ledger.posts.sources import add_source
from tests.feedsrv import FeedServer

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>测试源</title><link>http://example.invalid/</link>
<item><title>小区停水三天无人管</title><link>http://example.invalid/1</link><guid>a-1</guid>
<pubDate>Mon, 02 Mar 2026 01:30:00 GMT</pubDate>
<description>&lt;p&gt;联系电话13812345678，&lt;b&gt;太气人了&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</description></item>
<item><title>感謝政府為民辦實事</title><link>http://example.invalid/2</link><guid>a-2</guid>
<pubDate>Mon, 02 Mar 2026 01:40:00 GMT</pubDate><description>點讚，服務很好</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom 源</title><id>urn:x</id><updated>2026-03-02T01:00:00Z</updated>
<entry><id>urn:e1</id><title>道路积水严重</title><updated>2026-03-02T01:00:00Z</updated>
<link href="http://example.invalid/e1"/><content type="html">&lt;div&gt;暴雨后道路积水严重，身份证110101199003071234&lt;/div&gt;</content></entry>
</feed>"""


@pytest.fixture
def assessor():
    return Assessor()


def _source(engine, url: str, kind: str = "rss") -> int:
    with session_scope(engine) as s:
        return add_source(s, name=f"src-{url}", kind=kind, url=url, actor="test",
                          now=datetime(2026, 3, 2, tzinfo=UTC)).id


def _count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()[0]


def test_feed_crawled_twice_stores_each_item_once(any_engine, assessor, fixed_now):
    with FeedServer() as srv:
        srv.set("/rss", RSS.encode())
        sid = _source(any_engine, srv.base + "/rss")
        r1 = crawl_source(any_engine, sid, options=CrawlOptions(), assessor=assessor, now=fixed_now)
        assert r1.ok and r1.inserted == 2
        r2 = crawl_source(any_engine, sid, options=CrawlOptions(), assessor=assessor,
                          now=fixed_now + timedelta(minutes=10))
        assert r2.ok and r2.inserted == 0
        # the second fetch was conditional and answered 304
        assert srv.requests[-1][1].get("If-None-Match")
        assert r2.not_modified
        # even an unconditional re-crawl stores nothing twice
        with session_scope(any_engine) as s:
            src = s.get(Source, sid)
            src.etag = None
        r3 = crawl_source(any_engine, sid, options=CrawlOptions(), assessor=assessor,
                          now=fixed_now + timedelta(minutes=20))
        assert r3.ok and r3.inserted == 0 and r3.unchanged == 2
    assert _count(any_engine, Post) == 2
    with Session(any_engine) as s:
        posts = {p.external_id: p for p in s.exec(select(Post)).scalars()}
        src = s.get(Source, sid)
    first = posts["a-1"]
    assert "<" not in first.text and "alert(1)" not in first.text
    assert "太气人了" in first.text
    assert first.published_at == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    assert first.sentiment in {"positive", "neutral", "negative"}
    assert 0.0 <= first.sentiment_score <= 1.0
    assert "mobile" in first.pii
    assert posts["a-2"].title == "感谢政府为民办实事"  # traditional → simplified
    assert src.status == "ok" and src.last_items == 2 and src.consecutive_failures == 0
    assert _count(any_engine, Evidence) == 2


def test_atom_feed(sqlite_engine, assessor, fixed_now):
    with FeedServer() as srv:
        srv.set("/atom", ATOM.encode(), content_type="application/atom+xml")
        sid = _source(sqlite_engine, srv.base + "/atom", kind="atom")
        report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=fixed_now)
    assert report.ok and report.inserted == 1
    with Session(sqlite_engine) as s:
        post = s.exec(select(Post)).scalars().one()
    assert post.text.startswith("暴雨后道路积水严重") and "<div>" not in post.text


@pytest.mark.parametrize(
    ("status", "body", "expect"),
    [
        (500, b"boom", "HTTP 500"),
        (200, b"<html><body>not a feed at all</body></html>", "订阅源"),
        (200, b"<?xml version='1.0'?><rss><channel><item><title>broken", "订阅源"),
        (200, b"", "空响应"),
    ],
)
def test_failed_fetch_records_error_and_changes_nothing_else(sqlite_engine, assessor, fixed_now,
                                                            status, body, expect):
    with FeedServer() as srv:
        srv.set("/good", RSS.encode())
        sid_good = _source(sqlite_engine, srv.base + "/good")
        assert crawl_source(sqlite_engine, sid_good, options=CrawlOptions(), assessor=assessor, now=fixed_now).ok
        srv.set("/bad", body, status=status, content_type="text/html")
        sid = _source(sqlite_engine, srv.base + "/bad")
        before_posts = _count(sqlite_engine, Post)
        report = crawl_source(sqlite_engine, sid, options=CrawlOptions(down_after=2), assessor=assessor,
                              now=fixed_now)
        assert not report.ok and expect in report.error
        assert _count(sqlite_engine, Post) == before_posts
        with Session(sqlite_engine) as s:
            src = s.get(Source, sid)
            assert src.status == "error" and src.consecutive_failures == 1 and expect in src.last_error
        # a second failure marks the source down, and that is audited
        report = crawl_source(sqlite_engine, sid, options=CrawlOptions(down_after=2), assessor=assessor,
                              now=fixed_now + timedelta(minutes=1))
        assert report.marked_down
        with Session(sqlite_engine) as s:
            assert s.get(Source, sid).status == "down"
            actions = [a.action for a in s.exec(select(AuditLog).where(AuditLog.entity_id == str(sid))).scalars()]
        assert "source.down" in actions


def test_unreachable_source_is_an_error_not_a_crash(sqlite_engine, assessor, fixed_now):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    sid = _source(sqlite_engine, f"http://127.0.0.1:{port}/feed")
    report = crawl_source(sqlite_engine, sid, options=CrawlOptions(timeout=2), assessor=assessor, now=fixed_now)
    assert not report.ok and "无法获取" in report.error


def test_oversized_feed_is_refused(sqlite_engine, assessor, fixed_now):
    with FeedServer() as srv:
        srv.set("/big", RSS.encode() + b" " * 5000)
        sid = _source(sqlite_engine, srv.base + "/big")
        report = crawl_source(sqlite_engine, sid, options=CrawlOptions(max_bytes=1000), assessor=assessor,
                              now=fixed_now)
    assert not report.ok and "过大" in report.error


def test_malformed_but_complete_feed_is_stored_with_the_problem_on_the_source(sqlite_engine, assessor, fixed_now):
    # an entity HTML knows but XML does not, in an otherwise whole feed: read leniently, not refused
    sloppy = RSS.replace("小区停水三天无人管", "小区停水&nbsp;三天无人管")
    with FeedServer() as srv:
        srv.set("/sloppy", sloppy.encode())
        sid = _source(sqlite_engine, srv.base + "/sloppy")
        report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=fixed_now)
        assert report.ok and report.inserted == 2, report.error
        with Session(sqlite_engine) as s:
            src = s.get(Source, sid)
            assert src.status == "ok" and src.last_error is None
            assert src.last_warning == report.warning
            assert "订阅源格式不规范" in src.last_warning and "读取 2 条" in src.last_warning
            assert "undefined entity" in src.last_warning
        # `yuqing source test` (preview, nothing stored) lists the same problem beside the entries
        from config.runtime import preview_source
        from config.settings import get_settings

        _src, rows, total, notes = preview_source(sqlite_engine, get_settings(), sid, fixed_now)
        assert total == 2 and notes == [(srv.base + "/sloppy", src.last_warning)]
        # unchanged (answered 304): the problem stays
        same = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor,
                            now=fixed_now + timedelta(minutes=5))
        assert same.ok and same.not_modified and same.warning == report.warning
        with Session(sqlite_engine) as s:
            assert s.get(Source, sid).last_warning == report.warning
        # fixed at the source: the next crawl stores nothing new and clears the problem
        srv.set("/sloppy", RSS.encode())
        again = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor,
                             now=fixed_now + timedelta(minutes=10))
        assert again.ok and again.warning is None
        with Session(sqlite_engine) as s:
            assert s.get(Source, sid).last_warning is None
