"""``yuqing source test ID`` fetches for real, prints what would be extracted, and stores nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from ledger.db import make_engine, session_scope
from ledger.models import Evidence, Post
from tests.cli import run_cli
from tests.sitesrv import SiteServer


@pytest.fixture(scope="module")
def site():
    with SiteServer() as srv:
        yield srv


def _count(db_url: str, model) -> int:
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            return s.execute(select(func.count()).select_from(model)).scalar_one()
    finally:
        engine.dispose()


def test_source_test_shows_extraction_without_storing(site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 't.db'}"
    conf = tmp_path / "gbk.toml"
    conf.write_text(
        f'list_urls = ["{site.url("/gbk/list1.html")}"]\n'
        'item_links = "ul.news-list a"\nnext_page = "a.next"\ntitle = "h1.title"\nbody = "div.content"\n'
        'published_at = ".info .time"\nauthor = ".info .author"\n'
        "[politeness]\nautothrottle = false\ndelay = 0\n",
        encoding="utf-8",
    )
    added = run_cli("source", "add", "--kind", "html", "--name", "问政", "--config", str(conf), db_url=db_url)
    assert added.code == 0, added.err
    sid = added.out.strip()

    shown = run_cli("source", "test", sid, "--limit", "2", "--json", db_url=db_url)
    assert shown.code == 0, shown.err
    data = json.loads(shown.out)
    assert len(data["items"]) == 2
    titles = {p["title"]: p for p in site.site["post"]}
    for row in data["items"]:
        post = titles[row["title"]]  # a real title from the GBK page, decoded correctly
        assert row["published_at"] == post["expected"]
        assert row["author"] == post["author"]
        assert row["body"] == "\n".join(post["body"])[:100]
        assert row["url"].startswith(site.url("/gbk/detail/"))
    # the limit stopped the crawl early: only 2 detail pages were requested, no second list page
    assert len(site.fetched("/gbk/detail/")) == 2
    assert not site.fetched("/gbk/list2.html")
    assert _count(db_url, Post) == 0 and _count(db_url, Evidence) == 0

    # a feed source, in the human-readable form
    feed = run_cli("source", "add", "--kind", "rss", "--name", "RSS", "--url", site.url("/feeds/rss.xml"),
                   db_url=db_url)
    assert feed.code == 0, feed.err
    text = run_cli("source", "test", feed.out.strip(), db_url=db_url)
    assert text.code == 0, text.err
    assert "标题: 县城新增两条公交线路" in text.out and "时间: 2020-01-06T12:09:00+08:00" in text.out
    assert "alert" not in text.out
    assert _count(db_url, Post) == 0


def test_source_test_reports_failures_cleanly(site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 't.db'}"
    conf = tmp_path / "bad.toml"
    conf.write_text(f'list_urls = ["{site.url("/mixed/list.html")}"]\nitem_links = "ul.items a"\n'
                    'body = "div.no-such-body"\n[politeness]\nautothrottle = false\ndelay = 0\nretries = 0\n'
                    "max_bytes = 1000000\n", encoding="utf-8")
    added = run_cli("source", "add", "--kind", "html", "--name", "坏选择器", "--config", str(conf), db_url=db_url)
    assert added.code == 0, added.err
    res = run_cli("source", "test", added.out.strip(), db_url=db_url)
    assert res.code != 0
    assert "试抓失败" in res.err and "正文选择器没有匹配" in res.err and "Traceback" not in res.err

    invalid = tmp_path / "invalid.toml"
    invalid.write_text('list_urls = ["http://x"]\nitem_links = "a["\nbody = "div"\n', encoding="utf-8")
    refused = run_cli("source", "add", "--kind", "html", "--name", "无效", "--config", str(invalid), db_url=db_url)
    assert refused.code != 0 and "item_links" in refused.err
