"""舆情快报 / 专报, part one: collect what a leader reads in two minutes about one case or one
event into :class:`BriefData` — 基本情况, 传播态势 (posts per hour, platforms, heat, trend),
网民主要观点 (representative posts), 情感分布, 研判, 处置进展 and 下一步建议.
:mod:`ledger.reports.brief_docx` writes it.

Personal numbers are masked (:func:`analysis.pii.mask`) in everything collected. Times stay
aware datetimes (the writer shows them in the local time zone). Nothing here changes the ledger.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from analysis.pii import mask
from ledger.cases.policy import CasePolicy
from ledger.cases.views import case_detail
from ledger.clocks.rules import ACTIVE_STATUSES, OVERDUE_STATUSES
from ledger.models.cases import CasePost
from ledger.models.core import Post, Source
from ledger.models.events import Event
from ledger.posts.event_views import event_dict, event_posts, event_trends

MAX_POSTS = 2000  # posts read for one brief (the most liked first)
OPINIONS = 5  # representative posts quoted
MAX_HOURS = 72  # hours on the chart, back from the last post
SENTIMENTS = ("负面", "中性", "正面")
_SENTIMENT_ZH = {"negative": "负面", "neutral": "中性", "positive": "正面", "neg": "负面", "pos": "正面"}


class BriefError(ValueError):
    """The case or event of a brief does not exist; the message is Chinese."""


@dataclass
class BriefData:
    """Everything the 快报 shows, already masked."""

    kind: str  # "case" or "event"
    title: str
    number: str  # case number (2026-0001) or 事件 N
    generated_at: datetime
    basics: dict[str, Any]
    hours: list[tuple[datetime, int]] = field(default_factory=list)  # posts per hour (hour start, count)
    platforms: list[tuple[str, int]] = field(default_factory=list)
    posts_total: int = 0
    heat: float | None = None
    trend: dict[str, Any] | None = None
    opinions: list[dict[str, Any]] = field(default_factory=list)
    sentiment: dict[str, int] = field(default_factory=dict)
    assessment: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)
    suggestions: list[str] = field(default_factory=list)


def _seen(p: Post) -> datetime | None:
    return p.published_at or p.fetched_at


def _posts_of_case(session: Session, case_id: int, event_id: int | None) -> list[Post]:
    linked = select(CasePost.post_id).where(CasePost.case_id == case_id)
    posts = {p.id: p for p in session.exec(select(Post).where(Post.id.in_(linked)).limit(MAX_POSTS))}
    if event_id is not None:
        for p in event_posts(session, event_id=event_id, limit=MAX_POSTS):
            posts.setdefault(p.id, p)
    return list(posts.values())


def _spread(session: Session, posts: list[Post]) -> tuple[list[tuple[datetime, int]], list[tuple[str, int]]]:
    times = sorted(t for t in (_seen(p) for p in posts) if t is not None)
    hours: list[tuple[datetime, int]] = []
    if times:
        last = times[-1].replace(minute=0, second=0, microsecond=0)
        first = max(times[0].replace(minute=0, second=0, microsecond=0), last - timedelta(hours=MAX_HOURS - 1))
        counts = Counter(t.replace(minute=0, second=0, microsecond=0) for t in times)
        h = first
        while h <= last:
            hours.append((h, counts.get(h, 0)))
            h += timedelta(hours=1)
    source_ids = {p.source_id for p in posts}
    names = {s.id: s.name for s in session.exec(select(Source).where(Source.id.in_(source_ids)))} if source_ids else {}
    platforms = Counter(names.get(p.source_id, f"来源 {p.source_id}") for p in posts)
    return hours, platforms.most_common()


def _opinions(posts: list[Post]) -> list[dict[str, Any]]:
    """The most engaged distinct posts (duplicates left out), masked."""
    seen_hashes: set[str] = set()
    out = []
    ranked = sorted(posts, key=lambda p: (p.likes + p.reposts, -(p.id or 0)), reverse=True)
    for p in ranked:
        if p.dup_of_id is not None or p.content_hash in seen_hashes:
            continue
        seen_hashes.add(p.content_hash)
        text = mask(p.text or p.title or "")
        out.append({"text": text[:160] + ("…" if len(text) > 160 else ""), "title": mask(p.title) if p.title else None,
                    "author": mask(p.author) if p.author else None, "likes": p.likes, "reposts": p.reposts,
                    "sentiment": _SENTIMENT_ZH.get(p.sentiment or "", p.sentiment or "—"), "at": _seen(p),
                    "url": p.url})
        if len(out) >= OPINIONS:
            break
    return out


def _sentiment(posts: list[Post]) -> dict[str, int]:
    counts = Counter(_SENTIMENT_ZH.get(p.sentiment or "", "未判断") for p in posts)
    return {k: counts.get(k, 0) for k in (*SENTIMENTS, "未判断") if counts.get(k, 0) or k in SENTIMENTS}


def _rumour_signals(posts: list[Post]) -> list[str]:
    terms: Counter[str] = Counter()
    for p in posts:
        if p.rumour:
            for t in (p.assessment or {}).get("rumour_terms") or []:
                terms[str(t)] += 1
    return [t for t, _ in terms.most_common(8)]


def _event_heat(session: Session, event_id: int | None, now: datetime) -> tuple[float | None, dict | None, Event | None]:
    if event_id is None:
        return None, None, None
    event = session.get(Event, event_id)
    while event is not None and event.merged_into_id is not None:
        event = session.get(Event, event.merged_into_id)
    if event is None:
        return None, None, None
    trends = event_trends(session, event_ids=[event.id], now=now)
    d = event_dict(event, now=now, trend_info=trends.get(event.id))
    return d["heat"], d["trend"], event


def suggestions(data: BriefData, *, now: datetime) -> list[str]:
    """下一步建议 from what the brief shows: clocks running late or close, releases missing,
    rumour signals, commitments, the trend. Plain rules, each one saying why."""
    out: list[str] = []
    a, prog = data.assessment, data.progress
    for c in prog.get("clocks", []):
        if c["status"] in OVERDUE_STATUSES or c.get("past_due"):
            out.append(f"“{c['rule_name']}”已超过期限，请责任单位立即办理并说明原因。")
        elif c["status"] in ACTIVE_STATUSES and c["due_at"] is not None and c["due_at"] - now <= timedelta(hours=2):
            out.append(f"“{c['rule_name']}”将在2小时内到期，请抓紧办理。")
    published = [r for r in prog.get("releases", []) if r.get("published_at")]
    if a.get("grade") in ("重大", "特别重大") and not published:
        out.append("尚未发布权威信息：重大舆情应力争3小时内、最迟不超过5小时发布权威信息。")
    if a.get("must_publish"):
        out.append(f"按处置类型“{a.get('disposal_type')}”，办结前须公开{a['must_publish']}。")
    if a.get("rumour_signals"):
        out.append("监测到疑似不实信息（" + "、".join(a["rumour_signals"][:3]) + "），请核实后及时澄清；"
                   "涉嫌违法的，移交公安机关、网信部门并登记。")
    if prog.get("open_commitments"):
        out.append(f"跟踪 {prog['open_commitments']} 项承诺的落实，并公开落实情况。")
    trend = data.trend or {}
    if trend.get("direction") in ("上升", "突增"):
        out.append("传播仍在上升，请加强监测，每小时研判一次。")
    if not a.get("responsible_unit") and data.kind == "case":
        out.append("尚未明确责任单位，请按属地管理、谁主管谁负责确定。")
    if data.kind == "event":
        out.append("如需处置，请据此立案（台账）并明确责任单位。")
    if not out:
        out.append("继续监测舆情走势，按时限做好回应。")
    return out


def _finish(data: BriefData, posts: list[Post], session: Session, now: datetime) -> BriefData:
    data.hours, data.platforms = _spread(session, posts)
    data.posts_total = len(posts)
    data.opinions = _opinions(posts)
    data.sentiment = _sentiment(posts)
    data.assessment["rumour_signals"] = _rumour_signals(posts)
    data.suggestions = suggestions(data, now=now)
    return data


def _clock_now(clock: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A clock as the brief shows it at ``now``: one still running past its due time (the
    minute's tick has not marked it yet) reads as past due."""
    if clock["status"] in ACTIVE_STATUSES and clock["due_at"] is not None and clock["due_at"] <= now:
        return dict(clock, status_label="已超过期限", past_due=True)
    return clock


