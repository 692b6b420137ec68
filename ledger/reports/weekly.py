"""Weekly ledger export for leadership, part one: collect one ISO week (Asia/Shanghai) of the
ledger (cases with every clock and outcome, releases, commitments, messages with reply times,
statistics) into :class:`WeeklyData`, in the sections a leader reads: 本周新收, 本周办结, 逾期未办
(earlier weeks' included, with the working days overdue so far) and the open commitments, each
on-time rate with its stated basis. The selects are :mod:`ledger.reports.weekly_queries`. :mod:`ledger.reports.weekly_xlsx` writes the workbook,
:mod:`ledger.reports.weekly_docx` the 周报, and :mod:`ledger.reports.export` both.

Personal numbers are masked (:func:`analysis.pii.mask`) in everything written. Times are shown
in the local time zone. Nothing here commits or changes the ledger.
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from analysis.pii import mask, mask_many
from ledger.clocks.rules import LATE, MET, ON_TIME, outcome, status_label
from ledger.reports.weekly_queries import Reader

SHANGHAI = ZoneInfo("Asia/Shanghai")
GRADES = ("特别重大", "重大", "较大", "一般")


class ExportError(ValueError):
    """Bad export request (message in Chinese)."""


@dataclass(frozen=True)
class Week:
    """One ISO week in a local time zone: [start, end) as aware UTC instants."""

    label: str
    start: datetime
    end: datetime
    tz: ZoneInfo

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.tz).date()

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(7)]

    def title(self) -> str:
        y, w = self.label.split("-W")
        last = self.first_day + timedelta(days=6)
        return f"{y}年第{int(w)}周（{self.first_day.month}月{self.first_day.day}日—{last.month}月{last.day}日）"


def parse_week(label: str, tz: ZoneInfo = SHANGHAI) -> Week:
    """``YYYY-Www`` → the week in ``tz`` (Monday 00:00 to the next Monday 00:00)."""
    m = re.fullmatch(r"\s*(\d{4})-?W(\d{1,2})\s*", label or "", re.IGNORECASE)
    if not m:
        raise ExportError(f"周次格式应为 YYYY-Www，例如 2026-W10: {label!r}")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ExportError(f"{year} 年没有第 {week} 周") from exc
    start = datetime.combine(monday, time(0, 0), tzinfo=tz)
    return Week(f"{year}-W{week:02d}", start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC), tz)


def previous_week(now: datetime, tz: ZoneInfo = SHANGHAI) -> Week:
    """The last full week before ``now`` (what the Monday-morning job reports)."""
    y, w, _ = (now.astimezone(tz) - timedelta(days=7)).isocalendar()
    return parse_week(f"{y}-W{w:02d}", tz)


def local(dt: datetime | None, tz: ZoneInfo = SHANGHAI) -> datetime | None:
    """Naive local time for a spreadsheet cell (Excel has no time zones)."""
    return dt.astimezone(tz).replace(tzinfo=None, microsecond=0) if dt is not None else None


def fmt(dt: datetime | None, tz: ZoneInfo = SHANGHAI) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M") if dt is not None else "—"


def rate(ok: int, total: int) -> float | None:
    return round(ok / total, 4) if total else None


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


# ---------------------------------------------------------------------------- collection
@dataclass
class WeeklyData:
    """Everything the two files show, already masked, plus the figures."""

    week: Week
    cases: list[dict[str, Any]] = field(default_factory=list)
    clocks: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    commitments: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    clock_rates: list[dict[str, Any]] = field(default_factory=list)
    unit_rates: list[dict[str, Any]] = field(default_factory=list)
    overdue: list[dict[str, Any]] = field(default_factory=list)
    top_events: list[dict[str, Any]] = field(default_factory=list)


def _per_day(instants, week: Week) -> list[int]:
    """How many of ``instants`` fall on each local day of the week (by the local midnights, not
    a time-zone conversion per instant)."""
    ordered = sorted(instants)
    bounds = [datetime.combine(d, time(0, 0), tzinfo=week.tz) for d in week.days]
    bounds.append(week.end)
    at = [bisect_left(ordered, b) for b in bounds]
    return [at[i + 1] - at[i] for i in range(7)]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while a week's rows become dicts. Those rows and dicts
    form no reference cycles (reference counting frees them), yet creating some 100,000 of them
    triggers full collections over the whole process heap, which cost as much as the queries."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def collect_week(session: Session, week: Week, *, now: datetime, read_ahead: bool = True,
                 calendar: Any = None) -> WeeklyData:
    """Read the week from the ledger: cases active in the week (discovered before its end and
    not closed before its start), their clocks, releases; every message and commitment open at
    some point in the week (carried over from earlier weeks until done); and the figures derived
    from them. ``calendar`` (a :class:`ledger.clocks.calendar.WorkCalendar`) counts the working
    days an unanswered message or unfulfilled commitment is overdue so far. ``read_ahead``: on
    PostgreSQL, run the queries in a helper thread while rows are built (see
    :class:`ledger.reports.weekly_queries.Reader`); the result is the same."""
    with _cyclic_gc_paused():
        fetch = Reader(session, week, ahead=read_ahead)
        try:
            data = _collect_week(fetch, week, now=now, calendar=calendar)
        finally:
            fetch.close()
        # the rows read are freed before the collector runs again, so it never walks them
        del fetch
    return data


#: the basis of each on-time rate, stated wherever a rate is shown
RATE_BASIS = {
    "clocks": "本周到期或本周完成的时限（含往周立案、仍在办理的案件）；期限内完成为按时，超过期限完成或到期未完成为超时",
    "messages": "本周答复到期或本周答复的留言（含往周收到的留言）；期限内答复为按时，超期答复或到期未答复为超时",
}


class _Tally:
    """On-time / late counts per (clock rule, grade it applied under) and per unit, and the
    overdue items by kind."""

    def __init__(self) -> None:
        self.rules: dict[tuple[str, str], Counter] = defaultdict(Counter)
        self.units: dict[str, Counter] = defaultdict(Counter)
        self.overdue: dict[str, list[dict[str, Any]]] = {"时限": [], "承诺": [], "留言": []}

    def count(self, rule: str, unit: str, result: str, grade: str | None = None) -> None:
        self.rules[(rule, grade or "")][result] += 1
        self.units[unit][result] += 1


def _late_days(calendar: Any, due_at: datetime | None, as_of: datetime) -> int | None:
    """Working days overdue so far (None without a calendar or when not yet due)."""
    if calendar is None or due_at is None or due_at >= as_of:
        return None
    return calendar.working_days_late(due_at, as_of)


def _in(week: Week, at: datetime | None) -> bool:
    return at is not None and week.start <= at < week.end


def _add_messages(data: WeeklyData, rows: list[Any], tally: _Tally, as_of: datetime, calendar: Any) -> None:
    overdue = tally.overdue["留言"]
    week = data.week
    n = len(rows)
    # title, author, text and reply of every message masked in one pass (columns 3, 4, 5, 11)
    masked = mask_many([r[i] for i in (3, 4, 5, 11) for r in rows])
    for k, (m_id, external_id, channel, _, _, _, m_unit, received_at, due_at, provisional, replied_at,
            _, on_time, late_days) in enumerate(rows):
        unit = m_unit or "未指定"
        m_title = masked[k]
        # still unanswered at the end of the week (or now, for the current week): overdue if due
        answered = replied_at is not None and replied_at < as_of
        is_new, is_done = _in(week, received_at), _in(week, replied_at)
        open_overdue = not answered and due_at is not None and due_at < as_of
        if open_overdue:
            late_days = _late_days(calendar, due_at, as_of)
        if on_time is True:
            result = "on_time"
        elif on_time is False or open_overdue:
            result = "late"
        else:
            result = "open"
        if result != "open" and (_in(week, due_at) or is_done):
            tally.count("留言答复", unit, result)
        if open_overdue:
            days = f"，至今超期{late_days}个工作日" if late_days else ""
            overdue.append({"kind": "留言", "what": f"{external_id} {m_title[:40]}", "item": "留言答复",
                            "due": due_at, "unit": unit, "status": f"逾期未答复{days}", "days": late_days,
                            "earlier": due_at < week.start})
        sections = [name for name, hit in (("本周新收", is_new), ("本周办结", is_done), ("逾期未办", open_overdue)) if hit]
        data.messages.append({
            "id": m_id, "external_id": external_id, "channel": channel, "title": m_title,
            "author": masked[n + k], "received_at": received_at, "due_at": due_at,
            "provisional": provisional, "replied_at": replied_at,
            "hours": round((replied_at - received_at).total_seconds() / 3600, 1) if replied_at else None,
            "on_time": on_time, "late_working_days": late_days, "unit": unit, "new": is_new, "done": is_done,
            "overdue_open": open_overdue, "section": "、".join(sections) or "往周结转办理中",
            "outcome": result, "reply": masked[3 * n + k], "text": masked[2 * n + k],
        })


def _add_commitments(data: WeeklyData, rows: list[Any], tally: _Tally, as_of: datetime, calendar: Any) -> None:
    week = data.week
    next_end = week.end + timedelta(days=7)
    for number, text, owner_unit, due_date, due_at, c_status, fulfilled_at, public_at, public_where, made in rows:
        number = number or ""
        text = mask(text)
        fulfilled = fulfilled_at is not None and fulfilled_at < week.end
        overdue = not fulfilled and due_at < as_of
        if fulfilled:
            state = "本周已落实"
        elif overdue:
            state = "逾期未落实"
        elif due_at < week.end:
            state = "本周到期"
        elif due_at < next_end:
            state = "下周到期"
        else:
            state = "未到期"
        days = _late_days(calendar, due_at, as_of) if overdue else None
        data.commitments.append({"case": number, "text": text, "unit": owner_unit,
                                 "due_date": due_date, "due_at": due_at, "status": c_status,
                                 "state": state, "fulfilled_at": fulfilled_at if fulfilled else None,
                                 "public_at": public_at if fulfilled else None, "public_where": public_where,
                                 "made_at": made, "new": _in(week, made), "late_working_days": days})
        if overdue:
            shown = f"逾期未落实，至今超期{days}个工作日" if days else "逾期未落实"
            tally.overdue["承诺"].append({"kind": "承诺", "what": f"{number} {text[:60]}", "item": "承诺事项",
                                          "due": due_at, "unit": owner_unit, "status": shown, "days": days,
                                          "earlier": due_at < week.start})


def _add_cases(data: WeeklyData, case_rows: list[Any], clock_rows: list[Any], release_rows: list[Any],
               tally: _Tally, as_of: datetime) -> None:
    week = data.week
    all_clocks: dict[int, list] = defaultdict(list)
    for subject_id, *rest in clock_rows:
        all_clocks[subject_id].append(rest)
    all_releases: dict[int, list] = defaultdict(list)
    for (case_id, *rest), r_title in zip(release_rows, mask_many([r[1] for r in release_rows]), strict=True):
        rest[0] = r_title
        all_releases[case_id].append(rest)
    titles = mask_many([r[2] for r in case_rows])
    overdue = tally.overdue["时限"]
    for k, (case_id, number, _, grade, status, responsible_unit, lead_unit, category, disposal_type,
            discovered_at, reported_at, closed_at) in enumerate(case_rows):
        unit = responsible_unit or "未指定"
        title = titles[k]
        clock_cells = []
        for rule, c_status, late, due_at, met_at, provisional, c_grade in all_clocks.get(case_id, ()):
            # the one judgement every view uses (ledger.clocks.rules.outcome), as of the end of
            # the week or the export time: a running clock whose due time has passed is late
            result = outcome(c_status, late, due_at, as_of)
            shown = status_label(c_status, late)
            clock_cells.append({"rule": rule, "due": due_at, "status": shown, "met_at": met_at,
                                "provisional": provisional, "outcome": result, "grade": c_grade})
            if result not in (ON_TIME, LATE):
                continue
            if _in(week, due_at) or _in(week, met_at):
                tally.count(rule, unit, result, c_grade)
            if result == LATE and c_status != MET:
                hours = round((as_of - due_at).total_seconds() / 3600, 1) if due_at is not None else None
                overdue.append({"kind": "时限", "what": f"{number} {title}", "item": rule, "due": due_at,
                                "unit": unit, "days": None, "earlier": due_at is not None and due_at < week.start,
                                "status": f"{shown}（已超{hours}小时，适用等级{c_grade or grade}）"})
        data.cases.append({
            "id": case_id, "number": number, "title": title, "grade": grade,
            "status": status, "unit": unit, "lead_unit": lead_unit, "category": category,
            "disposal_type": disposal_type, "discovered_at": discovered_at,
            "leadership_reported_at": reported_at, "closed_at": closed_at,
            "releases": 0, "first_release_at": None, "briefings": 0, "referrals": 0, "posts": 0,
            "clocks": clock_cells, "new": _in(week, discovered_at),
        })
        for r_title, kind, r_status, revision, created_at, published_at, channel, url, reviews in all_releases.get(case_id, ()):
            data.releases.append({"case": number, "title": r_title, "kind": kind, "status": r_status,
                                  "revision": revision, "created_at": created_at,
                                  "published_at": published_at, "channel": channel, "url": url,
                                  "reviews": int(reviews or 0)})


def _add_case_counts(data: WeeklyData, rows: list[Any]) -> None:
    by_id = {c["id"]: c for c in data.cases}
    for case_id, briefings, referrals, posts, published, first_release in rows:
        case = by_id.get(case_id)
        if case is not None:
            case.update(briefings=briefings, referrals=referrals, posts=posts, releases=published,
                        first_release_at=first_release)


def _rates(tally: dict[Any, Counter], key: str) -> list[dict[str, Any]]:
    out = []
    for k, v in sorted(tally.items()):
        row = {"on_time": v["on_time"], "late": v["late"], "total": v["on_time"] + v["late"],
               "rate": rate(v["on_time"], v["on_time"] + v["late"])}
        if key == "rule":
            row.update(rule=k[0], grade=k[1] or "—")
        else:
            row[key] = k
        out.append(row)
    return out


def _collect_week(fetch: Reader, week: Week, *, now: datetime, calendar: Any = None) -> WeeklyData:
    data = WeeklyData(week=week)
    as_of = min(now, week.end)
    tally = _Tally()
    # messages and commitments first: on PostgreSQL they are read while the cases, their clocks
    # and releases are still being read on the other connection
    _add_messages(data, fetch.rows(3), tally, as_of, calendar)
    _add_commitments(data, fetch.rows(4), tally, as_of, calendar)
    _add_cases(data, fetch.rows(0), fetch.rows(1), fetch.rows(2), tally, as_of)
    _add_case_counts(data, fetch.rows(5))
    data.overdue = [*tally.overdue["时限"], *tally.overdue["承诺"], *tally.overdue["留言"]]
    data.clock_rates = _rates(tally.rules, "rule")
    data.unit_rates = _rates(tally.units, "unit")
    new_cases = [c for c in data.cases if c["new"]]
    new_messages = [m for m in data.messages if m["new"]]
    msg_tally = tally.rules.get(("留言答复", ""), Counter())
    open_commitments = [c for c in data.commitments if c["state"] != "本周已落实"]
    data.figures = {
        "new_cases": len(new_cases),
        "active_cases": len(data.cases),
        **{f"new_{g}": sum(1 for c in new_cases if c["grade"] == g) for g in GRADES},
        "closed_cases": sum(1 for c in data.cases if _in(week, c["closed_at"])),
        "releases_published": sum(1 for r in data.releases if _in(week, r["published_at"])),
        "messages": len(new_messages),
        "messages_listed": len(data.messages),
        "messages_carried": sum(1 for m in data.messages if not m["new"]),
        "messages_replied": sum(1 for m in data.messages if m["done"]),
        "messages_overdue_open": sum(1 for m in data.messages if m["overdue_open"]),
        "messages_overdue_earlier": sum(1 for m in data.messages if m["overdue_open"] and m["due_at"] < week.start),
        "messages_on_time": msg_tally["on_time"],
        "messages_late": msg_tally["late"],
        "message_on_time_rate": rate(msg_tally["on_time"], msg_tally["on_time"] + msg_tally["late"]),
        "commitments_open": len(open_commitments),
        "commitments_new": sum(1 for c in data.commitments if c["new"]),
        "commitments_due": sum(1 for c in data.commitments if _in(week, c["due_at"])),
        "commitments_fulfilled": sum(1 for c in data.commitments if c["state"] == "本周已落实"),
        "commitments_overdue": sum(1 for c in data.commitments if c["state"] == "逾期未落实"),
        "overdue_items": len(data.overdue),
        "overdue_earlier": sum(1 for o in data.overdue if o["earlier"]),
        "messages_per_day": _per_day((m["received_at"] for m in new_messages), week),
        "cases_per_day": _per_day((c["discovered_at"] for c in new_cases), week),
        "rate_basis": dict(RATE_BASIS),
    }
    rank = {g: i for i, g in enumerate(GRADES)}
    data.top_events = sorted(data.cases, key=lambda c: (rank.get(c["grade"], 9), -c["posts"], c["number"]))[:10]
    return data
