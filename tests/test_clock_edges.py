"""Edges of the clock service that the mutation check (bench/mutate) found unguarded: restarts of a
repeating clock (closed, on time at the due instant, audited with the new clock's id), the change
records it returns, the JSON view of a clock and instants whose time zone gives no offset."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from config.clockconfig import load_clock_rules
from config.settings import get_settings
from ledger.clocks import service as cs
from ledger.clocks.calendar import WorkCalendar
from ledger.db import session_scope
from ledger.models.core import AuditLog

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)  # a Monday
CASE = 41


class _NoOffset(tzinfo):
    """A time zone that knows no offset: such a datetime is naive in Python's terms."""

    def utcoffset(self, dt):
        return None

    def dst(self, dt):
        return None

    def tzname(self, dt):
        return "?"


@pytest.fixture(scope="module")
def rules():
    return load_clock_rules(get_settings())


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


def _facts(release: datetime) -> dict:
    return {"grade": "重大", "discovered_at": T0, "last_release_at": release}


def _start(engine, rules, cal, *, release: datetime, now: datetime, changes=None):
    with session_scope(engine) as s:
        started = cs.start_clocks(s, subject="case", subject_id=CASE, facts=_facts(release), now=now,
                                  calendar=cal, rules=rules, actor="值班员", changes=changes)
        return [c.rule_id for c in started]


def _continued(engine) -> list[tuple[int, str, bool, bool | None, datetime | None, datetime]]:
    with session_scope(engine) as s:
        return [(c.id, c.status, c.closed, c.late, c.met_at, c.due_at)
                for c in cs.clocks_for(s, subject="case", subject_id=CASE) if c.rule_id == "continued_release"]


def test_a_release_at_the_due_instant_closes_the_period_on_time_and_is_audited(sqlite_engine, rules, cal) -> None:
    first = T0 + timedelta(hours=1)
    _start(sqlite_engine, rules, cal, release=first, now=first)
    [(old_id, status, closed, _, _, due)] = _continued(sqlite_engine)
    assert (status, closed, due) == ("running", False, first + timedelta(hours=24))
    # the next release comes exactly at the due instant: the first period was met on time
    assert _start(sqlite_engine, rules, cal, release=due, now=due) == ["continued_release"]
    rows = _continued(sqlite_engine)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows[:1]] == [(old_id, "met", True, False, due)]
    new_id, new_status, new_closed, _, _, new_due = rows[1]
    assert (new_status, new_closed, new_due) == ("running", False, due + timedelta(hours=24))
    # one second later the next period is met late
    late = new_due + timedelta(seconds=1)
    _start(sqlite_engine, rules, cal, release=late, now=late)
    rows = _continued(sqlite_engine)
    assert [(r[1], r[2], r[3]) for r in rows] == [("met", True, False), ("met", True, True), ("running", False, None)]
    with session_scope(sqlite_engine) as s:
        audit = list(s.exec(select(AuditLog).where(AuditLog.action == "clock.start")))
        clocks = cs.clocks_for(s, subject="case", subject_id=CASE)
        # every clock, the restarted periods included, has exactly one start entry under its own id
        assert sorted(a.entity_id for a in audit) == sorted(str(c.id) for c in clocks)
        closes = list(s.exec(select(AuditLog).where(AuditLog.action == "clock.close_for_restart")))
        assert [(a.entity_id, a.before["status"], a.after["status"]) for a in closes] == [
            (str(old_id), "running", "met"), (str(new_id), "running", "met")]


def test_restart_by_hand_closes_a_restartable_clock_and_audits_the_new_one(sqlite_engine, rules, cal) -> None:
    first = T0 + timedelta(hours=1)
    _start(sqlite_engine, rules, cal, release=first, now=first)
    again = first + timedelta(hours=2)
    with session_scope(sqlite_engine) as s:
        new = cs.restart(s, subject="case", subject_id=CASE, rule_id="continued_release", anchor=again,
                         now=again, calendar=cal, actor="值班员", reason="再次发布")
        new_id = new.id
    assert new_id is not None
    rows = _continued(sqlite_engine)
    assert [(r[1], r[2]) for r in rows] == [("met", True), ("running", False)]
    with session_scope(sqlite_engine) as s:
        starts = [a for a in s.exec(select(AuditLog).where(AuditLog.action == "clock.start"))
                  if a.entity_id == str(new_id)]
        assert len(starts) == 1 and starts[0].note == "再次发布"
        assert starts[0].after["rule"] == "continued_release" and starts[0].after["restarts"] == 1


