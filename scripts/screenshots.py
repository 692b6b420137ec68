"""Take the README screenshots of the main dashboard pages with headless Debian chromium.

Usage: .venv/bin/python scripts/screenshots.py [OUT_DIR]   (default docs/screenshots)
Builds a demo database in a temporary folder with the demo day (``config.demo_day``: about 300
posts of the last 24 hours, events, cases at several stages, alerts), starts the dashboard and
signs in as the administrator.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    import os

    from analysis.assess import Assessor  # noqa: F401
    from config.demo_seed import DEMO_PASSWORD, seed_demo
    from config.settings import get_settings
    from config.wiring import build_assessor
    from crawlers.demo import load_demo_posts
    from ledger.db import make_engine, session_scope
    from ledger.migrate import upgrade
    from ledger.posts.intake import RawPost, store_posts
    from ledger.posts.sources import add_source
    from tests.browser import browser_page, dashboard_server, sign_in

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/shots.db"
        os.environ["YUQING_DATABASE_URL"] = url
        upgrade(url)
        engine = make_engine(url)
        now = datetime.now(UTC)
        cfg = get_settings()
        with session_scope(engine) as s:
            sid = add_source(s, name="示例市网络问政平台（演示）", kind="rss", url="http://127.0.0.1/feed.xml",
                             actor="demo", now=now).id
            items = [RawPost(external_id=f"demo-{i}", title=p["title"], text=p["text"], author=p.get("author"),
                             published_at=now) for i, p in enumerate(load_demo_posts())]
            store_posts(s, source_id=sid, items=items, assessor=build_assessor(cfg), now=now)
        seed_demo(engine, cfg, now)
        from config.demo_day import seed_day

        seed_day(engine, cfg, now)
        with dashboard_server(url) as base, browser_page() as page:
            page.goto(base + "/")
            page.get_by_role("button", name="登录").wait_for(timeout=60_000)
            page.screenshot(path=str(out / "login.png"))
            sign_in(page, base, "admin", DEMO_PASSWORD)
            page.get_by_role("heading", name="值班台").wait_for(timeout=60_000)
            page.locator("table").first.wait_for(timeout=120_000)
            page.wait_for_timeout(2500)
            page.screenshot(path=str(out / "onduty.png"), full_page=True)
            for key, heading in (("events", "事件"), ("cases", "台账"), ("messages", "留言办理"), ("stats", "统计")):
                page.locator(f'[data-testid="stSidebarNav"] a[href$="/{key}"]').first.click()
                page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
                page.locator('[data-testid="stDataFrame"], [data-testid="stArrowVegaLiteChart"]').first.wait_for(
                    timeout=120_000)
                # wait until the page has finished running (no "Running..." status widget)
                page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=120_000)
                page.wait_for_timeout(3000)
                page.screenshot(path=str(out / f"{key}.png"), full_page=True)
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main()
