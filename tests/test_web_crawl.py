"""Real Scrapy crawls (in child processes) of the local test site served on 127.0.0.1.

Covers the GBK list→detail site with pagination through the real CLI (acceptance), the JSON API,
RSS and Atom through the feed path, robots.txt, a redirect loop, an oversized page, 404 / 500,
an empty page, hostile HTML, failing list pages, incremental crawling and re-checks of changed
items, and the time limit. Crawls are shared between assertions: each costs a child process.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
import zlib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import func, select

from analysis.assess import Assessor
from crawlers.runner import CrawlError, CrawlOptions, crawl_source
from crawlers.settings import build_settings
from crawlers.spiders import decode_body, safe_url
from crawlers.web import fetch_web_source, run_spider_job, validate_config
from ledger.db import make_engine, session_scope
from ledger.models import Evidence, Post, PostVersion, Source
from ledger.posts.sources import add_source, get_source
from tests.cli import run_cli
from tests.sitesrv import SITES, SiteServer

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
FAST = {"autothrottle": False, "delay": 0, "retries": 1, "backoff": 0.1, "max_bytes": 1_000_000}
GBK_SELECTORS = {
    "item_links": "ul.news-list a",
    "next_page": "a.next",
    "max_pages": 10,
    "title": "h1.title",
    "body": "div.content",
    "published_at": ".info .time",
    "author": "xpath://span[@class='author']",
}


@pytest.fixture(scope="module")
def site():
    with SiteServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def assessor():
    return Assessor()


def _add(engine, name: str, kind: str, config: dict, url: str | None = None) -> int:
    with session_scope(engine) as s:
        src = add_source(s, name=name, kind=kind, url=url, config=config, interval_seconds=None, cron=None,
                         enabled=True, actor="test", now=NOW)
        return src.id


def _posts(engine, source_id: int) -> list[Post]:
    with session_scope(engine) as s:
        rows = list(s.exec(select(Post).where(Post.source_id == source_id).order_by(Post.external_id)).scalars())
        for r in rows:
            s.expunge(r)
        return rows


# -- acceptance: the real CLI crawls the paginated GBK site ---------------------------------------

def test_cli_crawls_paginated_gbk_site_once_with_correct_chinese(site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    conf = tmp_path / "county.toml"
    lines = [f'list_urls = ["{site.url("/gbk/list1.html")}"]']
    for key, value in GBK_SELECTORS.items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    lines.append("[politeness]\nautothrottle = false\ndelay = 0")
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")

    added = run_cli("source", "add", "--kind", "html", "--name", "某某县网上问政", "--config", str(conf), db_url=db_url)
    assert added.code == 0, added.err
    source_id = int(added.out.strip())

    first = run_cli("crawl", "--source", str(source_id), db_url=db_url)
    assert first.code == 0, first.err
    total = len(site.site["post"])  # 11 detail pages over 3 list pages, one of them GB18030-only
    assert f"新增 {total}," in first.out

    expected = {f"{site.base}/gbk/detail/{p['id']}.html": p for p in site.site["post"]}
    engine = make_engine(db_url)
    posts = _posts(engine, source_id)
    assert sorted(p.external_id for p in posts) == sorted(expected)  # every detail page once
    for post in posts:
        want = expected[post.external_id]
        assert post.title == want["title"]
        assert post.text == "\n".join(want["body"])
        assert post.published_at == datetime.fromisoformat(want["expected"])
        assert post.author == want["author"]  # "来源：" label stripped
    # evidence: the detail page's raw GBK bytes, compressed, with URL and SHA-256
    with session_scope(engine) as s:
        evidence = {e.url: e for e in s.exec(select(Evidence).where(Evidence.source_id == source_id)).scalars()}
        assert len(evidence) == total
        url = f"{site.base}/gbk/detail/1002.html"
        served = httpx.get(url).content
        assert zlib.decompress(evidence[url].body) == served
        assert evidence[url].sha256 == hashlib.sha256(served).hexdigest()
        assert served.decode("gbk").count("咨询新生儿医保参保办理流程") == 2

    detail_requests = len(site.fetched("/gbk/detail/"))
    second = run_cli("crawl", "--source", str(source_id), db_url=db_url)
    assert second.code == 0, second.err
    assert "新增 0," in second.out
    assert len(_posts(engine, source_id)) == total
    # incremental: only the direct fetch above hit a detail page again, the crawl did not
    assert len(site.fetched("/gbk/detail/")) == detail_requests
    engine.dispose()



def test_failing_list_pages_fail_the_crawl_with_the_reason(site, sqlite_engine, assessor):
    cfg = {"list_urls": [site.url("/broken/list.html"), site.url("/private/list.html")], "item_links": "a",
           "body": "div", "politeness": {**FAST, "retries": 0}}
    sid = _add(sqlite_engine, "坏的来源", "html", cfg)
    report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
    assert not report.ok
    assert "HTTP 500" in report.error and "robots.txt" in report.error
    with session_scope(sqlite_engine) as s:
        src = get_source(s, sid)
        assert src.last_error == report.error and src.consecutive_failures == 1 and src.status != "ok"
    assert not site.fetched("/private/")  # robots.txt obeyed

    # a list page without any matching link is a failure too (a broken selector must show)
    cfg = {"list_urls": [site.url("/gbk/list1.html")], "item_links": "div.no-such-list a", "body": "div",
           "politeness": FAST}
    sid = _add(sqlite_engine, "选择器错误", "html", cfg)
    report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
    assert not report.ok and "item_links" in report.error


# -- trouble on detail pages: each is skipped with a reason, never a crash -----------------------

@pytest.fixture(scope="module")
def mixed(site):
    cfg = {"list_urls": [site.url("/mixed/list.html")], "item_links": "ul.items a", "title": "h1.title",
           "body": "div.content", "published_at": ".time", "author": ".author", "politeness": FAST}
    src = SimpleNamespace(id=1, kind="html", url=None, config=cfg)
    return fetch_web_source(src, CrawlOptions(), NOW)


def test_bad_detail_pages_are_skipped_with_reasons(mixed, site):
    reasons = {url.removeprefix(site.base): reason for url, reason in mixed.notes}
    assert reasons["/mixed/missing.html"] == "HTTP 404"
    assert reasons["/mixed/error500.html"] == "HTTP 500"
    assert "redirect loop" in (reasons.get("/mixed/loop") or reasons.get("/mixed/loop2"))
    assert "DOWNLOAD_MAXSIZE" in reasons["/mixed/big.html"]
    assert "empty page" in reasons["/mixed/empty.html"]
    assert "robots.txt" in reasons["/private/secret.html"]
    assert sorted(i.url.removeprefix(site.base) for i in mixed.items) == ["/mixed/good.html", "/mixed/hostile.html"]
    # the 500 was retried once (with back-off) before giving up
    assert len(site.fetched("/mixed/error500.html")) == 2
    assert not site.fetched("/private/")
    assert mixed.counts["unsafe_links"] == 4  # javascript: x2, data:, mailto:


def test_a_crawl_that_skips_pages_succeeds_with_the_problems_kept_on_the_source(mixed, site, sqlite_engine, assessor):
    cfg = {"list_urls": [site.url("/mixed/list.html")], "item_links": "ul.items a", "title": "h1.title",
           "body": "div.content", "published_at": ".time", "author": ".author", "politeness": FAST}
    sid = _add(sqlite_engine, "部分页面出错的来源", "html", cfg)
    report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
    assert report.ok and report.inserted == 2, report.error
    with session_scope(sqlite_engine) as s:
        src = get_source(s, sid)
        assert (src.status, src.consecutive_failures, src.last_error) == ("ok", 0, None)
        warning = src.last_warning
    assert warning == report.warning
    # the same site gives the same problems as the crawl of the fixture: counted, the first few named
    assert warning.startswith(f"本次抓取发现 {len(mixed.notes)} 个问题"
                              f"（其中详情页请求失败 {mixed.counts['detail_failed']} 个）：")
    named = [f"{url}：{reason}" for url, reason in mixed.notes if f"{url}：{reason}" in warning]
    assert len(named) == 3 and warning.endswith(f"；等共 {len(mixed.notes)} 项")
    listed = run_cli("source", "list", db_url=str(sqlite_engine.url))
    assert listed.code == 0, listed.err
    assert f"上次抓取的问题: {warning}" in listed.out

    # the next crawl without problems (only the page already stored is linked) clears it
    with session_scope(sqlite_engine) as s:
        src = get_source(s, sid)
        src.config = {**cfg, "item_links": "ul.items li:first-child a"}
        s.add(src)
    again = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
    assert again.ok and again.fetched == 0 and again.warning is None, again.error
    with session_scope(sqlite_engine) as s:
        assert get_source(s, sid).last_warning is None


def test_hostile_html_ends_as_plain_text(mixed, site):
    hostile = next(i for i in mixed.items if i.url.endswith("/mixed/hostile.html"))
    assert hostile.title == "关于停水通知的投诉"
    assert "连续三天停水没有任何通知。" in hostile.text and "请自来水公司给个说法。" in hostile.text
    for bad in ("<", "alert", "script", "onerror", "onclick", "javascript", "document.cookie", "evil", "steal",
                "备用内容", "flash", "swf"):
        assert bad not in hostile.text and bad not in (hostile.title or "") and bad not in (hostile.author or "")
    assert hostile.author == "匿名"
    assert hostile.published_at == datetime(2026, 3, 1, 0, 1, tzinfo=UTC)  # 昨天 08:01 Shanghai


def test_scheme_guard_refuses_non_http_requests():
    from scrapy import Request
    from scrapy.exceptions import IgnoreRequest

    from crawlers.middlewares import SchemeGuardMiddleware

    guard = SchemeGuardMiddleware()
    assert guard.process_request(Request("http://a.example/x")) is None
    for url in ("data:text/html;base64,PHNjcmlwdD4=", "file:///etc/passwd", "ftp://a.example/x"):
        with pytest.raises(IgnoreRequest):
            guard.process_request(Request(url))


# -- JSON API -------------------------------------------------------------------------------------

def test_json_api_paged_mapped_and_incremental(site, sqlite_engine, assessor):
    cfg = validate_config("json", {
        "url": site.url("/api/list?page={page}"), "items_path": "data.list", "max_pages": 10,
        "url_template": site.url("/wz/{id}.html"),
        "fields": {"external_id": "id", "title": "title", "text": "content", "published_at": "ctime",
                   "author": "user.name", "likes": "stats.like"},
        "politeness": FAST,
    })
    sid = _add(sqlite_engine, "问政接口", "json", cfg)
    before = len(site.fetched("/api/list"))
    report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
    assert report.ok, report.error
    assert report.inserted == 10
    # pages 1..3 have entries, page 4 is empty and stops the crawl
    assert [p.split("=")[-1] for p in site.fetched("/api/list")[before:]] == ["1", "2", "3", "4"]
    posts = {p.external_id: p for p in _posts(sqlite_engine, sid)}
    assert posts["501"].text == "电梯一周坏了三次，老人上下楼很困难。"  # HTML, svg, noscript, scripts removed
    assert posts["501"].author == "业主甲" and posts["501"].likes == 12
    assert posts["502"].likes == 12000  # "1.2万"
    assert posts["502"].published_at == datetime(2020, 4, 2, 1, 0, tzinfo=UTC)  # Unix seconds
    assert posts["504"].published_at == datetime(2020, 4, 4, 12, 10, tzinfo=UTC)  # 2020年4月4日 20:10
    assert posts["503"].published_at == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # 3小时前
    assert posts["505"].url == site.url("/wz/505.html")
    with session_scope(sqlite_engine) as s:
        ev = s.exec(select(Evidence).where(Evidence.post_id == posts["502"].id)).scalars().one()
        assert json.loads(zlib.decompress(ev.body))["title"] == "建议增设非机动车停车位"

    again = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
    assert again.ok and again.inserted == 0 and again.unchanged == 10


def test_json_api_errors_fail_the_crawl(site, sqlite_engine, assessor):
    sid = _add(sqlite_engine, "坏接口", "json", {"url": site.url("/api/broken?p={page}"), "items_path": "data",
                                                  "fields": {"text": "t"}, "politeness": FAST})
    report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
    assert not report.ok and "JSON" in report.error
    with session_scope(sqlite_engine) as s:
        assert "JSON" in get_source(s, sid).last_error


# -- feeds through the feed path ------------------------------------------------------------------

def test_rss_and_atom_feeds(site, sqlite_engine, assessor):
    rss = _add(sqlite_engine, "融媒体 RSS", "rss", {}, url=site.url("/feeds/rss.xml"))
    atom = _add(sqlite_engine, "微博关键词 Atom", "atom", {}, url=site.url("/feeds/atom.xml"))
    for sid in (rss, atom):
        report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
        assert report.ok and report.inserted == 2, report.error
    rss_posts = {p.title: p for p in _posts(sqlite_engine, rss)}
    assert rss_posts["县城新增两条公交线路"].published_at == datetime(2020, 1, 6, 4, 9, tzinfo=UTC)
    assert "alert" not in rss_posts["县城新增两条公交线路"].text
    atom_posts = {p.title: p for p in _posts(sqlite_engine, atom)}
    assert atom_posts["网友反映城东菜市场周边交通拥堵"].author == "城东小王"
    assert atom_posts["网友反映城东菜市场周边交通拥堵"].text == "早高峰城东菜市场门口堵得动不了。"


# -- incremental crawling and re-checks of changed items ------------------------------------------

def test_known_items_not_refetched_and_recheck_versions_changes(site, sqlite_engine, assessor):
    cfg = {"list_urls": [site.url("/changing/list.html")], "item_links": "a", "title": "h1.title",
           "body": "div.content", "published_at": ".time", "politeness": FAST}
    sid = _add(sqlite_engine, "停水公告", "html", cfg)
    site.changing_version = 1
    r1 = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
    assert r1.ok and r1.inserted == 1, r1.error
    site.changing_version = 2
    r2 = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
    assert r2.ok and r2.fetched == 0 and r2.inserted == 0 and r2.updated == 0
    assert len(site.fetched("/changing/item.html")) == 1  # known: not fetched again

    with session_scope(sqlite_engine) as s:
        src = s.get(Source, sid)
        src.config = {**cfg, "recheck": True}
        s.add(src)
    r3 = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
    assert r3.ok and r3.updated == 1, r3.error
    (post,) = _posts(sqlite_engine, sid)
    assert "第2版" in post.title and post.version == 2
    with session_scope(sqlite_engine) as s:
        old = s.exec(select(PostVersion).where(PostVersion.post_id == post.id)).scalars().one()
        assert "第1版" in old.title
        assert s.exec(select(func.count()).select_from(Evidence).where(Evidence.post_id == post.id)).scalar() == 2


def test_requests_go_through_the_configured_proxy(site):
    # the test site doubles as a forward proxy: a host that does not exist is reachable only through it
    cfg = {"list_urls": ["http://wz.example.invalid/gbk/list3.html"], **GBK_SELECTORS,
           "politeness": {**FAST, "proxy": site.base}}
    before = len(site.proxied)
    got = fetch_web_source(SimpleNamespace(id=1, kind="html", url=None, config=cfg), CrawlOptions(), NOW)
    titles = {i.title for i in got.items}
    assert titles == {p["title"] for p in site.site["post"] if p["page"] == 3}
    assert "𠮷祥路口信号灯配时不合理" in titles  # undeclared page, character outside GBK
    assert {i.author for i in got.items} >= {"𠮷先生"}
    assert "http://wz.example.invalid/robots.txt" in site.proxied[before:]
    assert "http://wz.example.invalid/gbk/detail/3003.html" in site.proxied[before:]


def test_time_limit_kills_a_hanging_crawl(site):
    cfg = validate_config("html", {"list_urls": [site.url("/slow/list.html")], "item_links": "a",
                                   "body": "div", "politeness": {**FAST, "timeout": 60}})
    job = {"kind": "html", "config": cfg, "settings": build_settings(cfg), "now": NOW.isoformat(),
           "known_ids": [], "limit": None}
    with pytest.raises(CrawlError, match="时间上限"):
        run_spider_job(job, time_limit=2.5)


# -- pure parts: charset detection, links, config validation, settings ----------------------------

POST = "关于城关镇幸福路积水问题的反映"


@pytest.mark.parametrize(
    ("body", "ctype", "override"),
    [
        (f'<meta charset="gbk"><p>{POST}</p>'.encode("gbk"), None, None),
        (f'<meta http-equiv="Content-Type" content="text/html; charset=gb2312"><p>{POST}</p>'.encode("gbk"),
         None, None),
        (f"<p>{POST}</p>".encode("gbk"), "text/html; charset=GBK", None),
        (f"<p>{POST}</p>".encode("gb18030"), "text/html", None),  # undeclared GBK
        (f"<p>{POST}</p>".encode(), None, None),  # undeclared UTF-8
        (f'<meta charset="utf-8"><p>{POST}</p>'.encode("gbk"), None, None),  # declared wrongly
        (f'<meta charset="utf-8"><p>{POST}</p>'.encode("gbk"), None, "gbk"),  # override wins
        (b"\xef\xbb\xbf" + f"<p>{POST}</p>".encode(), "text/html; charset=gbk", None),  # BOM
    ],
)
def test_decode_body_reads_chinese_whatever_the_charset(body, ctype, override):
    text, _ = decode_body(body, ctype, override)
    assert POST in text


def test_safe_url_refuses_scripts_and_data():
    base = "http://a.example/list/"
    assert safe_url(base, "x.html#top") == "http://a.example/list/x.html"
    for href in ("javascript:alert(1)", " JavaScript:x()", "java\tscript:x()", "data:text/html,<b>",
                 "mailto:a@b", "#", "", None, "vbscript:x"):
        assert safe_url(base, href) is None


@pytest.mark.parametrize(
    ("kind", "cfg", "needle"),
    [
        ("html", {"item_links": "a", "body": "div"}, "list_urls"),
        ("html", {"list_urls": ["ftp://x"], "item_links": "a", "body": "div"}, "http://"),
        ("html", {"list_urls": ["http://x"], "body": "div"}, "item_links"),
        ("html", {"list_urls": ["http://x"], "item_links": "a"}, "body"),
        ("html", {"list_urls": ["http://x"], "item_links": "a[", "body": "div"}, "item_links 选择器无效"),
        ("html", {"list_urls": ["http://x"], "item_links": "a", "body": "xpath://div[", "title": "h1"}, "body"),
        ("html", {"list_urls": ["http://x"], "item_links": "a", "body": "div", "encoding": "klingon"}, "encoding"),
        ("html", {"list_urls": ["http://x"], "item_links": "a", "body": "div", "max_pages": 0}, "max_pages"),
        ("html", {"list_urls": ["http://x"], "item_links": "a", "body": "div", "id_from": "regex"}, "id_regex"),
        ("html", {"list_urls": ["http://x"], "item_links": "a", "body": "div", "selectorz": "x"}, "selectorz"),
        ("html", {"list_urls": ["http://x"], "item_links": "a", "body": "div",
                  "scrapy": {"ITEM_PIPELINES": {}}}, "ITEM_PIPELINES"),
        ("html", {"list_urls": ["http://x"], "item_links": "a", "body": "div",
                  "politeness": {"delay": "fast"}}, "politeness.delay"),
        ("json", {"url": "http://x/api?p={pg}", "fields": {"text": "t"}}, "url"),
        ("json", {"url": "http://x/api?p={page}"}, "fields"),
        ("json", {"url": "http://x/api?p={page}", "fields": {"likes": "n"}}, "text"),
    ],
)
def test_validate_config_names_the_problem(kind, cfg, needle):
    with pytest.raises(ValueError) as err:
        validate_config(kind, cfg)
    assert needle in str(err.value)


def test_settings_polite_by_default_and_overridable():
    base = build_settings({}, user_agent="ua/1", timeout=7, max_bytes=1234, proxy="http://proxy:3128")
    assert base["ROBOTSTXT_OBEY"] is True and base["AUTOTHROTTLE_ENABLED"] is True
    assert base["CONCURRENT_REQUESTS_PER_DOMAIN"] == 2 and base["RETRY_TIMES"] == 2
    assert base["USER_AGENT"] == "ua/1" and base["DOWNLOAD_TIMEOUT"] == 7 and base["DOWNLOAD_MAXSIZE"] == 1234
    assert base["YUQING_PROXY"] == "http://proxy:3128" and base["REDIRECT_MAX_TIMES"] == 5
    custom = build_settings({"politeness": {"obey_robots": False, "concurrency": 1, "delay": 3.0},
                             "scrapy": {"AUTOTHROTTLE_MAX_DELAY": 5.0}})
    assert custom["ROBOTSTXT_OBEY"] is False and custom["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert custom["DOWNLOAD_DELAY"] == 3.0 and custom["AUTOTHROTTLE_MAX_DELAY"] == 5.0


def test_site_fixture_matches_its_description():
    site = tomllib.loads((SITES / "gbk" / "posts.toml").read_text(encoding="utf-8"))
    assert {p["charset"] for p in site["post"]} == {"header", "meta", "meta-gb2312", "none"}
    assert Path(SITES / "robots.txt").read_text().strip().endswith("Disallow: /private/")
