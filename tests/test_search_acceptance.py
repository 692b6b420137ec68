"""Issue #24's check, as written, through the real CLI on the real data in ../shared/data:
search count, a monitoring scheme's hit count and reply suggestions after importing replies."""

from __future__ import annotations

import json

from sqlalchemy import text

from ledger.db import make_engine
from tests.cli import run_cli
from tests.conftest import shared_data


def test_issue_24_check_on_real_data(sqlite_url):
    weibo = shared_data("weibo_stream/2020-02-01.csv")
    replies = shared_data("hotline_replies.csv")
    r = run_cli("import", "posts", str(weibo), "--text-col", "text", "--author-col", "userid", db_url=sqlite_url,
                timeout=900)
    assert r.code == 0, r.err
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        docs = [((t or "") + "\n" + x).lower() for t, x in conn.execute(text("SELECT title, text FROM post"))]
    engine.dispose()
    assert len(docs) > 10_000

    # posts search 双黄连 --count equals the number of stored posts containing 双黄连
    r = run_cli("posts", "search", "双黄连", "--count", db_url=sqlite_url)
    assert r.code == 0, r.err
    expected = sum("双黄连" in d for d in docs)
    assert expected > 1000 and int(r.out) == expected

    # a scheme --all 双黄连 --any 抢购,口服液 --none 转发: hits --count equals the posts its expression matches
    r = run_cli("scheme", "add", "--name", "双黄连抢购", "--all", "双黄连", "--any", "抢购,口服液", "--none", "转发",
                db_url=sqlite_url)
    assert r.code == 0, r.err
    scheme_id = r.out.strip()
    r = run_cli("scheme", "hits", scheme_id, "--count", db_url=sqlite_url)
    assert r.code == 0, r.err
    matched = sum("双黄连" in d and ("抢购" in d or "口服液" in d) and "转发" not in d for d in docs)
    assert 0 < matched < expected and int(r.out) == matched

    # after importing hotline_replies.csv, three answered messages, each with its reply
    r = run_cli("import", "hotline", str(replies), db_url=sqlite_url, timeout=900)
    assert r.code == 0, r.err
    r = run_cli("messages", "suggest", "--text", "小区旁边的搅拌站晚上施工噪音太大…", "--json", "--top", "3",
                db_url=sqlite_url)
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert len(rows) == 3
    assert all(row["reply"] and row["similarity"] > 0 for row in rows)
    assert any("搅拌站" in (row["title"] or "") + row["text"] for row in rows)
