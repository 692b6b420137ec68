"""The seeds' remaining workflows in the dashboard (streamlit AppTest on a real SQLite file with
the demo data): the 政策解读 page, 登记留言 and marking / assigning a message, revising a release
after 驳回 with the rejection shown, the privacy reason at 保密审查."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from config.caseconfig import load_case_env
from config.settings import get_settings
from ledger.db import session_scope
from ledger.models import AuditLog, Message
from ledger.models.cases import Release
from ledger.models.policies import PolicyDoc
from tests.test_dashboard import _principal, _render, demo_db

FIXTURES = (demo_db,)  # the demo database of the dashboard tests, used as a fixture here


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_policy_page_registers_a_document_and_its_interpretation(demo_db):
    at = _render("policies", _principal(demo_db, "zhiban"))
    assert at.title[0].value == "政策解读"
    assert any("没有政策文件" in i.value for i in at.info)
    at.text_input[0].input("关于促进消费的若干措施")
    at.selectbox(key="pol_unit").set_value("示例市生态环境局")
    at.date_input(key="pol_day").set_value(datetime(2025, 9, 26).date())
    at.time_input(key="pol_time").set_value(datetime(2025, 9, 26, 10, 0).time())
    _button(at, "登记").click().run()
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert list(table["文件标题"]) == ["关于促进消费的若干措施"]
    assert list(table["解读期限"]) == ["2025-09-30 23:59"] and list(table["时限状态"]) == ["已超限"]
    assert [m.value for m in at.metric] == ["1", "1", "1"]
    pid = at.selectbox(key="pol_pick").value
    at.text_input(key=f"int_title_{pid}").input("一图读懂消费措施")
    at.selectbox(key=f"int_form_{pid}").set_value("图解")
    _button(at, "登记解读").click().run()
    assert not at.error, [e.value for e in at.error]
    with session_scope(demo_db) as s:
        doc = s.exec(select(PolicyDoc)).scalars().one()
        assert doc.status == "已解读" and doc.unit == "示例市生态环境局" and doc.created_by == "zhiban"
        from ledger.models.policies import PolicyInterpretation

        item = s.exec(select(PolicyInterpretation)).scalars().one()
        assert item.form == "图解" and item.title == "一图读懂消费措施"


def test_unit_user_sees_only_its_own_policies(demo_db):
    from config.policyconfig import load_policy_env
    from ledger.policies import add_policy

    now = datetime.now(UTC)
    env = load_policy_env(get_settings())
    with session_scope(demo_db) as s:
        add_policy(s, title="本单位文件", unit="示例市生态环境局", published_at=now - timedelta(hours=2), now=now,
                   actor="t", env=env)
        add_policy(s, title="他单位文件", unit="示例市教体局", published_at=now - timedelta(hours=2), now=now,
                   actor="t", env=env)
    at = _render("policies", _principal(demo_db, "danwei"))
    assert list(at.dataframe[0].value["文件标题"]) == ["本单位文件"]


def test_message_entered_on_the_page_with_its_channel_and_simple_flag(demo_db):
    at = _render("messages", _principal(demo_db, "zhiban"))
    at.selectbox(key="msg_add_channel").set_value("政府信息公开咨询电话")
    at.text_input(key="msg_add_title").input("如何申请政府信息公开")
    at.text_area(key="msg_add_text").input("请问依申请公开如何提交, 我的电话13812345678")
    at.date_input(key="msg_add_day").set_value(datetime(2024, 2, 8).date())
    at.time_input(key="msg_add_time").set_value(datetime(2024, 2, 8, 16, 0).time())
    at.checkbox(key="msg_add_simple").check()
    _button(at, "登记").click().run()
    assert not at.error, [e.value for e in at.error]
    with session_scope(demo_db) as s:
        m = s.exec(select(Message).where(Message.channel == "政府信息公开咨询电话")).scalars().one()
        assert m.simple is True and m.due_at == datetime(2024, 2, 19, 15, 59, 59, tzinfo=UTC)
        mid = m.id
    # mark it not simple and assign a unit afterwards; both audited
    at = _render("messages", _principal(demo_db, "zhiban"))
    at.selectbox(key="msg_pick").set_value(mid).run()
    at.checkbox(key=f"msg_simple_{mid}").uncheck()
    _button(at, "保存标记").click().run()
    assert not at.error, [e.value for e in at.error]
    at.selectbox(key=f"msg_unit_{mid}").set_value("示例市教体局")
    _button(at, "指定单位").click().run()
    assert not at.error, [e.value for e in at.error]
    with session_scope(demo_db) as s:
        m = s.get(Message, mid)
        assert m.simple is False and m.unit == "示例市教体局"
        actions = s.exec(select(AuditLog.action).where(AuditLog.entity == "message", AuditLog.entity_id == str(mid))
                         .order_by(AuditLog.id)).scalars().all()
        assert actions == ["message.add", "message.simple", "message.assign"]


def _case_with_release(engine, text: str) -> tuple[int, int]:
    from ledger.cases import items, workflow

    now = datetime.now(UTC) - timedelta(minutes=5)  # drafted a while ago: a review may follow at any minute since
    env = load_case_env(get_settings())
    with session_scope(engine) as s:
        case = workflow.open_case(s, title="停水通报", grade="较大", discovered_at=now - timedelta(hours=2), now=now,
                                  actor="t", env=env, responsible_unit="示例市生态环境局")
        rel = items.add_release(s, case_id=case.id, kind="权威信息", title="停水情况通报", text=text, now=now,
                                actor="danwei", env=env)
        return case.id, rel.id


def _enter_now(at, key: str) -> None:
    """Fill in the (required) date and time of an act on the page: the current Beijing minute."""
    from zoneinfo import ZoneInfo

    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    at.date_input(key=f"{key}_day").set_value(local.date())
    at.time_input(key=f"{key}_time").set_value(local.time().replace(second=0, microsecond=0, tzinfo=None))


def _case_page(engine, username: str, case_id: int):
    def script(user, cid):
        from dashboard.pages.cases import case_page

        case_page(user, cid)

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(script, args=(_principal(engine, username), case_id), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def test_rejected_release_shows_the_comment_and_is_revised_for_review_again(demo_db):
    case_id, rid = _case_with_release(demo_db, "初稿正文")
    at = _case_page(demo_db, "lingdao", case_id)
    at.text_input(key=f"rv_c_{rid}").input("数据未核实")
    _enter_now(at, f"rv_at_{rid}")  # a review needs its time entered
    _button(at, "驳回").click().run()
    assert not at.error, [e.value for e in at.error]
    at = _case_page(demo_db, "danwei", case_id)  # the drafter's unit
    assert any("初审驳回" in w.value and "数据未核实" in w.value for w in at.warning)
    at.text_area(key=f"rev_text_{rid}").input("经第三方检测, 水质达标")
    _button(at, "修改并重新送审").click().run()
    assert not at.error, [e.value for e in at.error]
    with session_scope(demo_db) as s:
        rel = s.get(Release, rid)
        assert rel.revision == 2 and rel.status == "待审" and rel.text == "经第三方检测, 水质达标"


def test_privacy_review_on_the_page_needs_a_reason_for_a_phone_number(demo_db):
    from ledger.cases import items

    case_id, rid = _case_with_release(demo_db, "咨询电话13912345678")
    env = load_case_env(get_settings())
    now = datetime.now(UTC)
    with session_scope(demo_db) as s:
        for step, who in (("初审", "甲"), ("复审", "乙"), ("终审", "王主任")):
            items.review_release(s, release_id=rid, step=step, reviewer=who, decision="通过",
                                 reviewed_at=now - timedelta(minutes=2),
                                 now=now, actor="t", env=env)
    at = _case_page(demo_db, "admin", case_id)
    at.selectbox(key=f"rv_step_{rid}").set_value("保密审查")
    _enter_now(at, f"rv_at_{rid}")
    _button(at, "通过").click().run()
    assert any("手机号码" in e.value for e in at.error)
    at.text_input(key=f"rv_pii_{rid}").input("公开的服务热线")
    _button(at, "通过").click().run()
    assert not at.error, [e.value for e in at.error]
    with session_scope(demo_db) as s:
        assert s.get(Release, rid).status == "待发布"