def test_change_records_are_immutable_values_and_each_change_is_audited(sqlite_engine, rules, cal) -> None:
    _start(sqlite_engine, rules, cal, release=T0, now=T0)
    late = T0 + timedelta(hours=2)  # the 1 h leadership report is overdue now
    with session_scope(sqlite_engine) as s:
        changes = cs.advance_clocks(s, now=late)
    report = next(c for c in changes if c.rule_id == "leadership_report")
    assert (report.before, report.after, report.at) == ("running", "breached", late)
    assert report.as_dict()["rule"] == "leadership_report" and "1小时" in report.as_dict()["source"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.after = "running"
    with session_scope(sqlite_engine) as s:
        entries = list(s.exec(select(AuditLog).where(AuditLog.action == "clock.breached")))
        assert [(e.entity_id, e.before, e.after["status"]) for e in entries] == [
            (str(report.clock_id), {"status": "running"}, "breached")]


def test_the_json_view_carries_the_rule_snapshot(sqlite_engine, rules, cal) -> None:
    _start(sqlite_engine, rules, cal, release=T0, now=T0)
    with session_scope(sqlite_engine) as s:
        clocks = {c.rule_id: c for c in cs.clocks_for(s, subject="case", subject_id=CASE)}
        view = cs.clock_to_dict(clocks["authoritative_release_target"], now=T0)
        assert (view["unit"], view["limit"], view["anchor"]) == ("hours", 3, "discovered_at")
        assert "3小时" in view["source"] and (view["outcome"], view["outcome_label"]) == ("open", "办理中")
        clocks["press_briefing"].rule_snapshot = None  # a clock from before snapshots were kept
        bare = cs.clock_to_dict(clocks["press_briefing"], now=T0)
        assert (bare["unit"], bare["limit"], bare["source"]) == (None, None, "")
        s.rollback()


@pytest.mark.parametrize("when", [datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 2, 10, 0, tzinfo=_NoOffset())])
def test_instants_without_an_offset_are_refused(sqlite_engine, rules, cal, when) -> None:
    with session_scope(sqlite_engine) as s, pytest.raises(cs.ClockError, match="缺少时区"):
        cs.start_clocks(s, subject="case", subject_id=CASE, facts=_facts(T0), now=when, calendar=cal,
                        rules=rules, actor="值班员")
    with session_scope(sqlite_engine) as s, pytest.raises(cs.ClockError, match="缺少时区"):
        cs.advance_clocks(s, now=when)
    with session_scope(sqlite_engine) as s, pytest.raises(cs.ClockError, match="应为时间"):
        cs.advance_clocks(s, now="2026-03-02 10:00")


def test_restart_by_hand_keeps_the_grade_of_the_period_it_closes(sqlite_engine, rules, cal) -> None:
    first = T0 + timedelta(hours=1)
    _start(sqlite_engine, rules, cal, release=first, now=first)
    with session_scope(sqlite_engine) as s:
        new = cs.restart(s, subject="case", subject_id=CASE, rule_id="continued_release",
                         anchor=first + timedelta(hours=3), now=first + timedelta(hours=3), calendar=cal,
                         actor="值班员")
        assert (new.grade, new.restarts) == ("重大", 1)


def test_an_extension_into_an_unpublished_year_makes_the_due_time_provisional(sqlite_engine, rules, cal) -> None:
    received = datetime(2026, 11, 20, 9, 0, tzinfo=SH)
    with session_scope(sqlite_engine) as s:
        [clock] = cs.start_clocks(s, subject="disclosure", subject_id=5, facts={"received_at": received},
                                  now=received, calendar=cal, rules=rules, actor="受理员")
        first_due = clock.due_at
        assert first_due.year == 2026 and not clock.provisional  # 2026 is an official year
    with session_scope(sqlite_engine) as s:
        clock = cs.extend(s, subject="disclosure", subject_id=5, rule_id="disclosure_reply",
                          at=received + timedelta(days=3), calendar=cal, actor="受理员", approved_by="负责人")
        expected = cal.add_working_days(first_due, 20)
        assert expected.provisional and clock.due_at == expected.at  # 20 more working days run into 2027
        assert clock.provisional and clock.extension == 20
        # the warning moves too: the start of the 5th working day counting back from the new due date
        assert clock.warn_at == cal.start_of_day(cal.working_day_back(cal.local_date(expected.at), 5))


def _hours_rule():
    from ledger.clocks.rules import load_rules

    return load_rules({"rule": [{"id": "h10", "name": "十小时", "subject": "case", "anchor": "discovered_at",
                                 "limit": 10, "unit": "hours", "warn_at": 0.5, "pause_on": ["征求意见"],
                                 "extension": 5}]})


def test_pausing_and_extending_an_hours_clock_moves_its_due_and_warning(sqlite_engine, cal) -> None:
    rules = _hours_rule()
    with session_scope(sqlite_engine) as s:
        [clock] = cs.start_clocks(s, subject="case", subject_id=9, facts={"discovered_at": T0}, now=T0,
                                  calendar=cal, rules=rules, actor="值班员")
        assert (clock.due_at, clock.warn_at) == (T0 + timedelta(hours=10), T0 + timedelta(hours=5))
    with session_scope(sqlite_engine) as s:
        cs.pause(s, subject="case", subject_id=9, rule_id="h10", at=T0 + timedelta(hours=1), actor="值班员")
    with session_scope(sqlite_engine) as s:
        clock = cs.resume(s, subject="case", subject_id=9, rule_id="h10", at=T0 + timedelta(hours=3),
                          calendar=cal, actor="值班员")
        # two paused hours are added; the warning stays half-way through the longer period
        assert (clock.due_at, clock.warn_at) == (T0 + timedelta(hours=12), T0 + timedelta(hours=6))
        assert (clock.status, clock.paused_seconds) == ("running", 7200)
    with session_scope(sqlite_engine) as s:
        clock = cs.extend(s, subject="case", subject_id=9, rule_id="h10", at=T0 + timedelta(hours=4),
                          calendar=cal, actor="值班员", approved_by="负责人")
        assert (clock.due_at, clock.warn_at) == (T0 + timedelta(hours=17), T0 + timedelta(hours=8, minutes=30))
