"""Weekly ledger export for leadership: collect one ISO week (Asia/Shanghai) of the ledger and
write ``台账_YYYY-Www.xlsx`` (cases with every clock and outcome, releases, commitments, messages
with reply times, statistics). The 周报 document is written by :mod:`ledger.exports_docx`.

Personal numbers are masked (:func:`analysis.pii.mask`) in everything written. Times are shown
in the local time zone. Nothing here commits or changes the ledger.
"""

from __future__ import annotations

import gc
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_
from sqlmodel import Session, select

from analysis.pii import mask
from ledger.models import cases as case_tables
from ledger.models.clocks import Clock
from ledger.models.core import Message

SHANGHAI = ZoneInfo("Asia/Shanghai")
CLOCK_STATUS = {"running": "计时中", "warning": "即将到期", "met": "已完成", "missed": "未达目标",
                "breached": "已超时限", "paused": "已暂停", "cancelled": "已取消", "restarted": "已重新计时"}
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


def _outcome(status: str, late: bool | None, due_at: datetime | None, at: datetime) -> str:
    """A clock's outcome, on_time | late | open, as of ``at`` (the end of the week or the export time)."""
    if status == "met":
        return "late" if late else "on_time"
    if status in ("missed", "breached"):
        return "late"
    if status in ("running", "warning", "paused") and due_at is not None and due_at < at:
        return "late"
    return "open"


def _week_cases(cm: Any, week: Week):
    """Cases active in the week: discovered before its end and not closed before its start."""
    return (cm.Case.discovered_at < week.end, or_(cm.Case.closed_at.is_(None), cm.Case.closed_at >= week.start))


def _rows(session: Session, stmt: Any) -> list[Any]:
    """The rows of a column select, fetched at once through the session's connection and used by
    unpacking: the export reads tens of thousands of rows, and ORM rows with attribute access
    cost more than the queries themselves."""
    return session.connection().execute(stmt).all()


def _related_rows(session: Session, cm: Any, week: Week) -> dict[str, dict]:
    """Clocks, releases, briefings, referrals and post counts of the week's cases: one query each,
    the cases selected by a subquery (no list of thousands of ids sent back and forth).
    Clock tuples: (rule, status, late, due_at, met_at, provisional); release tuples: the
    columns of ``_RELEASE_COLS`` after the case id."""
    out: dict[str, dict] = {"clocks": defaultdict(list), "releases": defaultdict(list),
                            "briefings": {}, "referrals": {}, "posts": {}}
    ids = select(cm.Case.id).where(*_week_cases(cm, week)).scalar_subquery()
    clock_cols = (Clock.subject_id, func.coalesce(func.nullif(Clock.rule_name, ""), Clock.rule_id), Clock.status, Clock.late,
                  Clock.due_at, Clock.met_at, Clock.provisional)
    clocks = out["clocks"]
    for subject_id, *rest in _rows(session, select(*clock_cols)
                                   .where(Clock.subject == "case", Clock.status != "cancelled",
                                          Clock.subject_id.in_(ids)).order_by(Clock.id)):
        clocks[subject_id].append(rest)
    # review steps are only counted: the database counts them instead of shipping each JSON list
    release_cols = (cm.Release.case_id, cm.Release.title, cm.Release.kind, cm.Release.status, cm.Release.revision,
                    cm.Release.created_at, cm.Release.published_at, cm.Release.channel, cm.Release.url,
                    func.coalesce(func.json_array_length(cm.Release.review_steps), 0))
    releases = out["releases"]
    for case_id, *rest in _rows(session, select(*release_cols).where(cm.Release.case_id.in_(ids))
                                .order_by(cm.Release.id)):
        releases[case_id].append(rest)
    for key, model in (("briefings", cm.Briefing), ("referrals", cm.Referral), ("posts", cm.CasePost)):
        out[key] = dict(_rows(session, select(model.case_id, func.count()).where(model.case_id.in_(ids))
                              .group_by(model.case_id)))
    return out


