"""Chinese date formats read in Asia/Shanghai relative to the fetch time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crawlers.dates import parse_cn_datetime

# 2026-01-03 12:00 in Shanghai.
NOW = datetime(2026, 1, 3, 4, 0, tzinfo=UTC)
SH = timezone(timedelta(hours=8))


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH).astimezone(UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019/4/25 9:32:09", sh(2019, 4, 25, 9, 32, 9)),
        ("2019-04-08 08:37:20", sh(2019, 4, 8, 8, 37, 20)),
        ("2020年1月6日 12:09", sh(2020, 1, 6, 12, 9)),
        ("2020年01月06日 下午3:05", sh(2020, 1, 6, 15, 5)),
        ("2020年1月6日12时09分", sh(2020, 1, 6, 12, 9)),
        ("2019.4.25", sh(2019, 4, 25)),
        ("２０２０－０１－０６　１２：０９", sh(2020, 1, 6, 12, 9)),  # full-width
        ("发布时间：2020-01-06 12:09  来源：某某网", sh(2020, 1, 6, 12, 9)),
        # No year: this year, or last year when this year's date is still to come.
        ("01-02 12:09", sh(2026, 1, 2, 12, 9)),
        ("01-06 12:09", sh(2025, 1, 6, 12, 9)),
        ("12-31 23:59", sh(2025, 12, 31, 23, 59)),
        ("1月6日 12:09", sh(2025, 1, 6, 12, 9)),
        ("02-29 10:00", sh(2024, 2, 29, 10)),  # no 29 Feb in 2026 or 2025 ... falls back a year
        # Relative to the fetch time.
        ("刚刚", NOW),
        ("5分钟前", NOW - timedelta(minutes=5)),
        ("半小时前", NOW - timedelta(minutes=30)),
        ("3小时前", NOW - timedelta(hours=3)),
        ("2天前", NOW - timedelta(days=2)),
        ("今天 10:20", sh(2026, 1, 3, 10, 20)),
        ("昨天 08:01", sh(2026, 1, 2, 8, 1)),
        ("前天 23:00", sh(2026, 1, 1, 23, 0)),
        ("10:20", sh(2026, 1, 3, 10, 20)),
        ("18:30", sh(2026, 1, 2, 18, 30)),  # later than now today: yesterday
        # ISO with offsets, RFC 2822.
        ("2020-01-06T12:09:00+08:00", sh(2020, 1, 6, 12, 9)),
        ("2020-01-06T04:09:00Z", sh(2020, 1, 6, 12, 9)),
        ("2020-01-06T12:09:00", sh(2020, 1, 6, 12, 9)),
        ("Mon, 06 Jan 2020 12:09:00 +0800", sh(2020, 1, 6, 12, 9)),
        # Numbers: Excel serials (as a number or as text), Unix seconds / milliseconds.
        (43580.5, sh(2019, 4, 25, 12, 0)),
        ("43580.5", sh(2019, 4, 25, 12, 0)),
        (43831, sh(2020, 1, 1)),
        (1577836800, datetime(2020, 1, 1, tzinfo=UTC)),
        ("1577836800000", datetime(2020, 1, 1, tzinfo=UTC)),
        # datetimes: naive read in Shanghai, aware converted.
        (datetime(2020, 1, 6, 12, 9), sh(2020, 1, 6, 12, 9)),
        (datetime(2020, 1, 6, 4, 9, tzinfo=UTC), sh(2020, 1, 6, 12, 9)),
    ],
)
def test_formats(value, expected):
    got = parse_cn_datetime(value, now=NOW)
    assert got == expected
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)


def test_relative_dates_follow_the_fetch_time_in_shanghai():
    # 23:30 UTC on Jan 2 is already 07:30 on Jan 3 in Shanghai: "昨天" is Jan 2 local.
    late = datetime(2026, 1, 2, 23, 30, tzinfo=UTC)
    assert parse_cn_datetime("昨天 08:01", now=late) == sh(2026, 1, 2, 8, 1)
    assert parse_cn_datetime("今天 07:00", now=late) == sh(2026, 1, 3, 7, 0)


def test_other_time_zone():
    got = parse_cn_datetime("2020-01-06 12:00", now=NOW, tz="UTC")
    assert got == datetime(2020, 1, 6, 12, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_is_none(value):
    assert parse_cn_datetime(value, now=NOW) is None


@pytest.mark.parametrize("value", ["abc", "未知", "2019-13-45 10:00", "13-45", -5, 1e20, True])
def test_unparseable_raises_clear_error(value):
    with pytest.raises(ValueError) as err:
        parse_cn_datetime(value, now=NOW)
    assert any(word in str(err.value) for word in ("无法识别", "不存在", "不是"))


def test_naive_now_refused():
    with pytest.raises(ValueError):
        parse_cn_datetime("刚刚", now=datetime(2026, 1, 3))
