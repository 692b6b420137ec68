"""Issue 19 on both databases (the queries changed): the weekly export's carry-over of messages
and commitments, the statistics' grade of each duty after a downgrade, and the recorded-time
check shared by every recording service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from config.caseconfig import load_case_env
from config.clockconfig import load_calendar
from config.settings import get_settings
from ledger.acttime import check_act_time, local_text
from ledger.cases import items as caseitems
from ledger.cases import workflow as cases
from ledger.db import session_scope
from ledger.models.core import Message, Source
from ledger.reports import dashboard as dq
from ledger.reports.weekly import collect_week, parse_week

H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    return load_case_env(get_settings())


def test_week_carries_over_what_was_open_in_it(any_engine, env):
    week = parse_week("2026-W10")  # Monday 2026-03-02 .. Sunday 03-08 (Beijing time)
    mon = week.start + 2 * H
    with session_scope(any_engine) as s:
        src = Source(name="12345热线", kind="hotline", created_at=mon)
        s.add(src)
        s.flush()
        rows = {  # external id: received, due, replied
            "OLD-OPEN": (mon - 21 * D, mon - 14 * D, None),                 # three weeks old, never answered
            "OLD-DONE-IN": (mon - 10 * D, mon - 3 * D, mon + 2 * D),        # answered late, in the week
            "OLD-DONE-AFTER": (mon - 4 * D, mon + 1 * D, week.end + 2 * D),  # still open at the week's end
            "OLD-DONE-BEFORE": (mon - 10 * D, mon - 3 * D, mon - 4 * D),    # closed before the week: not listed
            "NEW": (mon + D, mon + 8 * D, None),                            # received in the week, not yet due
            "NEXT": (week.end + H, week.end + 8 * D, None),                 # after the week: not listed
        }
        for ext, (received, due, replied) in rows.items():
            s.add(Message(source_id=src.id, external_id=ext, channel="12345", title=ext, text="", unit="住建局",
                          received_at=received, due_at=due, replied_at=replied,
                          on_time=None if replied is None else replied <= due,
                          late_working_days=None if replied is None else (0 if replied <= due else 2)))
        case = cases.open_case(s, title="加装电梯", grade="一般", discovered_at=mon, now=mon, actor="值班", env=env)
        caseitems.add_commitment(s, case_id=case.id, text="三周内完成协调", owner_unit="住建局",
                                 due_date=date(2026, 3, 27), now=mon + H, actor="值班", env=env)
    now = week.end + 3 * D
    cal = load_calendar(get_settings())
    with Session(any_engine) as s:
        data = collect_week(s, week, now=now, calendar=cal)
    with Session(any_engine) as s:  # PostgreSQL: the driver path and SQLAlchemy's rows agree
        assert collect_week(s, week, now=now, calendar=cal, read_ahead=False) == data
    by_id = {m["external_id"]: m for m in data.messages}
    assert set(by_id) == {"OLD-OPEN", "OLD-DONE-IN", "OLD-DONE-AFTER", "NEW"}
    assert by_id["OLD-OPEN"]["section"] == "逾期未办" and by_id["OLD-OPEN"]["outcome"] == "late"
    # as of the week's end, in working days (the Spring Festival holiday of 2026 is not counted)
    assert by_id["OLD-OPEN"]["late_working_days"] == cal.working_days_late(mon - 14 * D, week.end) == 11
    assert by_id["OLD-DONE-IN"]["section"] == "本周办结"
    assert by_id["OLD-DONE-AFTER"]["section"] == "逾期未办"  # due in the week, unanswered at its end
    assert by_id["NEW"]["section"] == "本周新收"
    f = data.figures
    assert (f["messages"], f["messages_carried"], f["messages_replied"]) == (1, 3, 1)
    assert (f["messages_overdue_open"], f["messages_overdue_earlier"]) == (2, 1)
    # the rate counts replies due or given in the week: OLD-DONE-IN (late) and OLD-DONE-AFTER (late)
    assert (f["messages_on_time"], f["messages_late"]) == (0, 2)
    (com,) = data.commitments
    assert com["state"] == "未到期" and com["new"] and com["due_date"] == date(2026, 3, 27)
    assert f["commitments_open"] == f["commitments_new"] == 1
    overdue = {o["what"].split()[0]: o for o in data.overdue if o["kind"] == "留言"}
    assert overdue["OLD-OPEN"]["earlier"] and not overdue["OLD-DONE-AFTER"]["earlier"]


def test_a_duty_missed_while_major_stays_counted_under_its_grade_after_a_downgrade(any_engine, env):
    t0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    with session_scope(any_engine) as s:
        case = cases.open_case(s, title="化工厂异味", grade="重大", discovered_at=t0, now=t0, actor="值班", env=env,
                               responsible_unit="生态环境局")
        cases.report_to_leadership(s, case_id=case.id, reported_at=t0 + 10 * timedelta(minutes=1),
                                   now=t0 + 20 * timedelta(minutes=1), actor="值班", env=env)
        cases.regrade_case(s, case_id=case.id, grade="一般", now=t0 + 6 * H, actor="值班", env=env)
    with Session(any_engine) as s:
        rates = dq.on_time_rates(s, since=t0 - D)
    by_rule = {(r["时钟"], r["适用等级"]): r for r in rates}
    missed = by_rule[("发布权威信息(最迟5小时)", "重大")]
    assert (missed["按时"], missed["总数"]) == (0, 1)  # not dropped after the downgrade
    report = by_rule[("第一时间向本级党委政府报告(1小时内)", "重大")]
    assert (report["按时"], report["总数"], report["按时率"]) == (1, 1, 1.0)
    # the 24 h briefing was not yet due when the case was graded down: cancelled, not counted
    assert ("举行新闻发布会(24小时)", "重大") not in by_rule


def test_recorded_time_check_names_both_times_in_beijing_time():
    found = datetime(2026, 12, 3, 13, 12, tzinfo=UTC)  # 21:12 in Beijing
    now = found + 2 * H
    with pytest.raises(ValueError, match="早于舆情发现时间（12月3日 21:12）"):
        check_act_time(found - H, what="发布会时间", now=now, not_before=found, not_before_what="舆情发现时间")
    with pytest.raises(ValueError, match="晚于当前时间（12月3日 23:12）"):
        check_act_time(now + H, what="报告时间", now=now)
    with pytest.raises(ValueError, match="缺少时区"):
        check_act_time(datetime(2026, 12, 3, 21, 0), what="报告时间", now=now)
    # entered to the minute: the minute of what it answers is not "before" it
    assert check_act_time(found.replace(second=0), what="报告时间", now=now,
                          not_before=found.replace(second=40)) == found.replace(second=0)
    assert local_text(found) == "12月3日 21:12" and local_text(found, year=True) == "2026年12月3日 21:12"
