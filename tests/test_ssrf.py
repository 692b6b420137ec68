"""Issue #22.3: a crawl requests only its source's origins; links and redirects elsewhere get no
request at all (not even robots.txt), and the refusal is recorded on the source.

Two real HTTP servers on 127.0.0.1: the source's site and an "internal" server on another port
that counts every request it receives.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crawlers.guard import OriginPolicy
from ledger.db import make_engine, session_scope
from ledger.models import Post, Source
from tests.cli import run_cli
from tests.localsrv import LocalServer as _Server

HTML = {"Content-Type": "text/html; charset=utf-8"}


def _page(body: str) -> tuple[int, dict[str, str], bytes]:
    return 200, HTML, f"<html><body>{body}</body></html>".encode()


@pytest.fixture
def internal():
    srv = _Server({"/secret.html": _page('<div class="c">内部管理界面 密钥</div>'),
                   "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\n"),
                   "/feed.xml": (200, {"Content-Type": "application/rss+xml"}, b"<rss version='2.0'></rss>")})
    yield srv
    srv.shutdown()


def test_a_list_page_linking_to_another_local_port_sends_that_port_no_request(internal, tmp_path):
    site = _Server({})
    try:
        site.pages.update({
            "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\n"),
            "/list.html": _page(
                f'<ul><li><a href="/a.html">a</a></li>'
                f'<li><a href="{internal.base}/secret.html">b</a></li>'
                f'<li><a href="/jump.html">c</a></li></ul>'
                f'<a class="next" href="{internal.base}/list2.html">next</a>'),
            "/a.html": _page('<h1>公开信息</h1><div class="c">本县公开的办事指南</div>'),
            "/jump.html": (302, {"Location": f"{internal.base}/secret.html"}, b""),
        })
        db_url = f"sqlite:///{tmp_path / 'ssrf.db'}"
        conf = tmp_path / "src.toml"
        conf.write_text(f'list_urls = ["{site.base}/list.html"]\nitem_links = "ul a"\nbody = "div.c"\n'
                        f'next_page = "a.next"\n[politeness]\nautothrottle = false\ndelay = 0\nretries = 0\n',
                        encoding="utf-8")
        added = run_cli("source", "add", "--kind", "html", "--name", "县政府网站", "--config", str(conf), db_url=db_url)
        assert added.code == 0, added.err
        sid = int(added.out.strip())

        crawl = run_cli("crawl", "--source", str(sid), db_url=db_url)
        assert crawl.code == 0, crawl.err
        assert internal.hits == []  # not the link, not the redirect target, not even robots.txt
        assert "/jump.html" in site.hits  # the same-origin page was fetched; its redirect refused

        engine = make_engine(db_url)
        with session_scope(engine) as s:
            posts = list(s.exec(select(Post).where(Post.source_id == sid)).scalars())
            assert [p.text for p in posts] == ["本县公开的办事指南"]
            warning = s.get(Source, sid).last_warning
        engine.dispose()
        assert "不在来源允许的站点内" in warning
        listed = run_cli("source", "list", "--json", db_url=db_url)
        assert "不在来源允许的站点内" in listed.out
    finally:
        site.shutdown()


def test_a_feed_redirecting_to_an_internal_address_is_refused_and_recorded(internal, tmp_path):
    site = _Server({})
    try:
        site.pages["/feed.xml"] = (302, {"Location": f"{internal.base}/feed.xml"}, b"")
        db_url = f"sqlite:///{tmp_path / 'feed.db'}"
        added = run_cli("source", "add", "--kind", "rss", "--name", "订阅源", "--url", f"{site.base}/feed.xml",
                        db_url=db_url)
        assert added.code == 0, added.err
        crawl = run_cli("crawl", "--source", added.out.strip(), db_url=db_url)
        assert internal.hits == []
        assert "不在来源允许的站点内" in crawl.out + crawl.err
        listed = json.loads(run_cli("source", "list", "--json", db_url=db_url).out)
        assert "不在来源允许的站点内" in (listed[0].get("last_error") or "")
    finally:
        site.shutdown()


def test_feed_item_links_other_than_http_are_not_stored_as_links(tmp_path):
    rss = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
           "<item><title>甲</title><link>javascript:alert(1)</link><guid>g1</guid><description>一</description></item>"
           "<item><title>乙</title><link>file:///etc/passwd</link><guid>g2</guid><description>二</description></item>"
           "<item><title>丙</title><link>https://www.example.gov.cn/a.html</link><guid>g3</guid>"
           "<description>三</description></item></channel></rss>").encode()
    site = _Server({"/f.xml": (200, {"Content-Type": "application/rss+xml"}, rss)})
    try:
        db_url = f"sqlite:///{tmp_path / 'links.db'}"
        added = run_cli("source", "add", "--kind", "rss", "--name", "订阅源", "--url", f"{site.base}/f.xml",
                        db_url=db_url)
        crawl = run_cli("crawl", "--source", added.out.strip(), db_url=db_url)
        assert crawl.code == 0, crawl.err
        engine = make_engine(db_url)
        with session_scope(engine) as s:
            links = {p.title: p.url for p in s.exec(select(Post)).scalars()}
        engine.dispose()
        assert links == {"甲": None, "乙": None, "丙": "https://www.example.gov.cn/a.html"}
    finally:
        site.shutdown()


def test_origin_policy_allows_configured_origins_and_public_allowed_domains_only():
    addresses = {"www.example.gov.cn": ["202.96.1.1"], "intranet.example.gov.cn": ["10.0.0.5"],
                 "x.example.gov.cn": ["127.0.0.1"]}
    policy = OriginPolicy(["http://127.0.0.1:8080/list.html"], ["example.gov.cn"],
                          resolver=lambda h: addresses.get(h, []))
    assert policy.refusal("http://127.0.0.1:8080/other.html") is None  # its own configured origin
    assert policy.refusal("http://127.0.0.1:8081/") is not None  # another port
    assert policy.refusal("https://127.0.0.1:8080/") is not None  # another scheme
    assert policy.refusal("https://www.example.gov.cn/a") is None
    assert policy.refusal("https://intranet.example.gov.cn/a") is not None  # private address
    assert policy.refusal("https://x.example.gov.cn/a") is not None  # loopback
    assert policy.refusal("http://169.254.169.254/latest/meta-data") is not None
    assert policy.refusal("https://evil.example.com/") is not None
