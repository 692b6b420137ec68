"""The working-day calendar: official years, 调休, receipt-day rule, boundaries, provisional years."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from config.clockconfig import load_calendar
from config.settings import get_settings
from ledger.clocks.calendar import WorkCalendar, calendar_from_config

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, tzinfo=SH)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


def test_spring_festival_2024_facts_from_chinesecalendar(cal: WorkCalendar) -> None:
    # The facts the other tests rely on, read from the library rather than from memory.
    off = [date(2024, 2, 10) + timedelta(days=i) for i in range(8)]
    print("2024 春节:", [(d.isoformat(), chinese_calendar.get_holiday_detail(d)) for d in off])
    assert all(not chinese_calendar.is_workday(d) for d in off)
    for d in (date(2024, 2, 4), date(2024, 2, 18)):  # 调休 workdays: both are Sundays
        print(d, d.strftime("%A"), chinese_calendar.is_workday(d))
        assert d.weekday() == 6 and chinese_calendar.is_workday(d)
    assert chinese_calendar.is_workday(date(2024, 2, 9))  # 除夕 2024 was a working Friday
    assert cal.year_status(2024) == "official"
    assert [cal.is_workday(d) for d in off] == [False] * 8
    assert cal.is_workday(date(2024, 2, 4)) and cal.is_workday(date(2024, 2, 18))


def test_five_working_days_across_spring_festival_2024(cal: WorkCalendar) -> None:
    # received Wed 7 Feb: Thu 8, Fri 9, Sun 18 (调休), Mon 19, Tue 20
    due = cal.add_working_days(local(2024, 2, 7, 10, 0), 5)
    assert due.at == end_of(2024, 2, 20)
    assert due.provisional is False
    # the 调休 Sunday counts as a working day, the holiday Saturday does not
    assert cal.add_working_days(local(2024, 2, 9, 9, 0), 1).at == end_of(2024, 2, 18)
    assert cal.add_working_days(local(2024, 2, 3, 9, 0), 1).at == end_of(2024, 2, 4)


def test_day_of_receipt_is_not_counted_even_on_a_workday(cal: WorkCalendar) -> None:
    assert cal.add_working_days(local(2024, 2, 4, 8, 0), 1).at == end_of(2024, 2, 5)
    assert cal.add_working_days(local(2024, 2, 4, 8, 0), 0).at == end_of(2024, 2, 4)


def test_national_day_2025_with_its_tiaoxiu_days(cal: WorkCalendar) -> None:
    off = [date(2025, 10, 1) + timedelta(days=i) for i in range(8)]
    print("2025 国庆:", [(d.isoformat(), chinese_calendar.get_holiday_detail(d)) for d in off])
    assert all(not chinese_calendar.is_workday(d) for d in off)
    assert date(2025, 9, 28).weekday() == 6 and chinese_calendar.is_workday(date(2025, 9, 28))
    assert date(2025, 10, 11).weekday() == 5 and chinese_calendar.is_workday(date(2025, 10, 11))
    start = local(2025, 9, 26, 14, 0)  # Friday
    # Sun 28 (调休), Mon 29, Tue 30, Thu 9, Fri 10, Sat 11 (调休)
    assert cal.add_working_days(start, 1).at == end_of(2025, 9, 28)
    assert cal.add_working_days(start, 3).at == end_of(2025, 9, 30)
    assert cal.add_working_days(start, 4).at == end_of(2025, 10, 9)
    assert cal.add_working_days(start, 5).at == end_of(2025, 10, 10)
    assert cal.add_working_days(start, 6).at == end_of(2025, 10, 11)
    assert cal.add_working_days(start, 7).at == end_of(2025, 10, 13)


def test_midnight_boundary_uses_the_shanghai_date(cal: WorkCalendar) -> None:
    # Thursday 23:59:59 in Shanghai: receipt day Thursday, due end of Friday
    thu_late = local(2026, 3, 5, 23, 59, 59)
    assert cal.add_working_days(thu_late, 1).at == end_of(2026, 3, 6)
    # one second later it is Friday in Shanghai (still Thursday in UTC): due Monday
    fri_midnight = datetime(2026, 3, 5, 16, 0, 0, tzinfo=UTC)
    assert fri_midnight.date() == date(2026, 3, 5)
    assert cal.add_working_days(fri_midnight, 1).at == end_of(2026, 3, 9)
    # the deadline itself is the last second of the day
    assert cal.add_working_days(thu_late, 1).at.time() == time(23, 59, 59)


def test_end_of_year_boundary_into_2026(cal: WorkCalendar) -> None:
    for d in (date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)):
        print(d, chinese_calendar.get_holiday_detail(d))
        assert not chinese_calendar.is_workday(d)
    assert chinese_calendar.is_workday(date(2026, 1, 4))  # 调休 Sunday
    due = cal.add_working_days(local(2025, 12, 31, 17, 0), 1)
    assert due.at == end_of(2026, 1, 4) and not due.provisional
    assert cal.add_working_days(local(2025, 12, 31, 17, 0), 2).at == end_of(2026, 1, 5)


def test_deadline_running_into_2027_without_data_is_provisional(cal: WorkCalendar) -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))
    assert cal.year_status(2026) == "official"
    assert cal.year_status(2027) == "provisional"
    # Mon 28 Dec 2026: Tue 29, Wed 30, Thu 31, (Fri 1 Jan 元旦 by law), Mon 4, Tue 5
    due = cal.add_working_days(local(2026, 12, 28, 10, 0), 5)
    assert due.at == end_of(2027, 1, 5)
    assert due.provisional is True
    # a period that ends inside 2026 is not provisional
    inside = cal.add_working_days(local(2026, 12, 21, 10, 0), 3)
    assert inside.at == end_of(2026, 12, 24) and inside.provisional is False
    # calendar hours never depend on the holiday calendar
    hours = cal.add_hours(local(2026, 12, 31, 22, 0), 5)
    assert hours.at == local(2027, 1, 1, 3, 0) and hours.provisional is False


def test_supplement_for_2027_makes_the_deadline_official() -> None:
    cfg = {
        "years": {
            "2027": {
                "holidays": ["2027-01-01", "2027-01-04", "2027-01-05"],
                "workdays": ["2027-01-09"],
            }
        }
    }
    cal = calendar_from_config(cfg)
    assert cal.year_status(2027) == "supplement"
    due = cal.add_working_days(local(2026, 12, 28, 10, 0), 5)
    # Tue 29, Wed 30, Thu 31, Wed 6, Thu 7 (4 and 5 Jan are holidays in the supplement)
    assert due.at == end_of(2027, 1, 7)
    assert due.provisional is False
    assert cal.is_workday(date(2027, 1, 9))  # a supplied 调休 Saturday
    assert not cal.is_workday(date(2027, 1, 10))  # an ordinary Sunday
    assert cal.missing_next_year(local(2026, 12, 15, 9, 0)) is None


def test_fallback_holidays_match_the_official_calendar_where_known(cal: WorkCalendar) -> None:
    # the law-only holiday set must be a subset of the official days off (post-2024 rules)
    for year in (2025, 2026):
        fallback = cal.fallback_holidays(year)
        assert len(fallback) == 13
        details = {d: chinese_calendar.get_holiday_detail(d) for d in sorted(fallback)}
        print(year, details)
        assert all(is_holiday for is_holiday, _ in details.values())
        names = {name for _, name in details.values()}
        assert names == {
            "New Year's Day", "Spring Festival", "Tomb-sweeping Day", "Labour Day",
            "Dragon Boat Festival", "Mid-autumn Festival", "National Day",
        }


def test_fallback_for_2027_has_lunar_holidays_and_qingming(cal: WorkCalendar) -> None:
    fb = cal.fallback_holidays(2027)
    # 除夕 Fri 5 Feb, 初一 Sat 6 Feb, 初三 Mon 8 Feb; 清明 Mon 5 Apr; 端午 Wed 9 Jun; 中秋 Wed 15 Sep
    for d in (date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 8), date(2027, 4, 5),
              date(2027, 6, 9), date(2027, 9, 15), date(2027, 5, 1), date(2027, 10, 1)):
        assert d in fb, d
    for d in (date(2027, 2, 5), date(2027, 2, 8), date(2027, 4, 5), date(2027, 6, 9), date(2027, 9, 15)):
        assert d.weekday() < 5 and not cal.is_workday(d), d
    # no 调休 is invented: the weekend around 春节 stays off, the following Monday works
    assert not cal.is_workday(date(2027, 2, 7))
    assert cal.is_workday(date(2027, 2, 9))
    # 清明 by the solar-term formula: 4 April in 2028 (leap year), 5 April in 2027
    assert date(2028, 4, 4) in cal.fallback_holidays(2028)
    assert date(2028, 4, 5) not in cal.fallback_holidays(2028)
    # a period across 端午 2027 skips it and is provisional
    due = cal.add_working_days(local(2027, 6, 8, 9, 0), 1)
    assert due.at == end_of(2027, 6, 10) and due.provisional


def test_years_outside_every_source_never_crash(cal: WorkCalendar) -> None:
    assert cal.year_status(2003) == "provisional"
    assert cal.year_status(2150) == "provisional"
    due = cal.add_working_days(local(2150, 1, 1, 9, 0), 3)  # beyond the lunar tables
    assert due.provisional
    assert date(2150, 10, 1) in cal.fallback_holidays(2150)


def test_working_days_late(cal: WorkCalendar) -> None:
    due = end_of(2026, 3, 6)  # Friday
    assert cal.working_days_late(due, local(2026, 3, 6, 18, 0)) == 0
    assert cal.working_days_late(due, due) == 0
    assert cal.working_days_late(due, local(2026, 3, 7, 10, 0)) == 1  # Saturday
    assert cal.working_days_late(due, local(2026, 3, 9, 10, 0)) == 1  # Monday
    assert cal.working_days_late(due, local(2026, 3, 10, 0, 0)) == 2  # Tuesday midnight
    # across 国庆 2025: due Tue 30 Sep, done Thu 9 Oct is one working day late
    assert cal.working_days_late(end_of(2025, 9, 30), local(2025, 10, 9, 10, 0)) == 1
    assert cal.working_days_late(end_of(2025, 9, 30), local(2025, 10, 11, 10, 0)) == 3


def test_missing_next_year_warning() -> None:
    cal = WorkCalendar()
    assert cal.missing_next_year(local(2026, 11, 30, 23, 0)) is None
    assert cal.missing_next_year(local(2026, 12, 1, 0, 0)) == 2027
    # 1 Dec 00:30 in Shanghai is still 30 Nov in UTC: the local month decides
    assert cal.missing_next_year(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == 2027
    assert cal.missing_next_year(local(2025, 12, 10, 0, 0)) is None  # 2026 is known
    assert cal.missing_next_year(local(2027, 3, 1, 0, 0)) == 2027  # the current year itself
    assert WorkCalendar(warn_month=11).missing_next_year(local(2026, 11, 2, 0, 0)) == 2027


def test_bad_input_is_refused_clearly(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="时区"):
        cal.add_working_days(datetime(2026, 3, 2, 10, 0), 1)
    with pytest.raises(ValueError, match="负数"):
        cal.add_working_days(local(2026, 3, 2), -1)
    with pytest.raises(ValueError, match="负数"):
        cal.add_hours(local(2026, 3, 2), -1)
    with pytest.raises(ValueError, match="整数"):
        cal.add_working_days(local(2026, 3, 2), 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="无法解析的日期"):
        calendar_from_config({"years": {"2027": {"holidays": ["2027-13-01"]}}})
    with pytest.raises(ValueError, match="既是假日又是工作日"):
        calendar_from_config({"years": {"2027": {"holidays": ["2027-01-02"], "workdays": ["2027-01-02"]}}})
    with pytest.raises(ValueError, match="不属于"):
        calendar_from_config({"years": {"2027": {"holidays": ["2072-01-01"]}}})
    with pytest.raises(ValueError, match="未知"):
        calendar_from_config({"years": {"2027": {"holiday": ["2027-01-01"]}}})
    with pytest.raises(ValueError, match="day_end"):
        calendar_from_config({"calendar": {"day_end": "25:00"}})


def test_shipped_config_and_options() -> None:
    cal = load_calendar(get_settings())
    assert cal.year_status(2027) == "provisional"  # shipped without 2027: nobody guessed it
    assert cal.add_working_days(local(2024, 2, 7, 10, 0), 5).at == end_of(2024, 2, 20)
    counting = calendar_from_config({"calendar": {"count_receipt_day": True, "day_end": "18:00:00"}})
    # received on a working Monday, counted as day 1: due Tuesday 18:00
    assert counting.add_working_days(local(2026, 3, 2, 9, 0), 2).at == local(2026, 3, 3, 18, 0)


def test_every_official_day_agrees_with_chinesecalendar(cal: WorkCalendar) -> None:
    day, checked = date(2004, 1, 1), 0
    while day <= date(2026, 12, 31):
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)
        checked += 1
    assert checked == 8401


def test_fallback_rules_from_config_are_checked_and_default_sensibly() -> None:
    import dataclasses

    from ledger.clocks.calendar import Due, FallbackRules

    default = FallbackRules()
    assert FallbackRules.from_config(None) == default and FallbackRules.from_config({}) == default
    only_solar = FallbackRules.from_config({"solar": ["01-01", "12-31", "1-1"]})
    assert only_solar.solar == ("01-01", "12-31", "1-1") and only_solar.lunar == default.lunar
    assert only_solar.lunar_new_year_eve is True and only_solar.solar_terms == ("清明",)
    assert FallbackRules.from_config({"lunar_new_year_eve": False}).lunar_new_year_eve is False
    for bad in ("13-01", "00-10", "01-32", "12-00"):
        with pytest.raises(ValueError, match=f"日期无效: '{bad}'"):
            FallbackRules.from_config({"solar": [bad]})
    with pytest.raises(ValueError, match="日期无效"):
        FallbackRules.from_config({"lunar": ["01-01", "13-13"]})
    with pytest.raises(ValueError, match="格式应为 MM-DD: '0101'"):
        FallbackRules.from_config({"lunar": ["0101"]})
    with pytest.raises(dataclasses.FrozenInstanceError):  # rules and deadlines are values
        default.solar = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        Due(datetime(2026, 3, 2, tzinfo=UTC), False).provisional = True


def test_warn_month_must_be_a_month() -> None:
    assert WorkCalendar(warn_month=1).warn_month == 1 and WorkCalendar(warn_month=12).warn_month == 12
    for bad in (0, 13):
        with pytest.raises(ValueError, match="warn_month 应为 1–12"):
            WorkCalendar(warn_month=bad)