_CASE_COLS = ("id", "number", "title", "grade", "status", "responsible_unit", "lead_unit", "category",
              "disposal_type", "discovered_at", "leadership_reported_at", "closed_at")


def _per_day(instants, week: Week) -> list[int]:
    """How many of ``instants`` fall on each local day of the week."""
    counts = Counter(t.astimezone(week.tz).date() for t in instants)
    return [counts.get(d, 0) for d in week.days]


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


def collect_week(session: Session, week: Week, *, now: datetime) -> WeeklyData:
    """Read the week from the ledger: cases active in the week (discovered before its end and
    not closed before its start), their clocks, releases, commitments, the messages received in
    the week, and the figures derived from them."""
    with _cyclic_gc_paused():
        return _collect_week(session, week, now=now)


def _collect_week(session: Session, week: Week, *, now: datetime) -> WeeklyData:
    data = WeeklyData(week=week)
    as_of = min(now, week.end)
    cm = case_tables
    unit_tally: dict[str, Counter] = defaultdict(Counter)
    rule_tally: dict[str, Counter] = defaultdict(Counter)
    case_rows = _rows(session, select(*(getattr(cm.Case, c) for c in _CASE_COLS)).where(*_week_cases(cm, week))
                      .order_by(cm.Case.discovered_at, cm.Case.id))
    related = _related_rows(session, cm, week)
    start, end = week.start, week.end
    all_clocks, all_releases = related["clocks"], related["releases"]
    briefing_n, referral_n, post_n = related["briefings"], related["referrals"], related["posts"]
    for (case_id, number, title, grade, status, responsible_unit, lead_unit, category, disposal_type,
         discovered_at, reported_at, closed_at) in case_rows:
        releases = all_releases.get(case_id, ())
        published = [r[5] for r in releases if r[5] is not None]
        unit = responsible_unit or "未指定"
        title = mask(title)
        clock_cells = []
        for rule, c_status, late, due_at, met_at, provisional in all_clocks.get(case_id, ()):
            outcome = _outcome(c_status, late, due_at, as_of)
            shown = CLOCK_STATUS.get(c_status, c_status)
            clock_cells.append({"rule": rule, "due": due_at, "status": shown, "met_at": met_at,
                                "provisional": provisional, "outcome": outcome})
            if outcome == "open":
                continue
            if (due_at is not None and start <= due_at < end) or (met_at is not None and start <= met_at < end):
                rule_tally[rule][outcome] += 1
                unit_tally[unit][outcome] += 1
            if outcome == "late" and c_status != "met":
                data.overdue.append({"kind": "时限", "what": f"{number} {title}", "item": rule, "due": due_at,
                                     "unit": unit, "status": shown})
        data.cases.append({
            "id": case_id, "number": number, "title": title, "grade": grade,
            "status": status, "unit": unit, "lead_unit": lead_unit, "category": category,
            "disposal_type": disposal_type, "discovered_at": discovered_at,
            "leadership_reported_at": reported_at, "closed_at": closed_at,
            "releases": len(published), "first_release_at": min(published, default=None),
            "briefings": briefing_n.get(case_id, 0), "referrals": referral_n.get(case_id, 0),
            "posts": post_n.get(case_id, 0), "clocks": clock_cells, "new": start <= discovered_at < end,
        })
        for r_title, kind, r_status, revision, created_at, published_at, channel, url, reviews in releases:
            if (published_at and start <= published_at < end) or start <= created_at < end:
                data.releases.append({"case": number, "title": mask(r_title), "kind": kind, "status": r_status,
                                      "revision": revision, "created_at": created_at,
                                      "published_at": published_at, "channel": channel, "url": url,
                                      "reviews": int(reviews or 0)})
    next_week_end = week.end + timedelta(days=7)
    coms = session.exec(
        select(cm.Commitment).where(cm.Commitment.due_at < next_week_end,
                                    or_(cm.Commitment.fulfilled_at.is_(None),
                                        cm.Commitment.fulfilled_at >= week.start))
        .order_by(cm.Commitment.due_at)
    ).all()
    numbers = {c["id"]: c["number"] for c in data.cases}
    missing = sorted({com.case_id for com in coms} - set(numbers))
    for i in range(0, len(missing), 900):
        numbers.update(session.exec(select(cm.Case.id, cm.Case.number)
                                    .where(cm.Case.id.in_(missing[i:i + 900]))).all())
    for com in coms:
        if com.created_at >= week.end:
            continue
        number = numbers.get(com.case_id, "")
        fulfilled = com.fulfilled_at is not None and com.fulfilled_at < week.end
        overdue = not fulfilled and com.due_at < as_of
        state = "已落实" if fulfilled else ("逾期" if overdue else ("本周到期" if com.due_at < week.end else "下周到期"))
        data.commitments.append({"case": number, "text": mask(com.text), "unit": com.owner_unit,
                                 "due_date": com.due_date, "due_at": com.due_at, "status": com.status,
                                 "state": state, "fulfilled_at": com.fulfilled_at, "public_at": com.public_at,
                                 "public_where": com.public_where})
        if overdue:
            data.overdue.append({"kind": "承诺", "what": f"{number} {mask(com.text)[:60]}", "item": "承诺事项",
                                 "due": com.due_at, "unit": com.owner_unit, "status": "逾期未落实"})
    # only the first 300 characters of a message and its reply are exported: cut in the database
    msg_cols = (Message.id, Message.external_id, Message.channel, Message.title, Message.author,
                func.substr(Message.text, 1, 300).label("text"), Message.unit, Message.received_at, Message.due_at,
                Message.due_provisional, Message.replied_at, func.substr(Message.reply_text, 1, 300).label("reply_text"),
                Message.on_time, Message.late_working_days)
    msgs = _rows(session, select(*msg_cols).where(Message.received_at >= week.start, Message.received_at < week.end)
                 .order_by(Message.received_at, Message.id))
    for (m_id, external_id, channel, m_title, author, text, m_unit, received_at, due_at, provisional, replied_at,
         reply_text, on_time, late_days) in msgs:
        unit = m_unit or "未指定"
        if on_time is True:
            outcome = "on_time"
        elif on_time is False or (replied_at is None and due_at is not None and due_at < as_of):
            outcome = "late"
        else:
            outcome = "open"
        m_title = mask(m_title or "")
        if outcome != "open":
            rule_tally["留言答复"][outcome] += 1
            unit_tally[unit][outcome] += 1
        if outcome == "late":
            late = f"超期答复（{late_days}个工作日）" if late_days else "超期答复"
            data.overdue.append({"kind": "留言", "what": f"{external_id} {m_title[:40]}", "item": "留言答复",
                                 "due": due_at, "unit": unit, "status": "逾期未答复" if replied_at is None else late})
        data.messages.append({
            "id": m_id, "external_id": external_id, "channel": channel, "title": m_title,
            "author": mask(author or ""), "received_at": received_at, "due_at": due_at,
            "provisional": provisional, "replied_at": replied_at,
            "hours": round((replied_at - received_at).total_seconds() / 3600, 1) if replied_at else None,
            "on_time": on_time, "late_working_days": late_days, "unit": unit,
            "outcome": outcome, "reply": mask((reply_text or "")[:300]), "text": mask((text or "")[:300]),
        })
    data.clock_rates = [{"rule": k, "on_time": v["on_time"], "late": v["late"], "total": v["on_time"] + v["late"],
                         "rate": rate(v["on_time"], v["on_time"] + v["late"])} for k, v in sorted(rule_tally.items())]
    data.unit_rates = [{"unit": k, "on_time": v["on_time"], "late": v["late"], "total": v["on_time"] + v["late"],
                        "rate": rate(v["on_time"], v["on_time"] + v["late"])} for k, v in sorted(unit_tally.items())]
    new_cases = [c for c in data.cases if c["new"]]
    replied = [m for m in data.messages if m["replied_at"] is not None]
    msg_tally = rule_tally.get("留言答复", Counter())
    data.figures = {
        "new_cases": len(new_cases),
        "active_cases": len(data.cases),
        **{f"new_{g}": sum(1 for c in new_cases if c["grade"] == g) for g in GRADES},
        "closed_cases": sum(1 for c in data.cases if c["closed_at"] and week.start <= c["closed_at"] < week.end),
        "releases_published": sum(1 for r in data.releases if r["published_at"] and week.start <= r["published_at"] < week.end),
        "messages": len(data.messages),
        "messages_replied": len(replied),
        "messages_on_time": msg_tally["on_time"],
        "messages_late": msg_tally["late"],
        "message_on_time_rate": rate(msg_tally["on_time"], msg_tally["on_time"] + msg_tally["late"]),
        "commitments_due": sum(1 for c in data.commitments if c["state"] in ("本周到期", "逾期") or
                               (c["state"] == "已落实" and week.start <= c["due_at"] < week.end)),
        "commitments_overdue": sum(1 for c in data.commitments if c["state"] == "逾期"),
        "overdue_items": len(data.overdue),
        "messages_per_day": _per_day((m["received_at"] for m in data.messages), week),
        "cases_per_day": _per_day((c["discovered_at"] for c in new_cases), week),
    }
    rank = {g: i for i, g in enumerate(GRADES)}
    data.top_events = sorted(data.cases, key=lambda c: (rank.get(c["grade"], 9), -c["posts"], c["number"]))[:10]
    return data


