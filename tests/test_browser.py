"""A real headless chromium signs in to the running dashboard and reads the on-duty page, which
holds hostile data: a case whose title is markup and markdown meant to run script."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from config.caseconfig import load_case_env
from config.demo_seed import DEMO_PASSWORD, seed_demo
from config.settings import get_settings
from dashboard.data import clip
from tests.browser import browser_page, dashboard_server, sign_in

pytestmark = pytest.mark.browser

# what a hostile title would do if it became markup or markdown: open dialogs, load an image, link
HOSTILE = ("<script>alert('xss-1')</script><img src=x onerror=\"alert('xss-2')\">"
           "[点此](javascript:alert('xss-3'))**危化品泄漏**")


def test_sign_in_and_on_duty_page_in_chromium(sqlite_engine, sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    now = datetime.now(UTC)
    seed_demo(sqlite_engine, get_settings(), now)
    from ledger.cases.workflow import open_case
    from ledger.db import session_scope

    with session_scope(sqlite_engine) as s:  # recorded as typed: the title is stored unchanged
        open_case(s, title=HOSTILE, grade="重大", discovered_at=now - timedelta(hours=1), now=now, actor="值班",
                  env=load_case_env(get_settings()))
    with dashboard_server(sqlite_url) as base, browser_page() as page:
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
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
        # the hostile title is shown as the literal text it is, and none of it became markup
        page.get_by_text("xss-1").first.wait_for(timeout=30_000)
        # tables cut titles with an ellipsis (docs/LEDGER.md): the cut title, markup and all, is literal text
        shown = clip(HOSTILE)
        assert shown.endswith("…") and shown.startswith("<script>alert('xss-1')</script><img src=x onerror=")
        assert shown in table.inner_text()
        assert page.locator("script:has-text('xss')").count() == 0
        assert page.locator("img[src='x']").count() == 0 and page.locator("[onerror]").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        # markdown not interpreted: the whole title is shown once as literal text, asterisks included,
        # and nothing on the page turned **危化品泄漏** into bold
        assert page.get_by_text(HOSTILE, exact=True).count() >= 1
        bold = page.locator("strong").all_inner_texts()
        assert not any("危化品泄漏" in b and "**危化品泄漏**" not in b for b in bold)
        assert dialogs == []
