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
