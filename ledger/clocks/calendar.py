"""China's working-day calendar: statutory holidays, 调休 workdays, and deadlines counted on them.

Three sources, in order of authority for a given year:

1. ``supplement`` — the 国务院办公厅 holiday notice for a year, entered by an administrator in
   ``holidays.toml`` (status ``"supplement"``); it overrides everything for the dates it lists;
2. the ``chinesecalendar`` package for the years it knows (2004–2026 in 1.11; status ``"official"``);
3. for any other year, weekends plus the holidays fixed by 《全国年节及纪念日放假办法》 itself
   (元旦, 春节 incl. 除夕, 清明, 劳动节, 端午, 中秋, 国庆) without 调休 (status ``"provisional"``).
   Every deadline whose counting touches such a year is returned with ``provisional=True``.

Working-day periods follow the usual rule: the day of receipt is not counted and the deadline is
the end (``day_end``, 23:59:59 by default) of the N-th working day after it, in ``tz``.
Pure: no I/O, no clock reads; every instant is timezone-aware.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from lunardate import LunarDate

OFFICIAL = "official"
SUPPLEMENT = "supplement"
PROVISIONAL = "provisional"


@dataclass(frozen=True)
class Due:
    """A deadline instant and whether it rests on a provisional (unpublished) calendar year."""

    at: datetime
    provisional: bool


@dataclass(frozen=True)
class FallbackRules:
    """Holidays fixed by law, used for years with neither official data nor a supplement.

    Defaults: 《全国年节及纪念日放假办法》 as amended in 2024 (国务院令第795号), Art. 2 — 元旦 1 day,
    春节 4 days (除夕 and 初一 to 初三), 清明 1 day, 劳动节 2 days, 端午 1 day, 中秋 1 day, 国庆 3 days.
    """

    solar: tuple[str, ...] = ("01-01", "05-01", "05-02", "10-01", "10-02", "10-03")
    lunar: tuple[str, ...] = ("01-01", "01-02", "01-03", "05-05", "08-15")
    lunar_new_year_eve: bool = True
    solar_terms: tuple[str, ...] = ("清明",)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> FallbackRules:
        if not cfg:
            return cls()
        out = cls(
            solar=tuple(str(x) for x in cfg.get("solar", cls.solar)),
            lunar=tuple(str(x) for x in cfg.get("lunar", cls.lunar)),
            lunar_new_year_eve=bool(cfg.get("lunar_new_year_eve", True)),
            solar_terms=tuple(str(x) for x in cfg.get("solar_terms", cls.solar_terms)),
        )
        for md in out.solar + out.lunar:
            _parse_month_day(md)
        return out


def _parse_month_day(value: str) -> tuple[int, int]:
    try:
        month, day = (int(part) for part in value.split("-"))
    except ValueError:
        raise ValueError(f"节假日规则中的日期格式应为 MM-DD: {value!r}") from None
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError(f"节假日规则中的日期无效: {value!r}")
    return month, day


@dataclass
class _YearSupplement:
    holidays: set[date] = field(default_factory=set)
    workdays: set[date] = field(default_factory=set)


class WorkCalendar:
    """Working days of mainland China, with deadline arithmetic.

    ``supplement`` maps a year to ``{"holidays": [dates], "workdays": [dates]}`` (ISO strings or
    ``date`` objects); a year listed there is complete data for that year. ``count_receipt_day``
    makes the day of receipt count as day 1 when it is a working day (default: not counted).
    """

    def __init__(
        self,
        supplement: Mapping[int, Mapping[str, Any]] | None = None,
        tz: str = "Asia/Shanghai",
        day_end: time = time(23, 59, 59),
        *,
        count_receipt_day: bool = False,
        warn_month: int = 12,
        fallback: FallbackRules | None = None,
    ) -> None:
        self.tz = ZoneInfo(tz)
        self.tz_name = tz
        self.day_end = day_end
        self.count_receipt_day = count_receipt_day
        if not 1 <= int(warn_month) <= 12:
            raise ValueError(f"warn_month 应为 1–12: {warn_month!r}")
        self.warn_month = int(warn_month)
        self.fallback = fallback or FallbackRules()
        self._supplement: dict[int, _YearSupplement] = {}
        self._override: dict[date, bool] = {}
        for year, entry in (supplement or {}).items():
            self._add_supplement(int(year), entry or {})
        self._workday_cache: dict[date, bool] = {}
        self._status_cache: dict[int, str] = {}
        self._fallback_cache: dict[int, frozenset[date]] = {}
        self._add_cache: dict[tuple[date, int], tuple[date, bool]] = {}

    # ------------------------------------------------------------------ data
    def _add_supplement(self, year: int, entry: Mapping[str, Any]) -> None:
        unknown = set(entry) - {"holidays", "workdays", "source", "note"}
        if unknown:
            raise ValueError(f"[years.{year}] 含未知字段: {sorted(unknown)}")
        sup = _YearSupplement()
        for key, target in (("holidays", sup.holidays), ("workdays", sup.workdays)):
            values = entry.get(key, [])
            if isinstance(values, str | bytes) or not isinstance(values, Iterable):
                raise ValueError(f"[years.{year}] {key} 应为日期列表")  # noqa: TRY004
            for raw in values:
                d = _as_date(raw, f"[years.{year}] {key}")
                if abs(d.year - year) > 1:
                    raise ValueError(f"[years.{year}] {key} 中的日期 {d} 不属于 {year} 年前后")
                target.add(d)
        both = sup.holidays & sup.workdays
        if both:
            raise ValueError(f"[years.{year}] 同一日期既是假日又是工作日: {sorted(str(d) for d in both)}")
        if not sup.holidays and not sup.workdays:
            raise ValueError(f"[years.{year}] 没有任何日期: 请填写 holidays 与 workdays, 或删除该节")
        self._supplement[year] = sup
        for d in sup.holidays:
            self._override[d] = False
        for d in sup.workdays:
            self._override[d] = True

    def year_status(self, year: int) -> str:
        """``"supplement"`` (config), ``"official"`` (chinesecalendar) or ``"provisional"`` (law only)."""
        status = self._status_cache.get(year)
        if status is None:
            if year in self._supplement:
                status = SUPPLEMENT
            elif _official_known(year):
                status = OFFICIAL
            else:
                status = PROVISIONAL
            self._status_cache[year] = status
        return status

    def is_workday(self, d: date) -> bool:
        """Whether ``d`` (a local calendar date) is a working day."""
        if isinstance(d, datetime):
            d = d.astimezone(self.tz).date()
        cached = self._workday_cache.get(d)
        if cached is not None:
            return cached
        override = self._override.get(d)
        if override is not None:
            result = override
        else:
            status = self.year_status(d.year)
            if status == OFFICIAL:
                result = _official_is_workday(d)
            elif status == SUPPLEMENT:
                result = d.weekday() < 5
            else:
                result = d.weekday() < 5 and d not in self.fallback_holidays(d.year)
        self._workday_cache[d] = result
        return result

    def is_provisional_day(self, d: date) -> bool:
        return d not in self._override and self.year_status(d.year) == PROVISIONAL

    def fallback_holidays(self, year: int) -> frozenset[date]:
        """The holidays fixed by law for ``year`` (no 调休, no 补假): used for provisional years."""
        cached = self._fallback_cache.get(year)
        if cached is not None:
            return cached
        days: set[date] = set()
        fb = self.fallback
        for md in fb.solar:
            month, day = _parse_month_day(md)
            try:
                days.add(date(year, month, day))
            except ValueError:
                continue
        try:
            for md in fb.lunar:
                month, day = _parse_month_day(md)
                days.add(LunarDate(year, month, day).to_solar_date())
            if fb.lunar_new_year_eve:
                days.add(LunarDate(year, 1, 1).to_solar_date() - timedelta(days=1))
        except ValueError:
            pass  # outside lunardate's range (1900–2099): weekends and solar holidays only
        if fb.solar_terms:
            try:
                for d, name in chinese_calendar.get_solar_terms(date(year, 1, 1), date(year, 12, 31)):
                    if name in fb.solar_terms:
                        days.add(d)
            except (NotImplementedError, ValueError):
                pass  # outside 1900–2100
        result = frozenset(days)
        self._fallback_cache[year] = result
        return result

    # ------------------------------------------------------------- arithmetic
    def local_date(self, instant: datetime) -> date:
        return _aware(instant).astimezone(self.tz).date()

    def end_of_day(self, d: date) -> datetime:
        """The deadline instant of local date ``d`` (``day_end`` in ``tz``)."""
        return datetime.combine(d, self.day_end, tzinfo=self.tz)

    def start_of_day(self, d: date) -> datetime:
        return datetime.combine(d, time(0, 0), tzinfo=self.tz)

    def nth_working_day_after(self, d: date, n: int) -> tuple[date, bool]:
        """The ``n``-th working day after local date ``d`` (``d`` itself not counted unless
        ``count_receipt_day``), and whether a provisional year was touched."""
        if n < 0:
            raise ValueError(f"工作日数不能为负数: {n}")
        key = (d, n)
        hit = self._add_cache.get(key)
        if hit is not None:
            return hit
        provisional = self.is_provisional_day(d)
        count = 0
        cur = d
        if self.count_receipt_day and n > 0 and self.is_workday(d):
            count = 1
        while count < n:
            cur += timedelta(days=1)
            if self.is_provisional_day(cur):
                provisional = True
            if self.is_workday(cur):
                count += 1
        result = (cur, provisional)
        self._add_cache[key] = result
        return result

    def add_working_days(self, start: datetime, n: int) -> Due:
        """Deadline of a period of ``n`` working days received at ``start``."""
        n = _int_count(n)
        end_date, provisional = self.nth_working_day_after(self.local_date(start), n)
        return Due(self.end_of_day(end_date), provisional)

    def add_hours(self, start: datetime, hours: float) -> Due:
        """Deadline ``hours`` calendar hours after ``start`` (never provisional)."""
        if hours < 0:
            raise ValueError(f"小时数不能为负数: {hours}")
        return Due(_aware(start) + timedelta(hours=hours), False)

    def working_day_back(self, d: date, k: int) -> date:
        """The ``k``-th working day counting back from ``d`` (``d`` itself is the first if it is
        a working day); ``k <= 0`` gives ``d``."""
        cur = d
        if k <= 0:
            return d
        count = 1 if self.is_workday(cur) else 0
        while count < k:
            cur -= timedelta(days=1)
            if self.is_workday(cur):
                count += 1
        return cur

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days d with local(start) < d <= local(end) (0 when end is not later)."""
        a, b = self.local_date(start), self.local_date(end)
        count = 0
        cur = a
        while cur < b:
            cur += timedelta(days=1)
            if self.is_workday(cur):
                count += 1
        return count

    def working_days_late(self, due: datetime, done: datetime) -> int:
        """0 when ``done`` is on time; otherwise the smallest k >= 1 such that ``done`` falls
        before the end of the k-th working day after the due date (a reply on the Saturday after
        a Friday deadline is 1 working day late, as is one on the Monday)."""
        due, done = _aware(due), _aware(done)
        if done <= due:
            return 0
        cur = self.local_date(due)
        k = 0
        while True:
            cur += timedelta(days=1)
            if self.is_workday(cur):
                k += 1
                if done <= self.end_of_day(cur):
                    return k

    def missing_next_year(self, now: datetime) -> int | None:
        """The year whose calendar should be supplied now: the current year if it is only
        provisional; next year from ``warn_month`` (December) on if it is neither official nor
        supplied; otherwise None."""
        local = _aware(now).astimezone(self.tz)
        if self.year_status(local.year) == PROVISIONAL:
            return local.year
        if local.month >= self.warn_month and self.year_status(local.year + 1) == PROVISIONAL:
            return local.year + 1
        return None


