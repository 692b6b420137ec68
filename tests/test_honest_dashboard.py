"""Issue 19 through the dashboard (streamlit.testing.v1.AppTest on a real SQLite file): recorded
times are entered by the person and checked, a commitment can be updated to 已落实 (the page used
to read the clock twice), a prompt leadership report shows as on time, an unanswered overdue
message shows its running count of working days, statistics say under which grade a duty applied."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from config.caseconfig import load_case_env
from config.settings import get_settings
from ledger.cases import items as caseitems
from ledger.cases import workflow as cases
from ledger.db import session_scope
from ledger.models.cases import Briefing, Commitment
from tests import test_dashboard
from tests.test_dashboard import _principal, _render

demo_db = test_dashboard.demo_db  # the demo ledger fixture of the dashboard tests

SH = ZoneInfo("Asia/Shanghai")
LOCAL = re.compile(r"\d{1,2}月\d{1,2}日 \d{2}:\d{2}")


def _major_case(engine, *, discovered: datetime, reported: datetime | None = None) -> int:
    env = load_case_env(get_settings())
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        case = cases.open_case(s, title="危化品运输车侧翻", grade="重大", discovered_at=discovered, now=now,
                               actor="值班", env=env, responsible_unit="示例市应急管理局")
        if reported is not None:
            cases.report_to_leadership(s, case_id=case.id, reported_at=reported, now=now, actor="值班", env=env)
        return case.id


def _form_button(at, label: str):
    return next(b for b in at.button if b.label == label)


def _enter(at, key: str, when: datetime) -> None:
    local = when.astimezone(SH)
    at.date_input(key=f"{key}_day").set_value(local.date())
    at.time_input(key=f"{key}_time").set_value(local.time().replace(second=0, microsecond=0, tzinfo=None))


def test_commitment_is_updated_to_fulfilled_from_the_case_page(demo_db):
    now = datetime.now(UTC)
    case_id = _major_case(demo_db, discovered=now - timedelta(hours=2))
    env = load_case_env(get_settings())
    with session_scope(demo_db) as s:
        cid = caseitems.add_commitment(s, case_id=case_id, text="三日内完成道路清污", owner_unit="示例市应急管理局",
                                       due_date=(now + timedelta(days=3)).astimezone(SH).date(), now=now,
                                       actor="值班", env=env).id
    at = _render("cases", _principal(demo_db, "zhiban"))
    at.selectbox(key="case_pick").set_value(case_id).run()
    form = next(sb for sb in at.selectbox if sb.label == "状态")
    form.set_value("已落实")
    next(t for t in at.text_input if t.label == "佐证材料").input("现场照片及验收记录")
    _form_button(at, "更新").click().run()  # no time entered: refused, nothing changed
    assert any("请填写落实或公开日期和时间" in e.value for e in at.error)
    with session_scope(demo_db) as s:
        assert s.get(Commitment, cid).status == "未落实"
    done = datetime.now(UTC).replace(second=0, microsecond=0)  # entered to the minute
    next(sb for sb in at.selectbox if sb.label == "状态").set_value("已落实")
    next(t for t in at.text_input if t.label == "佐证材料").input("现场照片及验收记录")
    _enter(at, f"cmu_at_{case_id}", done)
    _form_button(at, "更新").click().run()
    assert not at.error, [e.value for e in at.error]  # used to fail: "时间 … 晚于当前时间 …"
    assert any("更新承诺成功" in m.value for m in at.success)
    with session_scope(demo_db) as s:
        c = s.get(Commitment, cid)
        assert c.status == "已落实" and c.fulfilled_at == done and c.evidence == "现场照片及验收记录"


def test_briefing_dated_before_discovery_is_refused_with_beijing_times(demo_db):
    now = datetime.now(UTC)
    discovered = now - timedelta(hours=3)
    case_id = _major_case(demo_db, discovered=discovered)
    at = _render("cases", _principal(demo_db, "zhiban"))
    at.selectbox(key="case_pick").set_value(case_id).run()
    next(t for t in at.text_input if t.label == "地点").input("市政府新闻发布厅")
    next(t for t in at.text_input if t.label == "发言人").input("王某")
    _form_button(at, "记录发布会").click().run()  # the time is never a silent default
    assert any("请填写发布会日期和时间" in e.value for e in at.error)
    _enter(at, f"brief_at_{case_id}__0", discovered - timedelta(hours=1))  # the form's first generation
    next(t for t in at.text_input if t.label == "地点").input("市政府新闻发布厅")
    next(t for t in at.text_input if t.label == "发言人").input("王某")
    _form_button(at, "记录发布会").click().run()
    # the message is markdown-escaped ("21\\:13" renders as "21:13"): read it as rendered
    errors = " ".join(e.value for e in at.error).replace("\\", "")
    assert "早于舆情发现时间" in errors and LOCAL.search(errors) and "+00:00" not in errors
    shown = discovered.astimezone(SH)
    assert f"{shown.month}月{shown.day}日 {shown:%H:%M}" in errors  # Beijing time, as people read it
    with session_scope(demo_db) as s:
        assert s.exec(select(Briefing).where(Briefing.case_id == case_id)).first() is None


def test_prompt_report_shows_on_time_on_the_case_page(demo_db):
    now = datetime.now(UTC)
    case_id = _major_case(demo_db, discovered=now - timedelta(minutes=10), reported=now - timedelta(minutes=5))
    at = _render("cases", _principal(demo_db, "lingdao"))
    at.selectbox(key="case_pick").set_value(case_id).run()
    table = at.dataframe[1].value  # the clocks of the case
    row = table[table["时钟"].str.startswith("第一时间向本级党委政府报告")].iloc[0]
    assert row["状态"] == "已完成" and row["是否按时"] == "按时" and row["适用等级"] == "重大"


def test_leadership_report_time_is_entered_on_the_case_page(demo_db):
    now = datetime.now(UTC)
    case_id = _major_case(demo_db, discovered=now - timedelta(minutes=20))
    at = _render("cases", _principal(demo_db, "zhiban"))
    at.selectbox(key="case_pick").set_value(case_id).run()
    at.button(key=f"rep_{case_id}").click().run()
    assert any("请填写报告日期和时间" in e.value for e in at.error)
    future = now + timedelta(hours=2)
    _enter(at, f"rep_at_{case_id}", future)
    at.button(key=f"rep_{case_id}").click().run()
    assert any("晚于当前时间" in e.value for e in at.error)
    reported = (now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    _enter(at, f"rep_at_{case_id}", reported)
    at.button(key=f"rep_{case_id}").click().run()
    from ledger.models.cases import Case

    with session_scope(demo_db) as s:
        assert s.get(Case, case_id).leadership_reported_at == reported


def test_unanswered_overdue_message_shows_working_days_overdue_so_far(demo_db):
    from ledger.models.core import Message, Source

    now = datetime.now(UTC)
    with session_scope(demo_db) as s:
        src = s.exec(select(Source)).scalars().first()
        s.add(Message(source_id=src.id, external_id="OLD-1", channel="12345", title="路灯三周不亮", text="无人处理",
                      unit="示例市住建局", received_at=now - timedelta(days=21), due_at=now - timedelta(days=14)))
    at = _render("messages", _principal(demo_db, "zhiban"))
    table = at.dataframe[0].value
    row = table[table["编号"] == "OLD-1"].iloc[0]
    assert row["状态"] == "已超期未答复"
    days = int(str(row["逾期工作日"]).removesuffix("（至今）"))
    assert str(row["逾期工作日"]).endswith("（至今）") and 5 <= days <= 12  # two calendar weeks of working days


def test_statistics_say_under_which_grade_a_missed_duty_applied(demo_db):
    now = datetime.now(UTC)
    env = load_case_env(get_settings())
    case_id = _major_case(demo_db, discovered=now - timedelta(hours=6))  # 3 h / 5 h / 1 h all passed
    with session_scope(demo_db) as s:
        cases.regrade_case(s, case_id=case_id, grade="一般", now=now, actor="值班", env=env, reason="研判后降级")
    at = _render("stats", _principal(demo_db, "lingdao"))
    frames = [d.value for d in at.dataframe if "适用等级" in d.value.columns]
    assert frames, "the on-time table names the grade each duty applied under"
    rates = frames[0]
    mine = rates[(rates["责任单位"] == "示例市应急管理局") & (rates["适用等级"] == "重大")]
    missed = mine[mine["时钟"].str.startswith("发布权威信息(最迟5小时)")].iloc[0]
    assert (missed["按时"], missed["总数"]) == (0, 1)  # still counted after the downgrade
    assert any("降级" in c.value for c in at.caption)
