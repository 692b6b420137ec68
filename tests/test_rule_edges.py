"""Edges of the clock rules (rules as data, their checks, due and warning times) that the mutation
check (bench/mutate) found unguarded. Pure: no database."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ledger.clocks.calendar import WorkCalendar
from ledger.clocks.rules import ClockTimes, RuleConfigError, compute, load_rules

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)  # a Monday


def rule(**fields):
    base = {"id": "r", "name": "规则", "subject": "case", "anchor": "discovered_at", "limit": 10, "unit": "hours"}
    return load_rules({"rule": [base | fields]})[0]


def test_rules_and_times_are_immutable_values() -> None:
    r = rule()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.limit = 99
    times = compute(r, T0, WorkCalendar())
    assert isinstance(times, ClockTimes) and times.due == T0 + timedelta(hours=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        times.due = T0


def test_an_immediate_rule_needs_no_limit_and_others_do() -> None:
    now_rule = load_rules({"rule": [
        {"id": "at_once", "name": "立即", "subject": "case", "anchor": "discovered_at", "unit": "immediate"}]})[0]
    assert now_rule.limit == 0
    assert compute(now_rule, T0, WorkCalendar()).due == T0
    for unit in ("hours", "working_days"):
        with pytest.raises(RuleConfigError, match="limit 应为非负数"):
            load_rules({"rule": [{"id": "x", "name": "x", "subject": "case", "anchor": "a", "unit": unit}]})
    with pytest.raises(RuleConfigError, match="immediate 时 limit 应为 0"):
        rule(unit="immediate", limit=1)


@pytest.mark.parametrize("limit", [True, "3", -1, -0.5, [3]])
def test_a_limit_that_is_not_a_non_negative_number_is_refused(limit) -> None:
    with pytest.raises(RuleConfigError, match="limit 应为非负数"):
        rule(limit=limit)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"warn_at": -1, "warn_unit": "hours"}, "warn_at 应为非负数"),
        ({"warn_at": True, "warn_unit": "hours"}, "warn_at 应为非负数"),
        ({"warn_at": "2", "warn_unit": "hours"}, "warn_at 应为非负数"),
        ({"warn_at": 0}, "fraction 时 warn_at 应在 0 与 1 之间"),
        ({"warn_at": 1}, "fraction 时 warn_at 应在 0 与 1 之间"),
        ({"warn_at": 10, "warn_unit": "hours"}, r"warn_at \(10 h\) 应小于 limit \(10 h\)"),
        ({"extension": 0}, "extension 应为正数"),
        ({"extension": -5}, "extension 应为正数"),
        ({"extension": True}, "extension 应为正数"),
        ({"extension": "20"}, "extension 应为正数"),
    ],
)
def test_warnings_and_extensions_out_of_range_are_refused(fields, message) -> None:
    with pytest.raises(RuleConfigError, match=message):
        rule(**fields)


def test_warnings_and_extensions_at_the_edges_of_their_range_are_accepted() -> None:
    cal = WorkCalendar()
    at_start = rule(warn_at=0, warn_unit="hours")  # warn from the start
    assert compute(at_start, T0, cal).warn == T0
    just_before = rule(warn_at=9.5, warn_unit="hours")
    assert compute(just_before, T0, cal).warn == T0 + timedelta(hours=9, minutes=30)
    half = rule(warn_at=0.5)
    assert compute(half, T0, cal).warn == T0 + timedelta(hours=5)
    # a fraction is not compared with the limit in hours: half of a quarter hour is fine
    short = rule(limit=0.25, warn_at=0.5)
    assert compute(short, T0, cal).warn == T0 + timedelta(minutes=7, seconds=30)
    # hours of warning on a working-day rule are not compared with its limit in days
    days = rule(unit="working_days", limit=5, warn_unit="hours", warn_at=30)
    assert compute(days, T0, cal).warn == T0 + timedelta(hours=30)
    assert rule(extension=0.5).extension == 0.5 and rule(extension=20).extension == 20.0


@pytest.mark.parametrize("key", ["restart_on", "pause_on"])
@pytest.mark.parametrize("value", ["补正", ["补正", 1]])
def test_event_lists_must_be_lists_of_text(key, value) -> None:
    with pytest.raises(RuleConfigError, match=f"{key} 应为文字列表"):
        rule(**{key: value})
    assert getattr(rule(**{key: ["补正", "撤回"]}), key) == ("补正", "撤回")


def test_an_hour_limit_keeps_its_fraction_and_a_day_limit_is_whole() -> None:
    cal = WorkCalendar()
    r = rule(limit=2.5)
    assert r.limit == 2.5 and compute(r, T0, cal).due == T0 + timedelta(hours=2, minutes=30)
    d = rule(unit="working_days", limit=5.0)
    assert d.limit == 5 and isinstance(d.limit, int)


def test_a_rules_file_without_rules_or_with_a_bad_entry_names_the_entry() -> None:
    for cfg in ({"rule": []}, {"rule": "r"}, {"rule": {"id": "r"}}, {}, []):
        with pytest.raises(RuleConfigError, match="没有 \\[\\[rule\\]\\] 规则"):
            load_rules(cfg)
    good = {"id": "a", "name": "甲", "subject": "case", "anchor": "discovered_at", "limit": 1, "unit": "hours"}
    with pytest.raises(RuleConfigError, match="第 2 条规则应为表"):
        load_rules({"rule": [good, "b"]})
    with pytest.raises(RuleConfigError, match="clocks.toml 第 1 条规则: 缺少字段或不是文字: id"):
        load_rules({"rule": [{k: v for k, v in good.items() if k != "id"}, good]})


def test_a_rule_is_found_by_its_id() -> None:
    from ledger.clocks.rules import rule_by_id

    base = {"name": "规则", "subject": "case", "anchor": "discovered_at", "limit": 1, "unit": "hours"}
    rules = load_rules({"rule": [base | {"id": "a"}, base | {"id": "b", "limit": 2}, base | {"id": "c"}]})
    assert rule_by_id(rules, "b") is rules[1] and rule_by_id(rules, "b").limit == 2
    assert rule_by_id(rules, "a") is rules[0]
    with pytest.raises(KeyError, match="未知的时限规则"):
        rule_by_id(rules, "z")


def test_compute_adds_an_extension_refuses_offsetless_anchors_and_immediate_is_never_provisional() -> None:
    from datetime import tzinfo

    class NoOffset(tzinfo):
        def utcoffset(self, dt):
            return None

    cal = WorkCalendar()
    assert compute(rule(), T0, cal, extra=5).due == T0 + timedelta(hours=15)
    days = rule(unit="working_days", limit=3)
    assert compute(days, T0, cal, extra=2).due == cal.add_working_days(T0, 5).at
    late_in_2026 = datetime(2026, 12, 31, 12, 0, tzinfo=SH)  # the next year has no official calendar
    assert compute(days, late_in_2026, cal).provisional
    at_once = load_rules({"rule": [{"id": "now", "name": "立即", "subject": "case", "anchor": "a",
                                    "unit": "immediate"}]})[0]
    assert compute(at_once, late_in_2026, cal) == ClockTimes(late_in_2026, None, False, "limit")
    for anchor in (datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 2, 10, 0, tzinfo=NoOffset())):
        with pytest.raises(ValueError, match="时限起点缺少时区"):
            compute(rule(), anchor, cal)


def test_a_warning_that_would_fall_on_the_due_instant_is_dropped() -> None:
    cal = WorkCalendar()
    commitment = load_rules({"rule": [{"id": "c", "name": "承诺", "subject": "commitment", "anchor": "due_at",
                                       "unit": "immediate", "warn_at": 1, "warn_unit": "working_days"}]})[0]
    monday_midnight = datetime(2026, 3, 2, 0, 0, tzinfo=SH)  # the start of a working day
    assert compute(commitment, monday_midnight, cal).warn is None
    monday_noon = datetime(2026, 3, 2, 12, 0, tzinfo=SH)
    assert compute(commitment, monday_noon, cal).warn == monday_midnight


@pytest.mark.parametrize(
    ("status", "late", "due_offset", "expected"),
    [
        ("met", False, None, "on_time"),
        ("met", True, None, "late"),
        ("met", None, -1, "on_time"),  # met clocks are judged by their own late flag
        ("missed", None, None, "late"),
        ("breached", None, None, "late"),
        ("running", None, 1, "open"),
        ("warning", None, -1, "late"),  # due time passed before as_of, not yet moved by a tick
        ("paused", None, None, "open"),
        ("cancelled", None, -1, "not_counted"),
        ("restarted", None, -1, "not_counted"),
    ],
)
def test_the_outcome_of_a_duty(status, late, due_offset, expected) -> None:
    from ledger.clocks.rules import OUTCOME_LABELS, outcome

    due = None if due_offset is None else T0 + timedelta(hours=due_offset)
    assert outcome(status, late, due, T0) == expected
    assert OUTCOME_LABELS[expected]


def test_an_open_duty_is_late_only_after_its_due_instant_and_only_with_an_as_of() -> None:
    from ledger.clocks.rules import outcome

    assert outcome("running", None, T0, T0) == "open"  # the due instant itself is still in time
    assert outcome("running", None, T0, T0 + timedelta(seconds=1)) == "late"
    assert outcome("running", None, T0 - timedelta(days=1), None) == "open"  # no as_of: as stored
    assert outcome("running", None, None, T0) == "open"


@pytest.mark.parametrize(
    ("status", "late", "label"),
    [
        ("met", True, "已完成（超时）"),
        ("met", False, "已按时完成"),
        ("met", None, "已按时完成"),
        ("running", True, "计时中"),
        ("breached", None, "已超时限"),
        ("restarted", False, "已重新计时"),
        ("unknown", None, "unknown"),
    ],
)
def test_status_labels(status, late, label) -> None:
    from ledger.clocks.rules import status_label

    assert status_label(status, late) == label


def test_met_late_at_the_due_instant() -> None:
    from ledger.clocks.rules import met_late

    times = ClockTimes(T0, None, False)
    assert met_late(times, None) is None
    assert met_late(times, T0) is False and met_late(times, T0 + timedelta(seconds=1)) is True
