"""Clock rules as data, the pure engine, and the clock service on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from sqlmodel import Session, select

from config.clockconfig import load_clock_rules
from config.settings import DEFAULTS_DIR, get_settings
from ledger.clocks import service as cs
from ledger.clocks.calendar import WorkCalendar, calendar_from_config
from ledger.clocks.rules import (
    ClockTimes,
    RuleConfigError,
    compute,
    load_rules,
    met_late,
    rules_for,
    status_at,
)
from ledger.db import session_scope
from ledger.models.core import AuditLog

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)  # Monday 10:00, discovery time
CASE_RULES = {"authoritative_release_target", "authoritative_release_limit", "press_briefing",
              "continued_release", "leadership_report"}


def nth_workday_after(d: date, n: int) -> date:
    """Oracle straight from chinesecalendar: the n-th working day after d."""
    return chinese_calendar.get_workdays(d + timedelta(days=1), d + timedelta(days=120))[n - 1]


def eod(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=SH)


@pytest.fixture(scope="module")
def rules():
    return load_clock_rules(get_settings())


@pytest.fixture(scope="module")
def raw_cfg():
    with (DEFAULTS_DIR / "clocks.toml").open("rb") as fh:
        return tomllib.load(fh)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


# ------------------------------------------------------------------ rules as data
def test_every_design_rule_is_configured_with_its_source(rules) -> None:
    by_id = {r.id: r for r in rules}
    t, lim = by_id["authoritative_release_target"], by_id["authoritative_release_limit"]
    assert (t.limit, t.unit, t.kind, t.anchor) == (3, "hours", "target", "discovered_at")
    assert (lim.limit, lim.unit, lim.kind) == (5, "hours", "limit")
    assert set(t.applies_to["grade"]) == {"重大", "特别重大"}
    assert (by_id["press_briefing"].limit, by_id["press_briefing"].unit) == (24, "hours")
    cont = by_id["continued_release"]
    assert (cont.limit, cont.anchor, cont.repeat) == (24, "last_release_at", True)
    lead = by_id["leadership_report"]
    # 第一时间报告: a real, configurable limit (1 h written report, warning at 30 min)
    assert (lead.unit, lead.limit, lead.kind, lead.warn_at) == ("hours", 1, "limit", 0.5)
    assert "30分钟" in lead.source and "1小时" in lead.source
    other = by_id["other_response"]
    assert (other.limit, other.unit) == (48, "hours") and set(other.applies_to["grade"]) == {"一般", "较大"}
    assert (by_id["message_reply"].limit, by_id["message_reply"].unit) == (5, "working_days")
    assert by_id["message_reply_simple"].limit == 3
    assert (by_id["policy_interpretation"].limit, by_id["policy_interpretation"].anchor) == (3, "published_at")
    assert by_id["commitment_due"].subject == "commitment"
    disc = by_id["disclosure_reply"]
    assert (disc.limit, disc.unit, disc.extension) == (20, "working_days", 20)
    assert disc.restart_on == ("补正",) and disc.pause_on == ("征求第三方意见",) and disc.pausable
    assert all(r.source.strip() for r in rules)
    assert "3小时" in t.source and "5小时" in lim.source and "20个工作日" in disc.source


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(unit="days"), "unit"),
        (lambda r: r.update(limit=-1), "limit"),
        (lambda r: r.pop("name"), "name"),
        (lambda r: r.update(kind="soft"), "kind"),
        (lambda r: r.update(warn_at=1.5, warn_unit="fraction"), "warn_at"),
        (lambda r: r.update(subject="tweet"), "subject"),
        (lambda r: r.update(colour="red"), "未知字段"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(raw_cfg, change, message) -> None:
    cfg = copy.deepcopy(raw_cfg)
    change(cfg["rule"][0])
    with pytest.raises(RuleConfigError, match=message):
        load_rules(cfg)


def test_duplicate_ids_and_fractional_working_days_are_refused(raw_cfg) -> None:
    cfg = copy.deepcopy(raw_cfg)
    cfg["rule"].append(dict(cfg["rule"][0]))
    with pytest.raises(RuleConfigError, match="重复"):
        load_rules(cfg)
    cfg = copy.deepcopy(raw_cfg)
    msg = next(r for r in cfg["rule"] if r["id"] == "message_reply")
    msg["limit"] = 4.5
    with pytest.raises(RuleConfigError, match="整数"):
        load_rules(cfg)
    with pytest.raises(RuleConfigError, match="没有"):
        load_rules({})


def test_rules_for_grades_and_flags(rules) -> None:
    assert {r.id for r in rules_for("case", {"grade": "重大"}, rules)} == CASE_RULES
    assert {r.id for r in rules_for("case", {"grade": "特别重大"}, rules)} == CASE_RULES
    assert [r.id for r in rules_for("case", {"grade": "较大"}, rules)] == ["other_response"]
    assert rules_for("case", {}, rules) == []  # no grade yet: nothing starts
    assert [r.id for r in rules_for("message", {"simple": True}, rules)] == ["message_reply_simple"]
    assert [r.id for r in rules_for("message", {"simple": False}, rules)] == ["message_reply"]
    neg = load_rules({"rule": [{"id": "x", "name": "x", "subject": "case", "anchor": "a", "limit": 1,
                                "unit": "hours", "applies_to": {"grade_not": ["一般"]}}]})
    assert rules_for("case", {"grade": "重大"}, neg) and not rules_for("case", {"grade": "一般"}, neg)


def test_compute_and_status(rules, cal) -> None:
    by_id = {r.id: r for r in rules}
    t = compute(by_id["authoritative_release_target"], T0, cal)
    assert t.due == T0 + timedelta(hours=3) and t.warn == T0 + timedelta(hours=2) and not t.provisional
    assert status_at(t, None, T0 + timedelta(hours=1)) == "running"
    assert status_at(t, None, T0 + timedelta(hours=2)) == "warning"
    assert status_at(t, None, T0 + timedelta(hours=3)) == "warning"  # due instant itself still in time
    assert status_at(t, None, T0 + timedelta(hours=3, seconds=1)) == "missed"
    lim = compute(by_id["authoritative_release_limit"], T0, cal)
    assert status_at(lim, None, T0 + timedelta(hours=6)) == "breached"
    met = T0 + timedelta(hours=4)
    assert status_at(t, met, T0 + timedelta(hours=9)) == "met" and met_late(t, met) is True
    assert met_late(lim, met) is False and met_late(lim, None) is None
    lead = compute(by_id["leadership_report"], T0, cal)
    assert lead.due == T0 + timedelta(hours=1) and lead.warn == T0 + timedelta(minutes=30)
    report = T0 + timedelta(minutes=5)  # a prompt report is on time
    assert status_at(lead, report, report) == "met" and met_late(lead, report) is False
    assert status_at(lead, None, T0 + timedelta(minutes=31)) == "warning"
    assert status_at(lead, None, T0 + timedelta(hours=1, seconds=1)) == "breached"
    msg = compute(by_id["message_reply"], T0, cal)
    due_day = nth_workday_after(date(2026, 3, 2), 5)
    assert msg.due == eod(due_day)
    assert msg.warn == datetime(due_day.year, due_day.month, due_day.day, tzinfo=SH)
    commitment = compute(by_id["commitment_due"], eod(date(2026, 3, 20)), cal)  # a Friday
    assert commitment.due == eod(date(2026, 3, 20))
    assert commitment.warn == datetime(2026, 3, 18, tzinfo=SH)  # start of the 3rd working day back
    assert status_at(ClockTimes(T0, None, False, "limit"), None, T0, kind="target") == "running"


# ------------------------------------------------------------------ the service, on a database
def _count_audit(session: Session, prefix: str) -> int:
    return len([a for a in session.exec(select(AuditLog)) if a.action.startswith(prefix)])


def test_regrade_half_way_starts_and_cancels_clocks(any_engine, rules, cal) -> None:
    with session_scope(any_engine) as s:
        started = cs.start_clocks(s, subject="case", subject_id=7, facts={"grade": "一般", "discovered_at": T0},
                                  now=T0, calendar=cal, rules=rules, actor="值班员")
        assert [c.rule_id for c in started] == ["other_response"]
        assert started[0].due_at == T0 + timedelta(hours=48)
    regrade_at = T0 + timedelta(hours=2)
    with session_scope(any_engine) as s:
        changes: list[cs.ClockChange] = []
        started = cs.start_clocks(s, subject="case", subject_id=7, facts={"grade": "重大", "discovered_at": T0},
                                  now=regrade_at, calendar=cal, rules=rules, actor="值班员", changes=changes)
        # continued releases wait for the first release; the others run from discovery
        assert {c.rule_id for c in started} == CASE_RULES - {"continued_release"}
        assert {(c.rule_id, c.after) for c in changes} == {
            ("authoritative_release_target", "warning"), ("leadership_report", "breached")}
    with session_scope(any_engine) as s:
        clocks = {c.rule_id: c for c in cs.clocks_for(s, subject="case", subject_id=7)}
        assert clocks["other_response"].status == "cancelled" and clocks["other_response"].closed
        target = clocks["authoritative_release_target"]
        assert target.due_at == T0 + timedelta(hours=3) and target.due_at.tzinfo is not None
        assert target.rule_snapshot["limit"] == 3 and target.rule_snapshot["source"]
        assert clocks["authoritative_release_limit"].due_at == T0 + timedelta(hours=5)
        assert clocks["press_briefing"].due_at == T0 + timedelta(hours=24)
        assert clocks["leadership_report"].status == "breached"
        # idempotent: the same facts again start nothing
        again = cs.start_clocks(s, subject="case", subject_id=7, facts={"grade": "重大", "discovered_at": T0},
                                now=regrade_at, calendar=cal, rules=rules, actor="值班员")
        assert again == []
        assert len(cs.clocks_for(s, subject="case", subject_id=7)) == 5
        assert _count_audit(s, "clock.cancel") == 1
        assert _count_audit(s, "clock.start") == 5
    # graded down again: open 重大 clocks are cancelled, the missed report stays on record,
    # and the 48 h clock starts again from discovery
    with session_scope(any_engine) as s:
        cs.start_clocks(s, subject="case", subject_id=7, facts={"grade": "较大", "discovered_at": T0},
                        now=T0 + timedelta(hours=2, minutes=30), calendar=cal, rules=rules, actor="值班员")
        statuses = [(c.rule_id, c.status) for c in cs.clocks_for(s, subject="case", subject_id=7)]
        assert statuses == [
            ("other_response", "cancelled"), ("authoritative_release_target", "cancelled"),
            ("authoritative_release_limit", "cancelled"), ("press_briefing", "cancelled"),
            ("leadership_report", "breached"), ("other_response", "running"),
        ]
        # each clock says under which grade it applied: the missed 重大 duty stays a 重大 duty
        grades = [(c.rule_id, c.grade) for c in cs.clocks_for(s, subject="case", subject_id=7)]
        assert grades[0] == ("other_response", "一般") and grades[4] == ("leadership_report", "重大")
        assert grades[5] == ("other_response", "较大")


def test_advance_clocks_moves_states_once(any_engine, rules, cal) -> None:
    with session_scope(any_engine) as s:
        for case_id in (1, 2):
            cs.start_clocks(s, subject="case", subject_id=case_id,
                            facts={"grade": "重大", "discovered_at": T0}, now=T0, calendar=cal, rules=rules,
                            actor="t")
        cs.mark_met(s, subject="case", subject_id=2, rule_ids=["leadership_report"], at=T0, actor="t")
    at = T0 + timedelta(hours=4, minutes=30)
    with session_scope(any_engine) as s:
        changes = cs.advance_clocks(s, now=at, chunk=3)  # several chunks, flushed in between
        got = sorted((c.subject_id, c.rule_id, c.before, c.after) for c in changes)
        assert got == [
            (1, "authoritative_release_limit", "running", "warning"),
            (1, "authoritative_release_target", "running", "missed"),
            (1, "leadership_report", "running", "breached"),
            (2, "authoritative_release_limit", "running", "warning"),
            (2, "authoritative_release_target", "running", "missed"),
        ]  # started at the discovery instant: the report is due at once; case 2 reported it
        assert all(c.at == at for c in changes)
    with session_scope(any_engine) as s:
        audit_before = len(list(s.exec(select(AuditLog))))
        assert cs.advance_clocks(s, now=at) == []
        assert len(list(s.exec(select(AuditLog)))) == audit_before
    with session_scope(any_engine) as s:
        later = cs.advance_clocks(s, now=T0 + timedelta(hours=5, seconds=1))
        assert sorted((c.subject_id, c.after) for c in later) == [(1, "breached"), (2, "breached")]
        limit_clock = next(c for c in cs.clocks_for(s, subject="case", subject_id=1)
                           if c.rule_id == "authoritative_release_limit")
        assert limit_clock.overdue_at == T0 + timedelta(hours=5, seconds=1)


def test_mark_met_on_time_and_late(sqlite_engine, rules, cal) -> None:
    with session_scope(sqlite_engine) as s:
        cs.start_clocks(s, subject="case", subject_id=3, facts={"grade": "重大", "discovered_at": T0},
                        now=T0, calendar=cal, rules=rules, actor="t")
        cs.advance_clocks(s, now=T0 + timedelta(hours=6))
        met = cs.mark_met(s, subject="case", subject_id=3,
                          rule_ids=["authoritative_release_target", "authoritative_release_limit", "nope"],
                          at=T0 + timedelta(hours=6), actor="t")
        assert {c.rule_id for c in met} == {"authoritative_release_target", "authoritative_release_limit"}
        assert all(c.status == "met" and c.late and c.overdue_at is not None for c in met)
        on_time = cs.mark_met(s, subject="case", subject_id=3, rule_ids=["press_briefing"],
                              at=T0 + timedelta(hours=20), actor="t")
        assert on_time[0].late is False
        # a met clock is not met again
        assert cs.mark_met(s, subject="case", subject_id=3, rule_ids=["press_briefing"],
                           at=T0 + timedelta(hours=21), actor="t") == []
        assert _count_audit(s, "clock.met") == 3


def test_anchor_is_configurable_to_occurrence_time(raw_cfg, cal) -> None:
    cfg = copy.deepcopy(raw_cfg)
    for r in cfg["rule"]:
        if r["id"] == "authoritative_release_limit":
            r["anchor"] = "occurred_at"
    rules = load_rules(cfg)
    occurred = T0 - timedelta(hours=1)
    rule = next(r for r in rules if r.id == "authoritative_release_limit")
    assert compute(rule, occurred, cal).due == T0 + timedelta(hours=4)


def test_continued_release_restarts_from_each_release(sqlite_engine, rules, cal) -> None:
    r1, r2 = T0 + timedelta(hours=3), T0 + timedelta(hours=20)
    facts = {"grade": "重大", "discovered_at": T0}
    with session_scope(sqlite_engine) as s:
        cs.start_clocks(s, subject="case", subject_id=4, facts=facts, now=T0, calendar=cal, rules=rules, actor="t")
        started = cs.start_clocks(s, subject="case", subject_id=4, facts={**facts, "last_release_at": r1},
                                  now=r1, calendar=cal, rules=rules, actor="t")
        assert [(c.rule_id, c.due_at) for c in started] == [("continued_release", r1 + timedelta(hours=24))]
        again = cs.start_clocks(s, subject="case", subject_id=4, facts={**facts, "last_release_at": r2},
                                now=r2, calendar=cal, rules=rules, actor="t")
        assert [(c.rule_id, c.due_at, c.restarts) for c in again] == [
            ("continued_release", r2 + timedelta(hours=24), 1)]
        third = cs.restart(s, subject="case", subject_id=4, rule_id="continued_release",
                           anchor=r2 + timedelta(hours=30), now=r2 + timedelta(hours=30), calendar=cal, actor="t")
        assert third.restarts == 2
        history = [(c.status, c.late) for c in cs.clocks_for(s, subject="case", subject_id=4)
                   if c.rule_id == "continued_release"]
        assert history == [("met", False), ("met", True), ("running", None)]
        with pytest.raises(cs.ClockError, match="不允许重新计时"):
            cs.restart(s, subject="case", subject_id=4, rule_id="press_briefing", anchor=r2, now=r2,
                       calendar=cal, actor="t")


def test_disclosure_request_pause_resume_extend_and_correction(sqlite_engine, rules, cal) -> None:
    received = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
    expected = nth_workday_after(date(2026, 3, 2), 20)
    print("20 working days after 2026-03-02:", expected)
    with session_scope(sqlite_engine) as s:
        (clock,) = cs.start_clocks(s, subject="disclosure", subject_id=1, facts={"received_at": received},
                                   now=received, calendar=cal, rules=rules, actor="t")
        assert clock.due_at == eod(expected)
        paused_at = datetime(2026, 3, 4, 10, 0, tzinfo=SH)  # Wednesday
        cs.pause(s, subject="disclosure", subject_id=1, rule_id="disclosure_reply", at=paused_at, actor="t",
                 reason="征求第三方意见")
        # time passes far beyond the due date: a paused clock does not run out
        assert cs.advance_clocks(s, now=datetime(2026, 4, 30, tzinfo=SH)) == []
        resumed = datetime(2026, 3, 9, 15, 0, tzinfo=SH)  # Monday: Thu 5, Fri 6, Mon 9 not counted
        clock = cs.resume(s, subject="disclosure", subject_id=1, rule_id="disclosure_reply", at=resumed,
                          calendar=cal, actor="t")
        assert clock.paused_working_days == 3 and clock.status == "running"
        assert clock.due_at == eod(nth_workday_after(expected, 3))
        with pytest.raises(cs.ClockError, match="未暂停"):
            cs.resume(s, subject="disclosure", subject_id=1, rule_id="disclosure_reply", at=resumed,
                      calendar=cal, actor="t")
        with pytest.raises(cs.ClockError, match="批准人"):
            cs.extend(s, subject="disclosure", subject_id=1, rule_id="disclosure_reply", at=resumed,
                      calendar=cal, actor="t", approved_by=" ")
        before_ext = clock.due_at.astimezone(SH).date()
        clock = cs.extend(s, subject="disclosure", subject_id=1, rule_id="disclosure_reply", at=resumed,
                          calendar=cal, actor="t", approved_by="信息公开工作机构负责人")
        assert clock.due_at == eod(nth_workday_after(before_ext, 20))
        with pytest.raises(cs.ClockError, match="已延长"):
            cs.extend(s, subject="disclosure", subject_id=1, rule_id="disclosure_reply", at=resumed,
                      calendar=cal, actor="t", approved_by="x")
        corrected = datetime(2026, 3, 16, 9, 0, tzinfo=SH)  # 补正: counting starts again
        new = cs.restart(s, subject="disclosure", subject_id=1, rule_id="disclosure_reply", anchor=corrected,
                         now=corrected, calendar=cal, actor="t", reason="补正")
        assert new.due_at == eod(nth_workday_after(date(2026, 3, 16), 20)) and new.restarts == 1
        assert [c.status for c in cs.clocks_for(s, subject="disclosure", subject_id=1)] == ["restarted", "running"]
        with pytest.raises(cs.ClockError, match="不允许暂停"):
            cs.start_clocks(s, subject="case", subject_id=9, facts={"grade": "一般", "discovered_at": T0},
                            now=T0, calendar=cal, rules=rules, actor="t")
            cs.pause(s, subject="case", subject_id=9, rule_id="other_response", at=T0, actor="t")


def test_provisional_clocks_are_recomputed_when_the_year_is_supplied(sqlite_engine, rules, cal) -> None:
    received = datetime(2026, 12, 24, 10, 0, tzinfo=SH)
    with session_scope(sqlite_engine) as s:
        (clock,) = cs.start_clocks(s, subject="policy", subject_id=1, facts={"published_at": received},
                                   now=received, calendar=cal, rules=rules, actor="t")
        # Fri 25, Mon 28, Tue 29: inside 2026, official
        assert clock.due_at == eod(date(2026, 12, 29)) and not clock.provisional
        (late,) = cs.start_clocks(s, subject="disclosure", subject_id=2, facts={"received_at": received},
                                  now=received, calendar=cal, rules=rules, actor="t")
        assert late.provisional
    supplied = calendar_from_config({"years": {"2027": {
        "holidays": ["2027-01-01", "2027-01-04", "2027-01-05", "2027-01-06"], "workdays": []}}})
    with session_scope(sqlite_engine) as s:
        changed = cs.recompute_provisional(s, now=datetime(2026, 12, 26, tzinfo=UTC), calendar=supplied)
        assert [c.subject for c in changed] == ["disclosure"]
        assert not changed[0].provisional
        assert changed[0].due_at == supplied.add_working_days(received, 20).at
        assert changed[0].due_at > late.due_at  # three more days off in the supplied notice
        assert cs.recompute_provisional(s, now=datetime(2026, 12, 26, tzinfo=UTC), calendar=supplied) == []


def test_start_clocks_many_matches_one_at_a_time(sqlite_engine, rules, cal) -> None:
    items = [(i, {"grade": g, "discovered_at": T0 + timedelta(minutes=i)})
             for i, g in enumerate(["一般", "重大", "较大", "特别重大"], start=1)]
    with session_scope(sqlite_engine) as s:
        many = cs.start_clocks_many(s, subject="case", items=items, now=T0, calendar=cal, rules=rules, actor="t")
        for sid, facts in items:
            cs.start_clocks(s, subject="case", subject_id=100 + sid, facts=facts, now=T0, calendar=cal,
                            rules=rules, actor="t")
        assert len(many) == 1 + 4 + 1 + 4
        for sid, _ in items:
            a = [(c.rule_id, c.due_at, c.status) for c in cs.clocks_for(s, subject="case", subject_id=sid)]
            b = [(c.rule_id, c.due_at, c.status) for c in cs.clocks_for(s, subject="case", subject_id=100 + sid)]
            assert a == b
        # idempotent, and a regrade in bulk cancels what no longer applies
        assert cs.start_clocks_many(s, subject="case", items=items, now=T0, calendar=cal, rules=rules,
                                    actor="t") == []
        regraded = cs.start_clocks_many(s, subject="case", items=[(1, {"grade": "重大", "discovered_at": T0})],
                                        now=T0 + timedelta(hours=1), calendar=cal, rules=rules, actor="t")
        assert len(regraded) == 4
        assert cs.clocks_for(s, subject="case", subject_id=1)[0].status == "cancelled"