def _open(status: str, policy: CasePolicy) -> bool:
    order = list(policy.commitment_statuses)
    if status not in order or policy.commitment_fulfilled not in order:
        return True
    return order.index(status) < order.index(policy.commitment_fulfilled)


def collect_case_brief(session: Session, *, case_ref: int | str, policy: CasePolicy, now: datetime) -> BriefData:
    """The 快报 of one case (id or number) at ``now``."""
    from ledger.cases.workflow import CaseError

    try:
        d = case_detail(session, case_id=case_ref, policy=policy)
    except CaseError as exc:
        raise BriefError(str(exc)) from exc
    posts = _posts_of_case(session, d["id"], d.get("event_id"))
    heat, trend, _ = _event_heat(session, d.get("event_id"), now)
    first = min((t for t in (_seen(p) for p in posts) if t is not None), default=None)
    data = BriefData(
        kind="case", title=mask(d["title"]), number=d["number"], generated_at=now,
        basics={"what": mask(d.get("summary") or d["title"]), "where": d.get("jurisdiction"),
                "discovered_at": d["discovered_at"], "occurred_at": d.get("occurred_at"), "first_post_at": first,
                "status": d["status"]},
        heat=heat, trend=trend,
        assessment={"grade": d["grade"], "category": d.get("category"), "topic": d.get("topic"),
                    "disposal_type": d.get("disposal_type"), "must_publish": d.get("must_publish"),
                    "responsible_unit": d.get("responsible_unit"), "lead_unit": d.get("lead_unit"),
                    "co_units": list(d.get("co_units") or [])},
        progress={"clocks": [_clock_now(c, now) for c in d["clocks"]], "releases": d["releases"], "briefings": d["briefings"],
                  "commitments": [dict(c, text=mask(c["text"])) for c in d["commitments"]],
                  "referrals": d["referrals"], "leadership_reported_at": d.get("leadership_reported_at"),
                  "open_commitments": sum(1 for c in d["commitments"] if _open(c["status"], policy))},
    )
    return _finish(data, posts, session, now)


