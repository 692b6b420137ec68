"""The foundation's command line through the real ``yuqing`` process: happy paths and error paths."""

from __future__ import annotations

import json

import pytest

from tests.cli import run_cli
from tests.feedsrv import FeedServer
from tests.test_feed_crawl import RSS


def test_help_lists_the_commands():
    r = run_cli("--help")
    assert r.code == 0
    for cmd in ("db", "source", "crawl", "posts", "analyze", "run", "dashboard", "demo"):
        assert cmd in r.out


def test_feed_to_posts_list_json(sqlite_url):
    assert run_cli("db", "upgrade", db_url=sqlite_url).code == 0
    with FeedServer() as srv:
        srv.set("/rss", RSS.encode())
        r = run_cli("source", "add", "--kind", "rss", "--name", "测试", "--url", srv.base + "/rss",
                    "--interval", "60", db_url=sqlite_url)
        assert r.code == 0, r.err
        sid = r.out.strip()
        assert sid.isdigit()
        r = run_cli("crawl", "--source", sid, db_url=sqlite_url)
        assert r.code == 0, r.err
        assert "新增 2" in r.out
        r = run_cli("crawl", "--source", sid, db_url=sqlite_url)
        assert r.code == 0
    r = run_cli("posts", "list", "--json", "--limit", "10", db_url=sqlite_url)
    assert r.code == 0, r.err
    posts = json.loads(r.out)
    assert len(posts) == 2
    for p in posts:
        for key in ("id", "source_id", "external_id", "url", "title", "text", "published_at", "sentiment",
                    "sentiment_score"):
            assert key in p
        assert "<" not in p["text"]
        assert p["published_at"].endswith("+08:00")
    texts = " ".join(p["text"] for p in posts)
    assert "13812345678" not in texts and "138****5678" in texts
    r = run_cli("posts", "list", "--json", "--limit", "1", db_url=sqlite_url)
    assert len(json.loads(r.out)) == 1
    r = run_cli("source", "list", "--json", db_url=sqlite_url)
    src = json.loads(r.out)[0]
    # the last crawl was answered 304 Not Modified: healthy, no items fetched
    assert src["status"] == "ok" and src["last_items"] == 0 and src["consecutive_failures"] == 0


def test_crawl_failure_exits_nonzero_with_reason(sqlite_url):
    with FeedServer() as srv:
        srv.set("/down", b"oops", status=500, content_type="text/plain")
        sid = run_cli("source", "add", "--kind", "rss", "--name", "坏源", "--url", srv.base + "/down",
                      db_url=sqlite_url).out.strip()
        r = run_cli("crawl", "--source", sid, db_url=sqlite_url)
    assert r.code != 0
    assert "HTTP 500" in r.err
    assert "Traceback" not in r.err


def test_analyze_shape_and_order(tmp_path):
    lines = [
        "今天天气真好，心情愉快，感谢志愿者们的付出！",
        json.dumps({"text": "小区垃圾堆了一个星期没人清理，臭气熏天，太让人愤怒了"}, ensure_ascii=False),
        "",
        "{not json",
        json.dumps({"id": 5, "title": "只有标题"}, ensure_ascii=False),
    ]
    r = run_cli("analyze", stdin="\n".join(lines) + "\n", env={"YUQING_DATA_DIR": str(tmp_path)})
    assert r.code == 0, r.err
    out = [json.loads(x) for x in r.out.splitlines()]
    assert len(out) == len(lines)
    for obj in out:
        assert obj["sentiment"] in {"positive", "neutral", "negative"}
        assert 0.0 <= obj["sentiment_score"] <= 1.0
    assert out[0]["sentiment_score"] > out[1]["sentiment_score"]
    assert out[1]["sentiment"] == "negative"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("source", "add", "--kind", "gopher", "--name", "x", "--url", "http://a"), "kind"),
        (("source", "add", "--kind", "rss", "--name", "x"), "--url"),
        (("source", "add", "--kind", "rss", "--name", "x", "--url", "ftp://a"), "http"),
        (("source", "add", "--kind", "rss", "--name", "x", "--url", "http://a", "--interval", "abc"), "interval"),
        (("source", "add", "--kind", "rss", "--name", "x", "--url", "http://a", "--cron", "99 * * *"), "cron"),
        (("crawl", "--source", "999"), "999"),
        (("crawl",), "--source"),
        (("posts", "list", "--limit", "0"), "limit"),
        (("no-such-command",), "No such command"),
    ],
)
def test_bad_arguments_give_clear_error_and_nonzero_exit(sqlite_url, args, needle):
    r = run_cli(*args, db_url=sqlite_url)
    assert r.code != 0
    assert needle in r.err
    assert "Traceback" not in r.err


def test_unusable_database_url_is_a_clear_error(tmp_path):
    r = run_cli("posts", "list", db_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert r.code != 0 and "数据库" in r.err and "Traceback" not in r.err
    r = run_cli("db", "upgrade", db_url="notascheme://x")
    assert r.code != 0 and "Traceback" not in r.err


def test_duplicate_source_name_refused(sqlite_url):
    assert run_cli("source", "add", "--kind", "rss", "--name", "同名", "--url", "http://127.0.0.1:9/a",
                   db_url=sqlite_url).code == 0
    r = run_cli("source", "add", "--kind", "rss", "--name", "同名", "--url", "http://127.0.0.1:9/b",
                db_url=sqlite_url)
    assert r.code != 0 and "已存在" in r.err
