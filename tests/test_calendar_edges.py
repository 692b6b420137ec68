"""Edges of the working-day calendar that the mutation check (bench/mutate) found unguarded: how a
year's supplement in holidays.toml is checked, and the boundaries of the deadline arithmetic."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ledger.clocks.calendar import WorkCalendar, calendar_from_config

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"holidays": "2027-01-01"}, "holidays 应为日期列表"),  # a single string, not a list
        ({"workdays": 20270101}, "workdays 应为日期列表"),  # not a list at all
        ({"holidays": ["2025-12-31"]}, "不属于 2027 年前后"),  # two years away
        ({"source": "国办发明电"}, "没有任何日期"),
        ({"holidays": [], "workdays": []}, "没有任何日期"),
    ],
)
def test_a_bad_year_supplement_is_refused_with_its_reason(entry, message) -> None:
    with pytest.raises(ValueError, match=message):
        calendar_from_config({"years": {"2027": entry}})


def test_a_year_supplement_may_list_only_holidays_or_only_workdays_and_the_years_beside_it() -> None:
    only_holidays = calendar_from_config({"years": {"2027": {"holidays": ["2026-12-31", "2027-02-08"]}}})
    assert only_holidays.year_status(2027) == "supplement"
    assert not only_holidays.is_workday(date(2027, 2, 8))  # a Monday made a holiday
    assert not only_holidays.is_workday(date(2026, 12, 31))  # the year before, listed in 2027's notice
    only_workdays = calendar_from_config({"years": {"2027": {"workdays": ["2027-02-20", "2028-01-02"]}}})
    assert only_workdays.is_workday(date(2027, 2, 20))  # a Saturday made a workday
    assert only_workdays.is_workday(date(2028, 1, 2))  # the year after
    assert WorkCalendar(supplement={2027: {"holidays": [date(2027, 2, 8)]}}).year_status(2027) == "supplement"


def test_a_fallback_holiday_on_a_january_solar_term_is_kept() -> None:
    from ledger.clocks.calendar import FallbackRules

    cal = WorkCalendar(fallback=FallbackRules(solar_terms=("小寒", "清明")))
    days = cal.fallback_holidays(2027)  # 2027 has no official data: the fallback applies
    assert date(2027, 1, 5) in days and date(2027, 4, 5) in days  # 小寒 and 清明 of 2027
    assert not cal.is_workday(date(2027, 1, 5))  # a Tuesday, a holiday by this configuration


def test_counting_the_receipt_day_makes_a_one_day_period_end_that_day() -> None:
    counted = WorkCalendar(count_receipt_day=True)
    tuesday = datetime(2026, 3, 3, 9, 0, tzinfo=SH)
    assert counted.add_working_days(tuesday, 1).at == datetime(2026, 3, 3, 23, 59, 59, tzinfo=SH)
    assert counted.add_working_days(tuesday, 2).at == datetime(2026, 3, 4, 23, 59, 59, tzinfo=SH)
    assert counted.add_working_days(tuesday, 0).at == datetime(2026, 3, 3, 23, 59, 59, tzinfo=SH)
    saturday = datetime(2026, 3, 7, 9, 0, tzinfo=SH)  # not a working day: counting starts Monday
    assert counted.add_working_days(saturday, 1).at == datetime(2026, 3, 9, 23, 59, 59, tzinfo=SH)
    assert WorkCalendar().add_working_days(tuesday, 1).at == datetime(2026, 3, 4, 23, 59, 59, tzinfo=SH)


def test_hour_periods_of_zero_and_of_less_than_an_hour_are_allowed() -> None:
    cal = WorkCalendar()
    start = datetime(2026, 3, 7, 22, 0, tzinfo=SH)  # a Saturday night: hours run on any day
    assert cal.add_hours(start, 0).at == start
    assert cal.add_hours(start, 0.5).at == start + timedelta(minutes=30)
    assert cal.add_hours(start, 3).at == start + timedelta(hours=3) and not cal.add_hours(start, 3).provisional
    with pytest.raises(ValueError, match="小时数不能为负数"):
        cal.add_hours(start, -0.5)


def test_counting_working_days_back() -> None:
    cal = WorkCalendar()
    sunday, friday, thursday = date(2026, 3, 8), date(2026, 3, 6), date(2026, 3, 5)
    assert cal.working_day_back(sunday, 1) == friday  # a non-working day is not the first
    assert cal.working_day_back(sunday, 2) == thursday
    assert cal.working_day_back(friday, 1) == friday and cal.working_day_back(friday, 2) == thursday
    assert cal.working_day_back(sunday, 0) == sunday and cal.working_day_back(sunday, -3) == sunday


def test_a_reply_at_the_last_second_of_a_working_day_counts_that_day() -> None:
    cal = WorkCalendar()
    due = datetime(2026, 3, 6, 23, 59, 59, tzinfo=SH)  # a Friday deadline
    assert cal.working_days_late(due, due) == 0
    assert cal.working_days_late(due, datetime(2026, 3, 9, 23, 59, 59, tzinfo=SH)) == 1  # Monday's last second
    assert cal.working_days_late(due, datetime(2026, 3, 10, 0, 0, 0, tzinfo=SH)) == 2


def test_a_chinesecalendar_without_public_tables_is_asked_day_by_day(monkeypatch) -> None:
    """The calendar reads chinesecalendar's ``workdays`` / ``holidays`` tables directly for speed;
    a version of the library without them (simulated by hiding one) is asked through its own
    ``is_workday``, with the same answers."""
    import chinese_calendar

    days = [date(2024, 2, 1) + timedelta(days=i) for i in range(30)]  # 春节 2024 and its 调休 Sundays
    expected = [chinese_calendar.is_workday(d) for d in days]
    assert WorkCalendar().is_workday(date(2024, 2, 4)) is True  # a 调休 Sunday, read from the tables
    for hidden in ("workdays", "holidays"):
        with monkeypatch.context() as m:
            m.setattr(chinese_calendar, hidden, None)
            cal = WorkCalendar()
            assert [cal.is_workday(d) for d in days] == expected
            assert all(isinstance(cal.is_workday(d), bool) for d in days)


@pytest.mark.parametrize("year", [0, 10_000, 1900, 2099])
def test_years_no_library_covers_are_provisional(year) -> None:
    # 0 and 10000 are not even valid dates: the probe of the library fails, and the year is not trusted
    assert WorkCalendar().year_status(year) == "provisional"
    assert WorkCalendar().year_status(2026) == "official"


def test_a_supplement_may_give_toml_datetimes_and_instants_need_an_offset() -> None:
    from datetime import tzinfo

    class NoOffset(tzinfo):
        def utcoffset(self, dt):
            return None

    cal = WorkCalendar(supplement={2027: {"holidays": [datetime(2027, 2, 8, 0, 0)], "workdays": ["2027-02-20"]}})
    assert not cal.is_workday(date(2027, 2, 8)) and cal.is_workday(date(2027, 2, 20))
    with pytest.raises(ValueError, match="缺少时区"):
        cal.add_working_days(datetime(2026, 3, 3, 9, 0, tzinfo=NoOffset()), 1)
    with pytest.raises(ValueError, match="缺少时区"):
        cal.add_hours(datetime(2026, 3, 3, 9, 0), 1)


def test_the_end_of_day_may_be_a_toml_time() -> None:
    from datetime import time

    cal = calendar_from_config({"calendar": {"day_end": time(17, 30)}})  # `day_end = 17:30:00` in TOML
    assert cal.end_of_day(date(2026, 3, 6)) == datetime(2026, 3, 6, 17, 30, tzinfo=SH)
    assert calendar_from_config({"calendar": {"day_end": "18:00"}}).day_end == time(18, 0)
