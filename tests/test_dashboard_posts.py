"""The first dashboard page renders stored posts through streamlit.testing.v1.AppTest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from streamlit.testing.v1 import AppTest

from analysis.assess import Assessor
from ledger.db import session_scope
from ledger.posts.intake import RawPost, store_posts
from ledger.posts.sources import add_source

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def _posts_page(unmasked: bool = False) -> AppTest:
    """Run the 最新帖文 page as the dashboard does for a signed-in user."""

    def script(can_see):
        from dashboard.pages import posts
        from ledger.users import Principal

        posts.render(Principal(1, "u", "值班员甲", "值班员", None, can_see))

    return AppTest.from_function(script, args=(unmasked,), default_timeout=60)


def test_posts_page_shows_masked_posts(sqlite_engine, sqlite_url, monkeypatch):
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with session_scope(sqlite_engine) as s:
        sid = add_source(s, name="演示源", kind="rss", url="http://127.0.0.1/x", actor="t", now=now).id
        store_posts(s, source_id=sid, now=now, assessor=Assessor(), items=[
            RawPost(external_id="1", title="停水投诉", text="<b>停水</b>三天，电话13812345678",
                    published_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC)),
            RawPost(external_id="2", title="<script>alert(1)</script>点赞", text="服务很好，谢谢"),
        ])
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    at = _posts_page()
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "最新帖文"
    df = at.dataframe[0].value
    assert len(df) == 2
    joined = " ".join(df["正文"])
    assert "13812345678" not in joined and "138****5678" in joined
    assert "2026-03-02 09:00" in set(df["发布时间"])  # 01:00 UTC shown in Asia/Shanghai
    assert list(df["入库时间"]) == sorted(df["入库时间"], reverse=True)  # newest first, by the column shown
    assert "演示源" in set(df["来源"])
    assert all("<script" not in t for t in df["标题"])
    # a role allowed to see personal numbers sees them
    full = _posts_page(unmasked=True)
    full.run()
    assert "13812345678" in " ".join(full.dataframe[0].value["正文"])


def test_posts_page_empty_database(sqlite_engine, sqlite_url, monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    at = _posts_page()
    at.run()
    assert not at.exception
    assert any("暂无帖文" in i.value for i in at.info)


def test_app_without_sign_in_shows_only_the_sign_in_form(sqlite_engine, sqlite_url, monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert "登录" in at.title[0].value and not at.dataframe
