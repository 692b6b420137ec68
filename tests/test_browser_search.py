"""Issue #24 in a real headless chromium against the running dashboard: search posts, search
messages and start a reply from a suggestion, edit a monitoring scheme with its live preview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analysis.assess import Assessor
from config.demo_seed import DEMO_PASSWORD, seed_demo
from config.settings import get_settings
from ledger.db import session_scope
from ledger.messages.intake import RawMessage, store_messages
from ledger.posts.intake import RawPost, store_posts
from ledger.posts.sources import add_source
from tests.browser import browser_page, dashboard_server, sign_in

pytestmark = pytest.mark.browser


def test_search_suggestions_and_scheme_preview_in_chromium(sqlite_engine, sqlite_url, monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    now = datetime.now(UTC)
    seed_demo(sqlite_engine, get_settings(), now)
    with session_scope(sqlite_engine) as s:
        sid = add_source(s, name="微博检索", kind="file", url=None, actor="t", now=now).id
        store_posts(s, source_id=sid, assessor=Assessor(), now=now - timedelta(hours=5), items=[
            RawPost(external_id="1", text="药店里大家都在抢购双黄连口服液"),
            RawPost(external_id="2", text="转发：抢购双黄连")])
        hid = add_source(s, name="问政检索", kind="hotline", url=None, actor="t", now=now).id
        store_messages(s, source_id=hid, now=now, items=[
            RawMessage(external_id="W1", channel="网上留言", received_at=now - timedelta(days=20),
                       title="搅拌站夜间施工噪音", text="搅拌站每天晚上施工，噪音太大",
                       reply_text="已责令搅拌站夜间停工并处罚。", replied_at=now - timedelta(days=15)),
            RawMessage(external_id="W2", channel="网上留言", received_at=now - timedelta(hours=3),
                       title="工地晚上施工噪音太大", text="小区旁边的搅拌站晚上施工噪音太大")])
    with dashboard_server(sqlite_url) as base, browser_page() as page:
        sign_in(page, base, "zhiban", DEMO_PASSWORD)
        page.get_by_role("heading", name="值班台").wait_for(timeout=60_000)

        page.get_by_role("link", name="最新帖文").first.click()  # the sidebar (a new page load signs out)
        page.get_by_role("heading", name="最新帖文").wait_for(timeout=60_000)
        box = page.get_by_label("检索帖文", exact=True).and_(page.locator("input"))
        box.fill("双黄连 药店")
        box.press("Enter")
        page.get_by_text("共 1 条").wait_for(timeout=30_000)

        page.get_by_role("link", name="留言办理").first.click()  # the sidebar (a new page load signs out)
        page.get_by_role("heading", name="留言办理").wait_for(timeout=60_000)
        box = page.get_by_label("检索留言", exact=True).and_(page.locator("input"))
        box.fill("工地晚上")
        box.press("Enter")
        page.get_by_text("包含「工地晚上」的留言 1 条").wait_for(timeout=30_000)
        page.get_by_text("答复参考").wait_for(timeout=30_000)
        page.get_by_text("已责令搅拌站夜间停工并处罚。").first.wait_for(timeout=30_000)
        page.get_by_role("button", name="以此答复为起点").first.click()
        reply = page.get_by_label("答复意见", exact=True).and_(page.locator("textarea"))
        page.wait_for_function("() => [...document.querySelectorAll('textarea')].some("
                               "t => t.value.startsWith('已责令搅拌站夜间停工'))", timeout=30_000)
        assert reply.input_value().startswith("已责令搅拌站夜间停工并处罚")

        page.get_by_role("link", name="监测方案").first.click()  # the sidebar (a new page load signs out)
        page.get_by_role("heading", name="监测方案").first.wait_for(timeout=60_000)
        for label, value in (("方案名称", "双黄连抢购"), ("必含词（全部出现，逗号分隔）", "双黄连"),
                             ("任含词（至少一个，逗号分隔）", "抢购，口服液"), ("排除词（逗号分隔）", "转发")):
            field = page.get_by_label(label, exact=True).and_(page.locator("input"))
            field.fill(value)
            field.press("Enter")
        page.get_by_text("表达式：双黄连 且 (抢购 或 口服液) 不含 转发").wait_for(timeout=30_000)
        metric = page.locator('[data-testid="stMetricValue"]').first
        page.wait_for_function("() => { const m = document.querySelector('[data-testid=\"stMetricValue\"]');"
                               " return m && m.innerText.trim() === '1'; }", timeout=30_000)
        assert metric.inner_text().strip() == "1"
        page.get_by_role("button", name="保存方案").click()
        page.get_by_text("不含 转发").first.wait_for(timeout=30_000)
        page.get_by_role("button", name="保存修改").wait_for(timeout=30_000)
