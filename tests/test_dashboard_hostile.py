"""Issue #22.1: text from users and crawls is shown as text on every page, for every role.

Cases, releases, alerts (and who acknowledged them), posts, messages, events and source notes
carry hostile titles: a phishing link, an image that makes the browser fetch an address, an HTML
tag. Every page of every role is rendered with AppTest, and every element Streamlit renders as
Markdown (markdown, captions, headings, notices, metrics, st.table cells, tab and expander
labels) must hold no live link, image or tag; the unauthenticated 确认预警 page too. A real
Chromium then opens the 值班台 and the ack page: no <a> or <img> points at the address and the
browser sends it no request.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from ledger.db import session_scope
from tests.test_dashboard import _principal, _render, demo_db  # noqa: F401  (fixture)

EVIL = "127.0.0.1:9"
LINK = f"[统一身份认证 重新登录](http://{EVIL}/x)"
IMAGE = f"![x](http://{EVIL}/p.png)"
TAG = "<img src=x onerror=alert(1)>"
HOSTILE = f"{LINK} {IMAGE} {TAG}"
# live Markdown / HTML: link or image syntax or a tag that is not backslash-escaped ...
LIVE = re.compile(r"(?<!\\)\]\(|(?<!\\)!\[|(?<!\\)<img|(?<!\\)<a\b")
# ... or a bare address that GFM links once the escapes are resolved
AUTOLINK = re.compile(r"https?://" + re.escape(EVIL))


def _live(text: str) -> bool:
    return bool(LIVE.search(text) or AUTOLINK.search(re.sub(r"\\(.)", r"\1", text)))
SECRET = "hostile-test-secret-key-0123456789abcdef"


@pytest.fixture
def hostile_db(demo_db, monkeypatch):  # noqa: F811
    from config.caseconfig import load_case_env
    from config.settings import get_settings
    from ledger.alerts.escalation import acknowledge
    from ledger.cases.items import add_release
    from ledger.cases.workflow import open_case
    from ledger.models import Message, Post, Source
    from ledger.models.alerts import Alert
    from ledger.models.events import Event

    monkeypatch.setenv("YUQING_SECRET_KEY", SECRET)
    now = datetime.now(UTC)
    env = load_case_env(get_settings())
    with session_scope(demo_db) as s:
        case = open_case(s, title=f"案件 {HOSTILE}", grade="重大", discovered_at=now - timedelta(hours=1), now=now,
                         actor="t", env=env, responsible_unit="示例市生态环境局", summary=HOSTILE)
        add_release(s, case_id=case.id, kind=next(iter(env.policy.release_kinds)), title=f"发布 {HOSTILE}",
                    text=HOSTILE, now=now, actor="t", env=env)
        src = s.exec(select(Source)).scalars().first()
        event = Event(title=f"事件 {HOSTILE}", keywords=["x"], first_seen=now, last_seen=now, posts=1)
        s.add(event)
        s.flush()
        s.add(Post(source_id=src.id, external_id="hostile-1", title=f"帖文 {HOSTILE}", text=f"正文 {HOSTILE}",
                   url="javascript:alert(1)", fetched_at=now, published_at=now, sensitivity=0.99,
                   severity="重大", sentiment="negative", event_id=event.id))
        s.add(Message(source_id=src.id, external_id="hostile-m1", channel="12345", title=f"留言 {HOSTILE}",
                      text=HOSTILE, received_at=now, unit="示例市生态环境局"))
        src.last_warning = f"本次抓取发现 1 个问题：http://{EVIL}/x：{HOSTILE}"
        s.add(src)
        for n, title in enumerate((f"预警 {HOSTILE}", f"已确认的预警 {HOSTILE}")):
            s.add(Alert(group_key=f"hostile:{n}", trigger="clock_breached", grade="重大", title=title, summary=HOSTILE,
                        unit="示例市生态环境局", opened_at=now, updated_at=now))
        s.flush()
        acked = s.exec(select(Alert).where(Alert.group_key == "hostile:1")).scalars().one()
        acknowledge(s, alert_id=acked.id, by=f"张三 {LINK}", now=now, via="link")
    return demo_db


def _markdown_texts(at: AppTest) -> list[str]:
    """Everything the app sent that the browser renders as Markdown."""
    out: list[str] = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success",
                 "toast"):
        out += [str(e.value) for e in getattr(at, kind)]
    for m in at.metric:
        out += [str(m.label), str(m.value)]
    for t in at.table:
        df = t.value
        out += [str(v) for v in df.to_numpy().ravel()] + [str(c) for c in df.columns]
    out += [str(e.label) for e in at.expander] + [str(t.label) for t in at.tabs]
    return out


def _page_texts(page: str, principal) -> list[str]:
    texts = _markdown_texts(_render(page, principal))
    return texts


@pytest.mark.parametrize("username", ["zhiban", "danwei", "lingdao", "admin"])
def test_every_page_of_every_role_shows_hostile_titles_as_text(hostile_db, username):
    from dashboard.permissions import PAGES

    p = _principal(hostile_db, username)
    module = {"settings": "admin"}
    seen_hostile = 0
    for key in PAGES[p.role]:
        page = module.get(key, key)
        texts = _page_texts(page, p)
        if key == "cases":  # open the hostile case: header, metrics, releases
            texts += _case_page_texts(hostile_db, p)
        live = [t for t in texts if _live(t)]
        assert not live, (key, live[:3])
        seen_hostile += sum("统一身份认证" in t for t in texts)
    assert seen_hostile >= (3 if username != "danwei" else 2)  # the hostile items were on the pages


def _case_page_texts(engine, principal) -> list[str]:
    from ledger.models.cases import Case

    with session_scope(engine) as s:
        case_id = s.exec(select(Case.id).where(Case.title.like("案件 %"))).scalars().one()

    def script(cid, user):
        from dashboard.pages.cases import case_page

        case_page(user, cid)

    at = AppTest.from_function(script, args=(case_id, principal), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return _markdown_texts(at)


def _ack_token(engine, group: str, recipient: str | None = None) -> str:
    from ledger.alerts.escalation import make_ack_token
    from ledger.models.alerts import Alert

    with session_scope(engine) as s:
        alert_id = s.exec(select(Alert.id).where(Alert.group_key == group)).scalars().one()
    return make_ack_token(SECRET, alert_id, recipient)


@pytest.mark.parametrize("group", ["hostile:0", "hostile:1"])
def test_the_unauthenticated_ack_page_shows_hostile_titles_and_names_as_text(hostile_db, group):
    def script():
        from dashboard.pages.ack import render

        render()

    at = AppTest.from_function(script, default_timeout=90)
    # the open alert's link names a recipient (a roster person) with a hostile name: the page shows
    # it and records it on confirmation (docs/SECURITY.md: ack links name their recipient)
    at.query_params["token"] = _ack_token(hostile_db, group, f"李四 {LINK}" if group == "hostile:0" else None)
    at.run()
    assert not at.exception, at.exception
    plain = [str(t.value) for t in at.text]  # st.text: shown verbatim, never rendered as Markdown
    assert any("统一身份认证" in t and t.startswith(("预警 ", "已确认的预警 ")) for t in plain)  # the title
    if group == "hostile:0":
        assert f"确认人：李四 {LINK}" in plain
        at.button(key="ack_button").click().run()
        assert not at.exception, at.exception
    texts = _markdown_texts(at)
    assert any("统一身份认证" in t for t in texts)  # the name, in the confirmation notice
    assert not [t for t in texts if _live(t)]


def _no_live_markup(page) -> None:
    assert page.locator(f'a[href*="{EVIL}"]').count() == 0
    assert page.locator(f'img[src*="{EVIL}"]').count() == 0
    assert page.locator('img[src="x"]').count() == 0
    assert page.get_by_text("统一身份认证 重新登录").count() >= 1  # shown, as text


@pytest.mark.browser
def test_browser_gets_no_link_or_image_to_the_hostile_address(hostile_db, sqlite_url):
    from config.demo_seed import DEMO_PASSWORD
    from tests.browser import browser_page, dashboard_server, sign_in

    requests: list[str] = []
    with dashboard_server(sqlite_url, extra_env={"YUQING_SECRET_KEY": SECRET}) as base, browser_page() as page:
        page.on("request", lambda r: requests.append(r.url))
        sign_in(page, base, "zhiban", DEMO_PASSWORD)
        page.get_by_role("heading", name="值班台").wait_for(timeout=60_000)
        page.get_by_text("统一身份认证").first.wait_for(timeout=60_000)
        page.get_by_text("未确认的预警").first.wait_for(timeout=60_000)  # the alert list too
        page.get_by_text("预警 [统一身份认证").first.wait_for(timeout=60_000)
        _no_live_markup(page)
        page.goto(f"{base}/ack?token={_ack_token(hostile_db, 'hostile:1')}")
        page.get_by_text("统一身份认证").first.wait_for(timeout=60_000)
        page.get_by_text("张三").first.wait_for(timeout=60_000)
        _no_live_markup(page)
    assert not [u for u in requests if EVIL in u]
