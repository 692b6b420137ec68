"""The duty console in a real Chromium: sessions that survive a reload, hostile titles shown as text,
sessions ended by account changes and the idle timeout (issue 21, issue 22 points 5-7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from config.demo_seed import DEMO_PASSWORD, seed_demo
from config.settings import get_settings
from ledger.db import session_scope
from ledger.users import set_password
from tests.browser import browser_page, dashboard_server, sign_in

pytestmark = pytest.mark.browser

PHISH = "[统一身份认证 重新登录](http://127.0.0.1:9/phish)"


def _open_case(engine, title: str) -> tuple[int, str]:
    from config.caseconfig import load_case_env
    from ledger.cases.workflow import open_case

    now = datetime.now(UTC)
    with session_scope(engine) as s:
        case = open_case(s, title=title, grade="较大", discovered_at=now - timedelta(hours=1), now=now, actor="t",
                         env=load_case_env(get_settings()), responsible_unit="示例市生态环境局")
        return case.id, case.number


def test_on_duty_user_sees_markdown_title_as_text_and_stays_signed_in_after_reload(
        sqlite_engine, sqlite_url, monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    seed_demo(sqlite_engine, get_settings(), datetime.now(UTC))
    case_id, number = _open_case(sqlite_engine, PHISH)
    env = {"YUQING_SECRET_KEY": "browser-test-key", "YUQING_DASHBOARD_REFRESH_SECONDS": "5"}
    with dashboard_server(sqlite_url, extra_env=env) as base, \
            browser_page() as page:
        sign_in(page, base, "zhiban", DEMO_PASSWORD)
        page.get_by_role("heading", name="值班台").wait_for(timeout=60_000)
        nav = page.locator("[data-testid='stSidebarNav']")
        nav.get_by_text("台账").wait_for(timeout=30_000)
        assert "确认预警" not in nav.inner_text()  # reached only from an alert link
        page.goto(f"{base}/cases?case={case_id}", wait_until="domcontentloaded")
        page.get_by_role("heading", name=f"案件 {number}").wait_for(timeout=60_000)
        # the detail's text element (the case list's grid can hold the same text in a cell)
        title = page.get_by_test_id("stText").get_by_text(PHISH, exact=True)
        title.wait_for(timeout=30_000)  # the whole Markdown source, shown literally
        assert title.evaluate("e => e.closest('a') === null && e.querySelector('a') === null")
        links = page.locator("a[href*='127.0.0.1:9']")
        assert links.count() == 0, links.first.evaluate("e => e.parentElement.parentElement.outerHTML")
        page.reload(wait_until="domcontentloaded")
        title.wait_for(timeout=60_000)  # same case, still signed in
        assert page.get_by_role("heading", name="台账").is_visible()
        page.get_by_role("button", name="退出登录").wait_for(timeout=30_000)
        assert page.get_by_text("舆情台账 · 登录").count() == 0
        # a password changed elsewhere ends the open session: the auto-refreshing 值班台 falls back to the form
        page.goto(f"{base}/onduty", wait_until="domcontentloaded")
        page.get_by_role("heading", name="值班台").wait_for(timeout=60_000)
        with session_scope(sqlite_engine) as s:
            set_password(s, username="zhiban", password="changed-pass-1", now=datetime.now(UTC), actor="admin")
        page.get_by_text("舆情台账 · 登录").wait_for(timeout=60_000)
        page.get_by_text("登录状态已失效").wait_for(timeout=10_000)
        # signing out ends the session: a reload shows the sign-in form
        sign_in(page, base, "zhiban", "changed-pass-1")
        page.get_by_role("heading", name="值班台").wait_for(timeout=60_000)
        page.get_by_role("button", name="退出登录").click()
        page.get_by_text("舆情台账 · 登录").wait_for(timeout=60_000)
        page.reload(wait_until="domcontentloaded")
        page.get_by_text("舆情台账 · 登录").wait_for(timeout=60_000)
