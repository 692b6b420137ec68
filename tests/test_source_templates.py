"""Source templates: listed by the CLI, expanded into sources, and each crawled from its recorded
fixture on a real local server (RSSHub routes, the generic 信息公开 list)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from analysis.assess import Assessor
from config.settings import DEFAULTS_DIR
from crawlers.runner import CrawlOptions, crawl_source
from crawlers.templates import TemplateError, expand, load_templates
from ledger.db import make_engine, session_scope
from ledger.models import Post, Source
from ledger.posts.sources import add_source
from tests.cli import run_cli
from tests.feedsrv import FeedServer

FIXTURES = Path(__file__).resolve().parent / "sites"
CATALOGUE = load_templates(DEFAULTS_DIR / "templates.toml")
RSSHUB = sorted(n for n, t in CATALOGUE.items() if t.rsshub)
# parameters used for each RSSHub template (made-up accounts and words)
PARAMS = {
    "weibo_keyword": {"keyword": "青川县 停水"}, "weibo_user": {"uid": "1000000002"},
    "tieba_forum": {"kw": "青川"}, "tieba_search": {"qw": "青川 停水"},
    "toutiao_user": {"token": "AbCdEf"}, "douyin_user": {"uid": "MS4wLjABAAAAtest"},
}


def _fixture_titles(name: str) -> list[str]:
    body = (FIXTURES / "templates" / f"{name}.xml").read_text(encoding="utf-8")
    return re.findall(r"<title><!\[CDATA\[(.*?)\]\]></title>", body)[1:]  # [0] is the channel's


def _add(engine, spec) -> int:
    from datetime import UTC, datetime

    with session_scope(engine) as s:
        return add_source(s, name=spec.name, kind=spec.kind, url=spec.url, config=spec.config,
                          interval_seconds=spec.interval, actor="test", now=datetime(2026, 3, 2, tzinfo=UTC)).id


def test_catalogue_has_the_templates_the_issue_asks_for():
    wanted = {"weibo_keyword", "weibo_user", "weibo_hot", "tieba_forum", "tieba_search", "zhihu_hot",
              "toutiao_user", "douyin_user", "baidu_hot", "people_board", "rednet_board", "gov_xxgk_list"}
    assert wanted <= set(CATALOGUE)
    assert {n for n, t in CATALOGUE.items() if t.hotlist} == {"weibo_hot", "baidu_hot", "zhihu_hot"}
    for name in RSSHUB:  # every RSSHub template has a recorded fixture
        assert _fixture_titles(name), name


@pytest.mark.parametrize("name", RSSHUB)
def test_each_rsshub_template_crawls_its_fixture(name, sqlite_engine, fixed_now):
    with FeedServer() as srv:
        spec = expand(CATALOGUE[name], PARAMS.get(name, {}), rsshub_url=srv.base + "/")
        path = spec.url[len(srv.base):]
        assert path == CATALOGUE[name].route.format(**{k: quote(v, safe="") for k, v in PARAMS.get(name, {}).items()})
        srv.set(path, (FIXTURES / "templates" / f"{name}.xml").read_bytes())
        sid = _add(sqlite_engine, spec)
        report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=Assessor(), now=fixed_now)
    assert report.ok, report.error
    titles = _fixture_titles(name)
    assert report.inserted == len(titles)
    with session_scope(sqlite_engine) as s:
        stored = set(s.execute(select(Post.title).where(Post.source_id == sid)).scalars())
        src = s.get(Source, sid)
        assert src.config["template"] == name and src.config["origins"] == [srv.base]
        assert bool(src.config.get("hotlist")) == CATALOGUE[name].hotlist
    assert stored == set(titles)


@pytest.mark.parametrize("status", [403, 418, 503])
def test_rsshub_route_refusing_says_cookie_or_puppeteer(status, sqlite_engine, fixed_now):
    with FeedServer() as srv:
        spec = expand(CATALOGUE["weibo_user"], {"uid": "1000000002"}, rsshub_url=srv.base)
        srv.set(spec.url[len(srv.base):], b"blocked", status=status, content_type="text/plain")
        sid = _add(sqlite_engine, spec)
        report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=Assessor(), now=fixed_now)
    assert not report.ok
    with session_scope(sqlite_engine) as s:
        err = s.get(Source, sid).last_error
    assert "需配置 Cookie / Puppeteer" in err and str(status) in err and "Cookie" in err


def test_other_http_errors_keep_their_plain_message(sqlite_engine, fixed_now):
    with FeedServer() as srv:  # nothing served at the route: 404 is not a cookie problem
        spec = expand(CATALOGUE["zhihu_hot"], {}, rsshub_url=srv.base)
        sid = _add(sqlite_engine, spec)
        report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=Assessor(), now=fixed_now)
    assert not report.ok and "HTTP 404" in report.error and "Cookie" not in report.error


def test_gov_list_template_crawls_list_and_detail(sqlite_engine, fixed_now):
    with FeedServer() as srv:
        gov = FIXTURES / "gov"
        html = "text/html; charset=utf-8"
        srv.set("/xxgk/tzgg/index.html", (gov / "list.html").read_bytes(), content_type=html)
        srv.set("/xxgk/tzgg/202603/t20260301_1001.html", (gov / "t20260301_1001.html").read_bytes(), content_type=html)
        srv.set("/xxgk/tzgg/202602/t20260226_1002.html", (gov / "t20260226_1002.html").read_bytes(), content_type=html)
        srv.set("/robots.txt", b"", content_type="text/plain")
        spec = expand(CATALOGUE["gov_xxgk_list"], {"list_url": srv.base + "/xxgk/tzgg/index.html"}, rsshub_url=None)
        from crawlers.web import validate_config

        validate_config("html", spec.config)  # what `source add --kind html` accepts
        sid = _add(sqlite_engine, spec)
        report = crawl_source(sqlite_engine, sid, options=CrawlOptions(), assessor=Assessor(), now=fixed_now)
    assert report.ok, report.error
    assert report.inserted == 2
    with session_scope(sqlite_engine) as s:
        posts = {p.title: p for p in s.execute(select(Post).where(Post.source_id == sid)).scalars()}
    notice = posts["关于城东片区管网维修临时停水的通知"]
    assert "城东片区临时停水" in notice.text
    assert notice.published_at.isoformat() == "2026-03-01T00:30:00+00:00"  # 08:30 Beijing time
    assert "为做好春季森林防火工作" in posts["青川县2026年春季森林防火工作方案"].text


def test_expand_refuses_bad_requests():
    with pytest.raises(TemplateError, match="需要参数 keyword"):
        expand(CATALOGUE["weibo_keyword"], {}, rsshub_url="http://rsshub.local")
    with pytest.raises(TemplateError, match="YUQING_RSSHUB_URL"):
        expand(CATALOGUE["weibo_keyword"], {"keyword": "x"}, rsshub_url=None)
    with pytest.raises(TemplateError, match="不符合要求"):
        expand(CATALOGUE["people_board"], {"fid": "abc"}, rsshub_url=None)
    with pytest.raises(TemplateError, match="没有参数 colour"):
        expand(CATALOGUE["zhihu_hot"], {"colour": "red"}, rsshub_url="http://rsshub.local")


def test_broken_catalogue_is_named(tmp_path):
    bad = tmp_path / "templates.toml"
    bad.write_text('[templates.x]\ntitle = "x"\ncollects = "x"\nkind = "rss"\nrsshub = true\nroute = "/a/{b}"\n',
                   encoding="utf-8")
    with pytest.raises(TemplateError, match="未声明的参数 b"):
        load_templates(bad)


# -- the acceptance check, through the real CLI ------------------------------------------------

def test_cli_lists_templates_and_adds_a_weibo_keyword_source_that_crawls(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'y.db'}"
    listed = run_cli("source", "templates", "--json", db_url=db_url)
    assert listed.code == 0, listed.err
    rows = {r["name"]: r for r in json.loads(listed.out)}
    assert rows["weibo_keyword"]["rsshub"] and rows["weibo_keyword"]["route"] == "/weibo/keyword/{keyword}"
    assert [p["name"] for p in rows["weibo_keyword"]["params"]] == ["keyword"]
    assert rows["people_board"]["kind"] == "board" and rows["people_board"]["rsshub"] is False
    assert rows["weibo_user"]["needs_cookie"] and rows["douyin_user"]["needs_puppeteer"]
    with FeedServer() as srv:
        srv.set("/weibo/keyword/" + quote("青川县停水", safe=""),
                (FIXTURES / "templates" / "weibo_keyword.xml").read_bytes())
        env = {"YUQING_RSSHUB_URL": srv.base}
        added = run_cli("source", "add", "--template", "weibo_keyword", "--param", "keyword=青川县停水",
                        "--interval", "600", db_url=db_url, env=env)
        assert added.code == 0, added.err
        sid = added.out.strip()
        crawled = run_cli("crawl", "--source", sid, db_url=db_url, env=env)
        assert crawled.code == 0, crawled.err + crawled.out
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            src = s.get(Source, int(sid))
            assert src.name == "微博关键词 青川县停水" and src.kind == "rss" and src.interval_seconds == 600
            assert src.url == srv.base + "/weibo/keyword/%E9%9D%92%E5%B7%9D%E5%8E%BF%E5%81%9C%E6%B0%B4"
            titles = set(s.execute(select(Post.title).where(Post.source_id == int(sid))).scalars())
    finally:
        engine.dispose()
    assert titles == set(_fixture_titles("weibo_keyword"))


def test_cli_template_errors_are_clear_and_add_nothing(sqlite_url, sqlite_engine):
    db_url = sqlite_url
    cases = [
        (["--template", "no_such"], "没有名为 'no_such' 的来源模板"),
        (["--template", "weibo_keyword"], "需要参数 keyword"),
        (["--template", "weibo_keyword", "--param", "keyword"], "key=value"),
        (["--template", "people_board", "--param", "fid=1", "--kind", "rss"], "不能与 --kind"),
    ]
    for args, wanted in cases:
        got = run_cli("source", "add", *args, db_url=db_url, env={"YUQING_RSSHUB_URL": "http://127.0.0.1:9"})
        assert got.code == 2 and wanted in got.err, (args, got.err)
    no_hub = run_cli("source", "add", "--template", "zhihu_hot", db_url=db_url)
    assert no_hub.code == 2 and "YUQING_RSSHUB_URL" in no_hub.err
    with session_scope(sqlite_engine) as s:
        assert s.execute(select(func.count()).select_from(Source)).scalar_one() == 0
