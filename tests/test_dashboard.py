"""Dashboard pages for every role through streamlit.testing.v1.AppTest, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from streamlit.testing.v1 import AppTest

from config.demo_seed import DEMO_PASSWORD, seed_demo
from config.settings import get_settings
from ledger.db import session_scope
from ledger.users import principal_of

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def demo_db(sqlite_engine, sqlite_url, monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    now = datetime.now(UTC)
    seed_demo(sqlite_engine, get_settings(), now)
    from config.caseconfig import load_case_env
    from ledger.cases.workflow import open_case

    env = load_case_env(get_settings())
    with session_scope(sqlite_engine) as s:  # a case of another unit that the unit user must not see
        open_case(s, title="另一单位的案件", grade="较大", discovered_at=now - timedelta(hours=1), now=now,
                  actor="t", env=env, responsible_unit="示例市教体局")
    return sqlite_engine


def _principal(engine, username):
    from sqlalchemy import select

    from ledger.models.users import User

    with session_scope(engine) as s:
        return principal_of(s.exec(select(User).where(User.username == username)).scalars().one())


def _login(username: str, password: str = DEMO_PASSWORD) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.text_input(key="login_user").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click()
    at.run()
    return at


def test_sign_in_page_then_on_duty_page(demo_db):
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert "登录" in at.title[0].value
    at = _login("zhiban")
    assert not at.exception
    assert at.title[0].value == "值班台"
    clocks = at.table[0].value
    assert "滨江区化工园区企业爆炸事故舆情" in set(clocks["标题"])
    assert any(str(v).startswith(("剩", "超时")) for v in clocks["倒计时"])
    assert "另一单位的案件" in set(clocks["标题"])  # on-duty staff see every unit
    assert [m.value for m in at.metric][:2] == ["张值班", "刘带班"]


def test_wrong_password_unknown_user_and_lockout_get_one_answer(demo_db, monkeypatch):
    from ledger.users import REFUSED

    monkeypatch.setenv("YUQING_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("YUQING_LOGIN_ADDRESS_MAX_FAILURES", "20")
    answers = [_login("nobody-here", "wrong-password")]  # unknown user
    for _ in range(3):
        answers.append(_login("zhiban", "wrong-password"))  # the third locks the account
    answers.append(_login("zhiban"))  # right password, but locked
    errors = [[e.value for e in at.error] for at in answers]
    assert errors == [[REFUSED]] * 5  # nothing tells a locked or existing account apart
    assert "登录" in answers[-1].title[0].value
    from sqlalchemy import select

    from ledger.models import AuditLog

    with session_scope(demo_db) as s:
        actions = [a.action for a in s.exec(select(AuditLog).where(AuditLog.actor == "zhiban")).scalars()]
    assert actions.count("auth.fail") == 3 and "auth.locked" in actions


def test_session_expires(demo_db, monkeypatch):
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["auth"] = {"principal": _principal(demo_db, "lingdao"), "last_seen": datetime.now(UTC)}
    at.run()
    assert at.title[0].value == "值班台"
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["auth"] = {"principal": _principal(demo_db, "lingdao"),
                                "last_seen": datetime.now(UTC) - timedelta(minutes=31)}
    at.run()
    assert "登录" in at.title[0].value
    assert any("过期" in w.value for w in at.warning)


def _render(page: str, principal) -> AppTest:
    def script(page_name, user):
        import importlib

        importlib.import_module(f"dashboard.pages.{page_name}").render(user)

    at = AppTest.from_function(script, args=(page, principal), default_timeout=90)
    at.session_state["auth"] = {"principal": principal, "last_seen": datetime.now(UTC), "issued": None}
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("username", ["zhiban", "danwei", "lingdao", "admin"])
def test_every_page_of_every_role_renders(demo_db, username):
    from dashboard.permissions import PAGES

    p = _principal(demo_db, username)
    module = {"settings": "admin"}
    for key in PAGES[p.role]:
        if key in ("events", "export"):
            continue  # covered in their own tests
        at = _render(module.get(key, key), p)
        assert at.title, key


def test_unit_user_sees_only_own_cases_and_messages(demo_db):
    unit = _principal(demo_db, "danwei")
    at = _render("cases", unit)
    titles = set(at.dataframe[0].value["标题"])
    assert titles == {"清河镇河道黑臭死鱼"}
    options = at.selectbox(key="case_pick").options
    assert len(options) == 1 and "清河镇" in options[0]
    at = _render("messages", unit)
    assert set(at.dataframe[0].value["主题"]) == {"幸福里小区烧烤油烟扰民"}
    # the on-duty view of everything is not reachable for the unit role
    from dashboard.permissions import PAGES, may

    assert "onduty" not in PAGES["责任单位"] and not may("责任单位", "settings")


def test_unit_user_cannot_open_another_units_case_page(demo_db):
    from sqlalchemy import select

    from ledger.models.cases import Case
    from ledger.reports.dashboard import can_see_case

    unit = _principal(demo_db, "danwei")
    with session_scope(demo_db) as s:
        other = s.exec(select(Case).where(Case.title == "另一单位的案件")).scalars().one()
        own = s.exec(select(Case).where(Case.title == "清河镇河道黑臭死鱼")).scalars().one()
        assert not can_see_case(other, unit.unit) and can_see_case(own, unit.unit)


def test_a_co_operating_unit_sees_the_case_in_its_lists(demo_db):
    """A unit named among a case's co-operating units (协办) finds it in its lists, like on its page;
    a unit merely sharing part of the name does not."""
    from sqlalchemy import select

    from config.caseconfig import load_case_env
    from ledger.cases import workflow as cases
    from ledger.cases.views import list_cases
    from ledger.models.cases import Case
    from ledger.reports.dashboard import can_see_case, open_cases_with_clocks

    unit = _principal(demo_db, "danwei").unit
    now = datetime.now(UTC)
    env = load_case_env(get_settings())
    with session_scope(demo_db) as s:
        joint = cases.open_case(s, title="联合处置的案件", grade="一般", discovered_at=now, now=now, actor="值班",
                                env=env, responsible_unit="示例市卫健委")
        cases.update_case(s, case_id=joint.id, now=now, actor="值班", env=env,
                          changes={"co_units": ["示例市公安局", unit]})
        near = cases.open_case(s, title="名称相近单位的案件", grade="一般", discovered_at=now, now=now, actor="值班",
                               env=env, responsible_unit="示例市卫健委")
        cases.update_case(s, case_id=near.id, now=now, actor="值班", env=env, changes={"co_units": [unit + "分局"]})
    with session_scope(demo_db) as s:
        listed = {c.title for c in list_cases(s, unit=unit)}
        on_duty = {c.title for c, _clocks in open_cases_with_clocks(s, unit=unit)}
        joint_case = s.exec(select(Case).where(Case.title == "联合处置的案件")).scalars().one()
    assert "联合处置的案件" in listed and "联合处置的案件" in on_duty and can_see_case(joint_case, unit)
    assert "名称相近单位的案件" not in listed and "名称相近单位的案件" not in on_duty
    assert "另一单位的案件" not in listed


def _message_id(engine, external_id: str) -> int:
    from sqlalchemy import select

    from ledger.models import Message

    with session_scope(engine) as s:
        return s.exec(select(Message.id).where(Message.external_id == external_id)).scalars().one()


def test_personal_numbers_masked_unless_role_allows(demo_db):
    mid = _message_id(demo_db, "H-0001")
    at = _render("messages", _principal(demo_db, "zhiban"))
    at.selectbox(key="msg_pick").set_value(mid).run()
    texts = " ".join(t.value for t in at.text)
    assert "13700001111" not in texts and "137****1111" in texts
    at = _render("messages", _principal(demo_db, "admin"))
    at.selectbox(key="msg_pick").set_value(mid).run()
    assert "13700001111" in " ".join(t.value for t in at.text)


def test_reply_to_message_from_the_page(demo_db):
    from sqlalchemy import select

    from ledger.models import AuditLog, Message

    unit = _principal(demo_db, "danwei")
    at = _render("messages", unit)
    mid = _message_id(demo_db, "H-0001")
    at.selectbox(key="msg_pick").set_value(mid).run()
    at.text_area[0].input("已约谈经营者，限期整改。")
    at.button[0].click().run()  # no reply time entered: refused, nothing stored
    assert any("请填写答复日期和时间" in e.value for e in at.error)
    with session_scope(demo_db) as s:
        assert s.exec(select(Message).where(Message.external_id == "H-0001")).scalars().one().replied_at is None
    replied = (datetime.now(UTC) - timedelta(minutes=30)).astimezone(SH).replace(second=0, microsecond=0)
    at.text_area[0].input("已约谈经营者，限期整改。")
    at.date_input(key=f"reply_at_{mid}_day").set_value(replied.date())
    at.time_input(key=f"reply_at_{mid}_time").set_value(replied.time().replace(tzinfo=None))
    at.button[0].click().run()
    assert not at.error, [e.value for e in at.error]
    with session_scope(demo_db) as s:
        msg = s.exec(select(Message).where(Message.external_id == "H-0001")).scalars().one()
        assert msg.replied_at == replied and msg.reply_text.startswith("已约谈")
        entry = s.exec(select(AuditLog).where(AuditLog.action == "message.reply")).scalars().one()
        assert entry.actor == "danwei"


def test_regrade_from_case_page_is_audited_under_the_user(demo_db):
    from sqlalchemy import select

    from ledger.models import AuditLog
    from ledger.models.cases import Case

    leader = _principal(demo_db, "lingdao")
    at = _render("cases", leader)
    with session_scope(demo_db) as s:
        case_id = s.exec(select(Case.id).where(Case.title == "清河镇河道黑臭死鱼")).scalars().one()
    at.selectbox(key="case_pick").set_value(case_id).run()
    at.selectbox(key=f"gr_{case_id}").set_value("重大").run()
    at.button(key=f"gr_go_{case_id}").click().run()
    with session_scope(demo_db) as s:
        case = s.get(Case, case_id)
        assert case.grade == "重大"
        entry = s.exec(select(AuditLog).where(AuditLog.action == "case.regrade")).scalars().one()
        assert entry.actor == "lingdao"


def test_settings_page_is_admin_only(demo_db):
    duty = _principal(demo_db, "zhiban")
    at = _render("admin", duty)
    assert any("仅管理员" in e.value for e in at.error)


def test_markdown_escaping():
    from dashboard.safe import escape_md

    out = escape_md("<script>alert(1)</script> **粗体** [链接](javascript:alert(1))")
    assert "<script>" not in out and "\\<script" in out and "\\*\\*" in out and "\\[" in out


def test_events_page_and_open_case_from_event(demo_db, sqlite_url):
    from sqlalchemy import func, select

    from config.wiring import build_assessor
    from crawlers.demo import load_demo_posts
    from ledger.models.cases import Case
    from ledger.posts.intake import RawPost, store_posts
    from ledger.posts.sources import add_source

    now = datetime.now(UTC)
    with session_scope(demo_db) as s:
        sid = add_source(s, name="演示", kind="rss", url="http://127.0.0.1/x", actor="t", now=now).id
        items = [RawPost(external_id=str(i), title=p["title"], text=p["text"], published_at=now - timedelta(minutes=i))
                 for i, p in enumerate(load_demo_posts())]
        store_posts(s, source_id=sid, items=items, assessor=build_assessor(get_settings()), now=now)
    duty = _principal(demo_db, "zhiban")
    at = _render("events", duty)
    events = at.dataframe[0].value
    assert len(events) > 0 and (events["热度"].diff().dropna() <= 1e-9).all()  # hottest first
    with session_scope(demo_db) as s:
        before = s.exec(select(func.count()).select_from(Case)).one()[0]
    unit_key = f"ev_case_unit_{at.selectbox(key='ev_pick').value}"
    suggested = at.selectbox(key=unit_key).value  # the unit jurisdiction suggests, preselected
    assert suggested and suggested in at.selectbox(key=unit_key).options
    at.button[0].click().run()  # the 立案 form of the selected event
    assert not at.error, [e.value for e in at.error]
    with session_scope(demo_db) as s:
        assert s.exec(select(func.count()).select_from(Case)).one()[0] == before + 1
        case = s.exec(select(Case).order_by(Case.id.desc())).scalars().first()
        assert case.event_id is not None and case.created_by == "zhiban"
        assert case.responsible_unit == suggested
    # the event now links to its case instead of offering a second one (a double click opens nothing more)
    assert any("该事件已立案 1 件" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "立案"]
    assert any(f"已立案：{case.number}" in m.value for m in at.success)
    # another event: the form holds that event's own suggestions, never the first event's unit
    with session_scope(demo_db) as s:
        from ledger.posts.event_views import top_events
        from ledger.reports.dashboard import event_case_facts

        other = next(e["id"] for e in top_events(s, limit=20, now=datetime.now(UTC)) if e["id"] != case.event_id)
        expected = event_case_facts(s, event_id=other).get("responsible_unit")
    at.session_state["ev_pick"] = other
    at.run()
    assert at.selectbox(key=f"ev_case_unit_{other}").value == expected
    # back to the first event: an explicit override opens a second case
    at.session_state["ev_pick"] = case.event_id
    at.run()
    at.checkbox(key=f"ev_another_{case.event_id}").check().run()
    next(b for b in at.button if b.label == "立案").click().run()
    with session_scope(demo_db) as s:
        assert s.exec(select(func.count()).select_from(Case).where(Case.event_id == case.event_id)).one()[0] == 2


def test_export_page_generates_downloads(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    leader = _principal(demo_db, "lingdao")
    at = _render("export", leader)
    shown = at.selectbox(key="export_week").options[0]  # the week with its dates
    label = shown.split(" · ")[0]
    assert shown.startswith(label + " · ") and "月" in shown and "–" in shown
    at.selectbox(key="export_week").set_value(label).run()
    assert at.button(key="export_go").label == "生成" and not at.info  # nothing generated yet
    at.button(key="export_go").click().run()
    assert not at.error, [e.value for e in at.error]
    files = sorted(p.name for p in (tmp_path / "exports" / label).iterdir())
    assert files == [f"台账_{label}.xlsx", f"周报_{label}.docx"]
    # the next visit offers the files already generated (as the Monday job leaves them) at once
    again = _render("export", leader)
    again.selectbox(key="export_week").set_value(label).run()
    assert any(label in i.value and "可直接下载" in i.value for i in again.info), [i.value for i in again.info]
    assert again.button(key="export_go").label == "重新生成"


def test_admin_tests_a_source_without_storing(demo_db):
    from sqlalchemy import func, select

    from ledger.models import Post
    from ledger.posts.sources import add_source
    from tests.feedsrv import FeedServer
    from tests.test_feed_crawl import RSS

    with FeedServer() as srv:
        srv.set("/rss", RSS.encode())
        with session_scope(demo_db) as s:
            sid = add_source(s, name="测试源", kind="rss", url=srv.base + "/rss", actor="t",
                             now=datetime.now(UTC)).id
        at = _render("admin", _principal(demo_db, "admin"))
        at.selectbox(key="src_test_pick").set_value(sid).run()
        at.button(key="src_test").click().run()
    assert any("共 2 条" in s.value for s in at.success), [e.value for e in at.error]
    with session_scope(demo_db) as s:
        assert s.exec(select(func.count()).select_from(Post)).one()[0] == 0


def test_sources_tab_shows_what_the_last_crawl_skipped(demo_db):
    from sqlalchemy import select

    from ledger.models import Source
    from ledger.posts.sources import record_success

    now = datetime.now(UTC)
    warning = "本次抓取发现 2 个问题（其中详情页请求失败 1 个）：http://example.org/a.html：HTTP 404；http://example.org/b.html：空页面 (empty page)"
    with session_scope(demo_db) as s:
        first, *others = s.exec(select(Source).order_by(Source.id)).scalars().all()
        record_success(s, source=first, items=3, now=now, warning=warning)
        for src in others:
            record_success(s, source=src, items=1, now=now)
    at = _render("admin", _principal(demo_db, "admin"))
    table = at.dataframe[0].value
    shown = dict(zip(table["id"], table["上次抓取的问题"], strict=True))
    assert shown[first.id] == warning
    assert all(shown[src.id] == "" for src in others)


def test_case_form_picks_the_unit_from_the_configured_and_used_units(demo_db):
    from sqlalchemy import select

    from config.caseconfig import load_case_env
    from ledger.cases.workflow import open_case
    from ledger.models.cases import Case

    with session_scope(demo_db) as s:  # a unit the configuration does not name, already used
        open_case(s, title="旧案", grade="一般", discovered_at=datetime.now(UTC) - timedelta(days=2),
                  now=datetime.now(UTC), actor="t", env=load_case_env(get_settings()),
                  responsible_unit="示例市城管执法局直属大队")
    duty = _principal(demo_db, "zhiban")
    at = _render("cases", duty)
    picker = at.selectbox(key="oc_unit")
    assert picker.value is None  # nothing chosen for the duty officer
    options = picker.options
    # the gazetteer's governments and lead departments, as jurisdiction names them …
    assert options[0] == "示例市人民政府"
    assert {"示例市青山区人民政府", "示例市云溪县人社局", "示例市生态环境局河西分局"} <= set(options)
    # … then the units already in the ledger that the configuration does not name
    assert options.index("示例市城管执法局直属大队") > options.index("示例市云溪县人社局")
    assert "示例市城管执法局直属大队" in options and len(options) == len(set(options))
    next(t for t in at.text_input if t.label == "标题").input("路灯长期不亮")
    picker.set_value("示例市青山区住建局")
    next(b for b in at.button if b.label == "立案").click().run()
    assert not at.error, [e.value for e in at.error]
    with session_scope(demo_db) as s:
        case = s.exec(select(Case).where(Case.title == "路灯长期不亮")).scalars().one()
        assert case.responsible_unit == "示例市青山区住建局"


def test_duty_page_says_which_sources_leave_a_blind_spot(demo_db):
    from sqlalchemy import select

    from ledger.models import Source
    from ledger.posts.sources import add_source, record_failure, record_success

    duty = _principal(demo_db, "zhiban")
    now = datetime.now(UTC)
    with session_scope(demo_db) as s:
        for src in s.exec(select(Source)).scalars().all():
            record_success(s, source=src, items=1, now=now)
    at = _render("onduty", duty)
    assert not at.warning and any("均正常" in c.value for c in at.caption), [c.value for c in at.caption]
    with session_scope(demo_db) as s:
        down = add_source(s, name="县论坛", kind="rss", url="http://127.0.0.1:9/x", actor="t", now=now)
        for _ in range(3):
            record_failure(s, source=down, error="HTTP 503", now=now, down_after=3)
        partial = add_source(s, name="网上问政", kind="rss", url="http://127.0.0.1:9/y", actor="t", now=now)
        record_success(s, source=partial, items=3, now=now, warning="本次抓取发现 2 个问题：…")
        off = add_source(s, name="已停用来源", kind="rss", url="http://127.0.0.1:9/z", actor="t", now=now)
        off.enabled = False
        for _ in range(3):
            record_failure(s, source=off, error="HTTP 404", now=now, down_after=3)
    at = _render("onduty", duty)
    (warning,) = [w.value for w in at.warning]
    assert "中断 1 个（县论坛）" in warning and "部分页面未能采集 1 个（网上问政）" in warning
    assert "已停用来源" not in warning and "最近抓取失败" not in warning