def _official_is_workday(d: date) -> bool:
    """chinesecalendar's answer for a year it knows (its tables read directly: its own
    ``is_workday`` validates the range on every call, which dominates bulk imports)."""
    tables = (getattr(chinese_calendar, "workdays", None), getattr(chinese_calendar, "holidays", None))
    if isinstance(tables[0], dict) and isinstance(tables[1], dict):
        return d in tables[0] or (d.weekday() < 5 and d not in tables[1])
    return bool(chinese_calendar.is_workday(d))


def _official_known(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    except Exception:  # any other failure of the library: do not trust it for that year  # noqa: BLE001
        return False
    return True


def _aware(value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"需要 datetime, 得到 {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"时间缺少时区 (naive datetime refused): {value!r}")
    return value


def _int_count(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int | float) or int(n) != n:
        raise ValueError(f"工作日数应为非负整数: {n!r}")
    if n < 0:
        raise ValueError(f"工作日数不能为负数: {n}")
    return int(n)


def _as_date(raw: Any, where: str) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValueError(f"{where}: 无法解析的日期 {raw!r} (应为 YYYY-MM-DD)") from None


def _parse_time(raw: Any) -> time:
    if isinstance(raw, time):
        return raw
    try:
        return time.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValueError(f"[calendar] day_end 无法解析: {raw!r} (应为 HH:MM:SS)") from None


def calendar_from_config(holidays_cfg: Mapping[str, Any] | None) -> WorkCalendar:
    """Build the calendar from the parsed ``holidays.toml``; errors name the offending entry."""
    cfg = dict(holidays_cfg or {})
    unknown = set(cfg) - {"calendar", "fallback", "years"}
    if unknown:
        raise ValueError(f"holidays.toml 含未知的节: {sorted(unknown)}")
    cal = dict(cfg.get("calendar") or {})
    years_raw = cfg.get("years") or {}
    if not isinstance(years_raw, Mapping):
        raise ValueError("holidays.toml: [years.YYYY] 应为表")  # noqa: TRY004
    years: dict[int, Mapping[str, Any]] = {}
    for key, entry in years_raw.items():
        try:
            year = int(key)
        except ValueError:
            raise ValueError(f"holidays.toml: 年份无效 [years.{key}]") from None
        if not isinstance(entry, Mapping):
            raise ValueError(f"holidays.toml: [years.{key}] 应为表")  # noqa: TRY004
        years[year] = entry
    return WorkCalendar(
        supplement=years,
        tz=str(cal.get("timezone", "Asia/Shanghai")),
        day_end=_parse_time(cal.get("day_end", "23:59:59")),
        count_receipt_day=bool(cal.get("count_receipt_day", False)),
        warn_month=int(cal.get("warn_month", 12)),
        fallback=FallbackRules.from_config(cfg.get("fallback")),
    )
