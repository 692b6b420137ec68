"""Issue #22.12: `yuqing crawl` stops at the crawl time limit (a slow-drip server cannot hold it
forever), and a page whose declared charset does not decode it leaves a warning on the source."""

from __future__ import annotations

import json
import time

from tests.cli import run_cli
from tests.localsrv import LocalServer


def _drip(out) -> None:
    out.write(b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>")
    out.flush()
    for _ in range(600):  # one byte every half second: no read ever times out
        time.sleep(0.5)
        try:
            out.write(b" ")
            out.flush()
        except OSError:
            return


def test_crawl_command_stops_at_the_time_limit_against_a_slow_drip_server(tmp_path):
    site = LocalServer({"/feed.xml": (200, {"Content-Type": "application/rss+xml", "Content-Length": "100000"},
                                      _drip)})
    try:
        db_url = f"sqlite:///{tmp_path / 'slow.db'}"
        added = run_cli("source", "add", "--kind", "rss", "--name", "慢速订阅源", "--url", f"{site.base}/feed.xml",
                        db_url=db_url)
        assert added.code == 0, added.err
        res = run_cli("crawl", "--source", added.out.strip(), db_url=db_url,
                      env={"YUQING_CRAWL_TIME_LIMIT_SECONDS": "4"}, timeout=90)
        assert res.code != 0
        assert "时间上限" in res.err
        listed = json.loads(run_cli("source", "list", "--json", db_url=db_url).out)
        assert "时间上限" in (listed[0].get("last_error") or "")
    finally:
        site.shutdown()


def test_a_page_its_declared_charset_cannot_decode_gets_a_warning_on_the_source(tmp_path):
    body = "<html><body><h1>关于清河路改造的回复</h1><div class='c'>清河路改造工程将于下月完工。</div></body></html>"
    site = LocalServer({
        "/list.html": (200, {"Content-Type": "text/html; charset=utf-8"},
                       b"<html><body><ul><li><a href='/d1.html'>d1</a></li></ul></body></html>"),
        # declared UTF-8, written in GBK
        "/d1.html": (200, {"Content-Type": "text/html; charset=utf-8"}, body.encode("gbk")),
    })
    try:
        db_url = f"sqlite:///{tmp_path / 'cs.db'}"
        conf = tmp_path / "src.toml"
        conf.write_text(f'list_urls = ["{site.base}/list.html"]\nitem_links = "ul a"\nbody = "div.c"\n'
                        f'[politeness]\nautothrottle = false\ndelay = 0\nretries = 0\n', encoding="utf-8")
        added = run_cli("source", "add", "--kind", "html", "--name", "县政府网站", "--config", str(conf),
                        db_url=db_url)
        res = run_cli("crawl", "--source", added.out.strip(), db_url=db_url)
        assert res.code == 0, res.err
        assert "声明的字符集 utf-8 无法解码" in res.out
        listed = json.loads(run_cli("source", "list", "--json", db_url=db_url).out)
        assert "声明的字符集 utf-8 无法解码" in (listed[0].get("last_warning") or "")
        posts = json.loads(run_cli("posts", "list", "--json", db_url=db_url).out)
        assert "清河路改造工程将于下月完工" in posts[0]["text"]  # read correctly as GB18030
    finally:
        site.shutdown()
