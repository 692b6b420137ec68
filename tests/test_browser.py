"""A real headless chromium signs in to the running dashboard and reads the on-duty page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.demo_seed import DEMO_PASSWORD, seed_demo
from config.settings import get_settings
from tests.browser import browser_page, dashboard_server, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_and_on_duty_page_in_chromium(sqlite_engine, sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    seed_demo(sqlite_engine, get_settings(), datetime.now(UTC))
    with dashboard_server(sqlite_url) as base, browser_page() as page:
        import urllib.request

        with urllib.request.urlopen(base + "/_stcore/health") as r:
            assert r.read().strip() == b"ok"
        page.goto(base + "/", wait_until="domcontentloaded")
        page.get_by_role("button", name="登录").wait_for(timeout=60_000)
        assert page.get_by_text("舆情台账 · 登录").is_visible()
        # a wrong password is refused
        sign_in(page, base, "zhiban", "wrong-password-1")
        page.get_by_text("用户名或密码错误").wait_for(timeout=30_000)
        sign_in(page, base, "zhiban", DEMO_PASSWORD)
        page.get_by_role("heading", name="值班台").wait_for(timeout=60_000)
        page.get_by_text("滨江区化工园区企业爆炸事故舆情").first.wait_for(timeout=30_000)
        table = page.locator("table").first
        text = table.inner_text()
        assert "滨江区化工园区企业爆炸事故舆情" in text
        assert "剩 " in text or "超时 " in text
        page.screenshot(path=str(tmp_path / "onduty.png"), full_page=True)
        assert (tmp_path / "onduty.png").stat().st_size > 10_000
        # crawled text never becomes markup: no script element came from data
        assert page.locator("script:has-text('alert(')").count() == 0