# ---------------------------------------------------------------------------- xlsx
def _sheet(book: Any, title: str, header: list[str], rows: list[list[Any]]) -> Any:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = book.create_sheet(title)
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in rows:
        ws.append(row)
        for cell in ws[ws.max_row]:
            # text from posts or citizens that starts with "=" must stay text, never a formula
            if cell.data_type == "f":
                cell.data_type = "s"
    for i, name in enumerate(header, start=1):
        width = max([len(str(name)) * 2] + [min(len(str(r[i - 1])) * 1.6, 60) for r in rows[:200] if r[i - 1] is not None])
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(width, 60))
    for col in ws.iter_cols(min_row=2):
        for cell in col:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
    ws.freeze_panes = "A2"
    return ws


def write_xlsx(data: WeeklyData, path: Path) -> Path:
    """Write the ledger workbook; returns its path."""
    from openpyxl import Workbook

    tz = data.week.tz
    book = Workbook()
    book.remove(book.active)
    rules: list[str] = []
    for c in data.cases:
        for cl in c["clocks"]:
            if cl["rule"] not in rules:
                rules.append(cl["rule"])
    header = ["案件编号", "标题", "分级", "状态", "责任单位", "牵头单位", "监测类别", "处置类型", "发现时间",
              "向领导报告时间", "已发布次数", "首次发布时间", "发布会", "线索移交", "关联信息数", "办结时间"]
    for r in rules:
        header += [f"{r}·期限", f"{r}·状态", f"{r}·完成时间"]
    rows = []
    for c in data.cases:
        row = [c["number"], c["title"], c["grade"], c["status"], c["unit"], c["lead_unit"], c["category"],
               c["disposal_type"], local(c["discovered_at"], tz), local(c["leadership_reported_at"], tz),
               c["releases"], local(c["first_release_at"], tz), c["briefings"], c["referrals"], c["posts"],
               local(c["closed_at"], tz)]
        by_rule = {cl["rule"]: cl for cl in c["clocks"]}
        for r in rules:
            cl = by_rule.get(r)
            row += ([local(cl["due"], tz), cl["status"] + ("（暂定）" if cl["provisional"] else ""), local(cl["met_at"], tz)]
                    if cl else [None, None, None])
        rows.append(row)
    _sheet(book, "案件台账", header, rows)
    _sheet(book, "信息发布", ["案件编号", "标题", "类型", "状态", "修订", "审核步骤", "起草时间", "发布时间", "发布渠道", "链接"],
           [[r["case"], r["title"], r["kind"], r["status"], r["revision"], r["reviews"], local(r["created_at"], tz),
             local(r["published_at"], tz), r["channel"], r["url"]] for r in data.releases])
    _sheet(book, "承诺事项", ["案件编号", "承诺内容", "责任单位", "承诺期限", "状态", "本周情况", "落实时间", "公开时间", "公开位置"],
           [[c["case"], c["text"], c["unit"], c["due_date"], c["status"], c["state"], local(c["fulfilled_at"], tz),
             local(c["public_at"], tz), c["public_where"]] for c in data.commitments])
    labels = {"on_time": "按时", "late": "超时", "open": "办理中"}
    _sheet(book, "留言办理", ["留言编号", "渠道", "标题", "留言人", "收到时间", "答复期限", "期限暂定", "答复时间", "用时(小时)",
                          "办理结果", "超期工作日", "办理单位", "留言摘要", "答复摘要"],
           [[m["external_id"], m["channel"], m["title"], m["author"], local(m["received_at"], tz), local(m["due_at"], tz),
             "是" if m["provisional"] else "", local(m["replied_at"], tz), m["hours"], labels[m["outcome"]],
             m["late_working_days"], m["unit"], m["text"], m["reply"]] for m in data.messages])
    f = data.figures
    stats = [["周次", data.week.label], ["统计区间", data.week.title()], ["新立案件", f["new_cases"]],
             *[[f"其中{g}", f[f"new_{g}"]] for g in GRADES], ["本周在办案件", f["active_cases"]],
             ["本周办结案件", f["closed_cases"]], ["本周发布权威信息", f["releases_published"]],
             ["收到留言", f["messages"]], ["已答复留言", f["messages_replied"]], ["按时答复", f["messages_on_time"]],
             ["超时答复或逾期未答复", f["messages_late"]], ["留言按时答复率", pct(f["message_on_time_rate"])],
             ["本周到期承诺", f["commitments_due"]], ["逾期承诺", f["commitments_overdue"]], ["逾期事项", f["overdue_items"]],
             [], ["时限", "按时", "超时", "合计", "按时率"],
             *[[r["rule"], r["on_time"], r["late"], r["total"], pct(r["rate"])] for r in data.clock_rates],
             [], ["单位", "按时", "超时", "合计", "按时率"],
             *[[u["unit"], u["on_time"], u["late"], u["total"], pct(u["rate"])] for u in data.unit_rates]]
    _sheet(book, "统计", ["项目", "数值", "", "", ""], [s + [None] * (5 - len(s)) for s in stats])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.xlsx")
    book.save(tmp)
    tmp.replace(path)
    return path


@dataclass
class ExportResult:
    week: str
    xlsx: Path
    docx: Path
    figures: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"week": self.week, "xlsx": str(self.xlsx), "docx": str(self.docx),
                "figures": {k: v for k, v in self.figures.items() if not isinstance(v, list)}}


def export_weekly(session: Session, *, week: Week, out_dir: Path, now: datetime) -> ExportResult:
    """Write ``台账_<week>.xlsx`` and ``周报_<week>.docx`` into ``out_dir``."""
    from ledger.exports_docx import write_docx

    data = collect_week(session, week, now=now)
    out_dir = Path(out_dir)
    xlsx = write_xlsx(data, out_dir / f"台账_{week.label}.xlsx")
    docx = write_docx(data, out_dir / f"周报_{week.label}.docx", now=now)
    return ExportResult(week=week.label, xlsx=xlsx, docx=docx, figures=data.figures)