def collect_event_brief(session: Session, *, event_id: int, now: datetime) -> BriefData:
    """The 快报 of one event at ``now`` (an event merged into another reads the one it joined)."""
    heat, trend, event = _event_heat(session, event_id, now)
    if event is None:
        raise BriefError(f"事件不存在 (no such event): {event_id}")
    posts = event_posts(session, event_id=event.id, limit=MAX_POSTS)
    places = Counter(p.jurisdiction for p in posts if p.jurisdiction)
    grades = Counter(p.severity for p in posts if p.severity)
    cats = Counter(c.get("name") if isinstance(c, dict) else str(c) for p in posts for c in (p.categories or []))
    cats.pop(None, None)
    disposal = Counter(p.disposal_type for p in posts if p.disposal_type)
    units = Counter(p.responsible_unit for p in posts if p.responsible_unit)
    rep = session.get(Post, event.rep_post_id) if event.rep_post_id else None
    data = BriefData(
        kind="event", title=mask(event.title or "（未命名事件）"), number=f"事件 {event.id}", generated_at=now,
        basics={"what": mask((rep.text if rep else "") or event.title)[:200],
                "where": "、".join(p for p, _ in places.most_common(3)) or None,
                "discovered_at": event.first_seen, "occurred_at": None, "first_post_at": event.first_seen,
                "status": None, "keywords": list(event.keywords or [])},
        heat=heat, trend=trend,
        assessment={"grade": grades.most_common(1)[0][0] if grades else None,
                    "category": "、".join(c for c, _ in cats.most_common(2)) or None, "topic": None,
                    "disposal_type": disposal.most_common(1)[0][0] if disposal else None, "must_publish": None,
                    "responsible_unit": units.most_common(1)[0][0] if units else None, "lead_unit": None,
                    "co_units": [], "suggested": True},
        progress={"clocks": [], "releases": [], "briefings": [], "commitments": [], "referrals": [],
                  "cases": _cases_of_event(session, event.id)},
    )
    return _finish(data, posts, session, now)


def _cases_of_event(session: Session, event_id: int) -> list[dict[str, Any]]:
    from ledger.models.cases import Case

    rows = session.exec(select(Case).where(Case.event_id == event_id).order_by(Case.id))
    return [{"number": c.number, "title": mask(c.title), "status": c.status, "grade": c.grade} for c in rows]
