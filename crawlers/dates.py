"""Dates as Chinese sites and exports write them, read in local time relative to the fetch time.

:func:`parse_cn_datetime` turns the many ways a 发布时间 appears on news portals, 留言板 platforms,
JSON APIs and 12345 hotline exports into an aware UTC datetime:

* absolute: ``2019/4/25 9:32:09``, ``2019-04-08 08:37:20``, ``2020年1月6日 12:09``, ``2020.01.06``,
  ISO 8601 with or without an offset, RFC 2822 (feeds);
* without a year: ``01-06 12:09``, ``1月6日 12:09`` (the year of ``now``, or the previous year
  when that would put the time in the future);
* relative: ``刚刚``, ``30秒前``, ``5分钟前``, ``半小时前``, ``3小时前``, ``2天前``, ``今天 10:20``,
  ``昨天 08:01``, ``前天 …``, a bare ``10:20`` (today);
* numbers: Excel serial dates (``43580.39``), Unix timestamps in seconds or milliseconds.

Text around the date (``发布时间：2020-01-06 12:09 来源：某某网``) is tolerated. Naive values are
read in ``tz`` (Asia/Shanghai by default). Unparseable non-empty input raises :class:`ValueError`
with a clear message; empty input gives ``None``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

__all__ = ["parse_cn_datetime"]

# Excel's 1900 date system: serial 1 is 1900-01-01, and the day 1900-02-29 that never was is
# counted; taking 1899-12-30 as day 0 is right for every date from 1900-03-01 on.
_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_MAX = 2_958_465  # 9999-12-31
# Numbers in this range are Excel serials (1900-01-01 .. about 2173); above it, Unix timestamps.
_EXCEL_RANGE = (1.0, 100_000.0)
# A time "in the future" by less than this is taken as clock skew, not as last year's date.
_FUTURE_SLACK = timedelta(minutes=10)

_TIME = r"(?:(?P<ampm>上午|下午|早上|中午|晚上|凌晨|AM|PM|am|pm)\s*)?" \
        r"(?P<h>\d{1,2})\s*[:时点]\s*(?P<mi>\d{1,2})(?:\s*[:分]\s*(?P<s>\d{1,2})(?:\.\d+)?\s*秒?)?分?"
_OFFSET = r"(?:\s*(?P<z>Z|UTC|GMT|[+-]\d{2}:?\d{2}))?"

_FULL = re.compile(
    r"(?<!\d)(?P<y>\d{4})\s*(?:[-/.]|年)\s*(?P<mo>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})(?!\d)\s*日?"
    r"(?:\s*(?:T|\s)?\s*" + _TIME + r")?" + _OFFSET
)
_NO_YEAR = re.compile(
    r"(?<![\d./-])(?P<mo>\d{1,2})\s*(?:[-/]|月)\s*(?P<d>\d{1,2})(?!\d)\s*日?(?:\s*" + _TIME + r")?"
)
_DAY_WORD = re.compile(r"(?P<word>今天|今日|昨天|昨日|前天)\s*(?:" + _TIME + r")?")
_TIME_ONLY = re.compile(r"^\s*" + _TIME + r"\s*$")
_AGO = re.compile(
    r"(?P<n>\d+|半|一|两|几)\s*(?P<unit>秒钟?|分钟|分|小时|个小时|钟头|个钟头|天|日|周|星期|个星期|个月|月|年)\s*(?:之)?前"
)
_JUST_NOW = re.compile(r"刚刚|刚才|just now", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*[+-]?\d+(?:\.\d+)?\s*$")

_UNIT_SECONDS = {
    "秒": 1, "秒钟": 1, "分": 60, "分钟": 60, "小时": 3600, "个小时": 3600, "钟头": 3600,
    "个钟头": 3600, "天": 86400, "日": 86400, "周": 7 * 86400, "星期": 7 * 86400,
    "个星期": 7 * 86400, "个月": 30 * 86400, "月": 30 * 86400, "年": 365 * 86400,
}
_DAY_BACK = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2}


def parse_cn_datetime(value: str | int | float | datetime | None, *, now: datetime,
                      tz: str = "Asia/Shanghai") -> datetime | None:
    """Parse ``value`` (as written on a Chinese site or in an export) to an aware UTC datetime.

    ``now`` is the fetch time (aware); relative and year-less dates are read against it in ``tz``.
    Returns ``None`` for ``None`` or blank input; raises :class:`ValueError` for anything else
    that is not a date.
    """
    if now.tzinfo is None:
        raise ValueError("now 必须带时区 (now must be timezone-aware)")
    zone = ZoneInfo(tz)
    if value is None:
        return None
    if isinstance(value, datetime):
        return _to_utc(value, zone)
    if isinstance(value, date):
        return _to_utc(datetime.combine(value, time()), zone)
    if isinstance(value, bool):
        raise ValueError(f"无法识别的时间: {value!r} (not a date)")
    if isinstance(value, int | float):
        return _from_number(float(value), zone)
    if not isinstance(value, str):
        raise ValueError(f"无法识别的时间类型: {type(value).__name__} (unsupported date type)")
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None
    result = _parse_text(text, now=now, zone=zone)
    if result is None:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise ValueError(f"无法识别的时间格式: {shown!r} (unrecognised date/time)")
    return result


def _to_utc(dt: datetime, zone: ZoneInfo) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return dt.astimezone(UTC)


def _from_number(number: float, zone: ZoneInfo) -> datetime:
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"无法识别的时间: {number!r} (not a date)")
    if _EXCEL_RANGE[0] <= number < _EXCEL_RANGE[1]:
        days = int(number)
        seconds = round((number - days) * 86400)
        local = datetime.combine(_EXCEL_EPOCH, time()) + timedelta(days=days, seconds=seconds)
        return local.replace(tzinfo=zone).astimezone(UTC)
    if 1e8 <= number < 1e11:  # Unix seconds (1973 .. 5138)
        return datetime.fromtimestamp(number, UTC)
    if 1e11 <= number < 1e14:  # Unix milliseconds
        return datetime.fromtimestamp(number / 1000.0, UTC)
    raise ValueError(f"数字 {number!r} 不是 Excel 日期序号或 Unix 时间戳 (number is not a date)")


def _hour(match: re.Match, default: int = 0) -> tuple[int, int, int]:
    if match.group("h") is None:
        return default, 0, 0
    hour, minute = int(match.group("h")), int(match.group("mi"))
    second = int(match.group("s")) if match.group("s") else 0
    ampm = (match.group("ampm") or "").lower()
    if ampm in ("下午", "晚上", "pm") and hour < 12:
        hour += 12
    elif ampm == "中午" and hour < 11:
        hour += 12
    elif ampm in ("凌晨", "am", "上午", "早上") and hour == 12:
        hour = 0
    return hour, minute, second


def _local(zone: ZoneInfo, y: int, mo: int, d: int, hms: tuple[int, int, int]) -> datetime:
    try:
        return datetime(y, mo, d, *hms, tzinfo=zone)
    except ValueError as exc:
        raise ValueError(f"日期不存在: {y}-{mo}-{d} {hms[0]}:{hms[1]:02d}:{hms[2]:02d} ({exc})") from exc


def _offset(match: re.Match) -> timedelta | None:
    z = match.group("z")
    if not z:
        return None
    if z in ("Z", "UTC", "GMT"):
        return timedelta(0)
    sign = -1 if z[0] == "-" else 1
    digits = z[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def _parse_text(text: str, *, now: datetime, zone: ZoneInfo) -> datetime | None:
    local_now = now.astimezone(zone)
    if _NUMBER.match(text):
        return _from_number(float(text), zone)
    if _JUST_NOW.search(text):
        return now.astimezone(UTC)
    ago = _AGO.search(text)
    if ago:
        n = ago.group("n")
        count = {"半": 0.5, "一": 1, "两": 2, "几": 3}.get(n) or float(n)
        return (now - timedelta(seconds=count * _UNIT_SECONDS[ago.group("unit")])).astimezone(UTC)
    # ISO 8601 (also "2019-04-08 08:37:20"), then RFC 2822 as feeds write it.
    try:
        return _to_utc(datetime.fromisoformat(text), zone)
    except ValueError:
        pass
    if re.search(r"[A-Za-z]{3},?\s+\d{1,2}\s+[A-Za-z]{3}\s+\d{4}", text):
        try:
            return _to_utc(parsedate_to_datetime(text), zone)
        except (TypeError, ValueError, IndexError):
            pass
    full = _FULL.search(text)
    if full:
        dt = _local(zone, int(full.group("y")), int(full.group("mo")), int(full.group("d")), _hour(full))
        off = _offset(full)
        if off is not None:
            dt = dt.replace(tzinfo=None) - off
            return dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    word = _DAY_WORD.search(text)
    if word:
        day = local_now.date() - timedelta(days=_DAY_BACK[word.group("word")])
        return _local(zone, day.year, day.month, day.day, _hour(word)).astimezone(UTC)
    short = _NO_YEAR.search(text)
    if short:
        mo, d, hms = int(short.group("mo")), int(short.group("d")), _hour(short)
        if 1 <= mo <= 12:
            year = local_now.year
            # The most recent year in which the date exists and is not in the future (29 Feb!).
            while year > local_now.year - 8:
                if _valid(year, mo, d):
                    candidate = _local(zone, year, mo, d, hms)
                    if candidate <= local_now + _FUTURE_SLACK:
                        return candidate.astimezone(UTC)
                year -= 1
            raise ValueError(f"日期不存在: {mo}月{d}日 (no such day)")
    only = _TIME_ONLY.match(text)
    if only:
        day = local_now.date()
        candidate = _local(zone, day.year, day.month, day.day, _hour(only))
        if candidate > local_now + _FUTURE_SLACK:
            candidate -= timedelta(days=1)
        return candidate.astimezone(UTC)
    return None


def _valid(y: int, mo: int, d: int) -> bool:
    try:
        date(y, mo, d)
    except ValueError:
        return False
    return True
