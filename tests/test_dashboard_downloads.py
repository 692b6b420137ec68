"""Issue #22.2: no table download writes a formula. The built-in CSV download of Streamlit's
tables is switched off; roles with the export right get a download whose formula-leading cells
are neutralised, and every download is in the audit log. Chromium clicks the real button."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dashboard.safe import csv_bytes
from ledger.db import session_scope
from tests.test_dashboard import _principal, _render, demo_db  # noqa: F401  (fixture)

FORMULAS = ['=HYPERLINK("http://127.0.0.1:9/x","点击查看")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0"]


@pytest.fixture
def formula_db(demo_db):  # noqa: F811
    from ledger.models import Post, Source

    now = datetime.now(UTC)
    with session_scope(demo_db) as s:
        src = s.exec(select(Source)).scalars().first()
        for n, text in enumerate(FORMULAS):
            s.add(Post(source_id=src.id, external_id=f"formula-{n}", title=text, text=text, fetched_at=now,
                       published_at=now))
    return demo_db


def test_csv_cells_that_would_start_a_formula_are_text():
    import pandas as pd

    rows = list(csv.reader(io.StringIO(csv_bytes(pd.DataFrame({"标题": [*FORMULAS, "正常标题", 3]})).decode("utf-8-sig"))))
    assert rows[0] == ["标题"]
    assert [r[0] for r in rows[1:]] == ["'" + f for f in FORMULAS] + ["正常标题", "3"]


def test_download_only_for_roles_with_the_export_right(formula_db):
    duty, unit = _principal(formula_db, "zhiban"), _principal(formula_db, "danwei")
    assert [b.label for b in _render("cases", duty).get("download_button")] == ["下载案件列表 (CSV)"]
    assert [b.label for b in _render("posts", duty).get("download_button")] == ["下载帖文 (CSV)"]
    assert list(_render("cases", unit).get("download_button")) == []  # 责任单位: no export right


@pytest.mark.browser
def test_browser_download_is_neutralised_audited_and_the_builtin_one_is_gone(formula_db, sqlite_url, tmp_path):
    from config.demo_seed import DEMO_PASSWORD
    from ledger.models import AuditLog
    from tests.browser import browser_page, dashboard_server, sign_in

    with dashboard_server(sqlite_url) as base, browser_page() as page:
        sign_in(page, base, "zhiban", DEMO_PASSWORD)
        page.get_by_role("heading", name="值班台").wait_for(timeout=60_000)
        page.get_by_role("link", name="最新帖文").click()  # the sidebar (a new URL would be a new session)
        page.get_by_role("heading", name="最新帖文").wait_for(timeout=60_000)
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.wait_for(timeout=60_000)
        grid.hover()
        page.get_by_label("Search").first.wait_for(timeout=30_000)  # the table toolbar is shown ...
        assert page.get_by_label("Download as CSV").count() == 0  # ... without its CSV download
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="下载帖文 (CSV)").click()
        path = tmp_path / "posts.csv"
        info.value.save_as(path)
        page.wait_for_timeout(1500)  # the click's callback runs on the server after the download
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    titles = {r["标题"] for r in rows}
    assert {"'" + f for f in FORMULAS} <= titles
    assert not [v for r in rows for v in r.values() if v and v[0] in "=+-@"]
    with session_scope(formula_db) as s:
        audited = s.exec(select(AuditLog).where(AuditLog.action == "export.csv")).scalars().all()
        assert [(a.actor, a.entity) for a in audited] == [("zhiban", "post")]
