"""Times of recorded acts, checked and shown the way people read them.

Every act the ledger records (a report to leadership, a release review or publication, a press
briefing, a commitment update, a referral, a message reply) carries the time it was done. That
time must be timezone-aware, not in the future and not before what the act answers (the case's
discovery, the draft, the message's receipt, the commitment). :func:`check_act_time` is the one
check every recording service uses; its refusals show times in Beijing time as ``12月3日 21:12``
(:func:`local_text`), never as raw ISO strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_text(value: datetime | None, tz: ZoneInfo = SHANGHAI, *, year: bool = False) -> str:
    """``12月3日 21:12`` in Beijing time (``2026年12月3日 21:12`` with ``year``); ``—`` for None."""
    if value is None:
        return "—"
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"时间缺少时区: {value!r}")
    t = value.astimezone(tz)
    head = f"{t.year}年" if year else ""
    return f"{head}{t.month}月{t.day}日 {t:%H:%M}"


def _text(value: datetime, other: datetime) -> str:
    """A time for a message next to ``other``: with the year when the two years differ."""
    return local_text(value, year=value.astimezone(SHANGHAI).year != other.astimezone(SHANGHAI).year)


def check_act_time(
    value: Any,
    *,
    what: str,
    now: datetime,
    error: type[Exception] = ValueError,
    not_before: datetime | None = None,
    not_before_what: str | None = None,
) -> datetime:
    """Return ``value`` if it can be the time an act was done; raise ``error`` with a Chinese
    message otherwise: not a time, no time zone, later than ``now``, or earlier than the minute
    of ``not_before`` (what the act answers, named ``not_before_what``; times are entered to
    the minute)."""
    if not isinstance(value, datetime):
        raise error(f"{what}应为时间, 得到 {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise error(f"{what}缺少时区 (请注明北京时间, 如 +08:00)")
    if value > now:
        raise error(f"{what}（{_text(value, now)}）晚于当前时间（{_text(now, value)}），不能登记尚未发生的事")
    # people enter minutes: an act in the same minute as what it answers is not "before" it
    if not_before is not None and value < not_before.replace(second=0, microsecond=0):
        label = not_before_what or "起算时间"
        raise error(f"{what}（{_text(value, not_before)}）早于{label}（{_text(not_before, value)}），不能登记")
    return value
