"""Alert triggers: turn what happened in the ledger (clock changes, case events, sensitive posts,
sources down, a missing holiday calendar) into :class:`ledger.alerts.escalation.Signal` objects, grouped so
that one case gives one escalation chain; and resolve alerts whose cause has gone away.

Functions take the session and do not commit; ``now`` is always an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from analysis.pii import mask
from ledger.alerts.escalation import AlertContext, Signal, active_alert, grade_at_least, resolve_group
from ledger.models import cases
from ledger.models.alerts import Alert
from ledger.models.clocks import Clock
from ledger.models.core import Message, Post, Source
from ledger.models.policies import PolicyDoc

CLOCK_KINDS = {"warning": "clock_warning", "missed": "clock_missed", "breached": "clock_breached"}
COMMITMENT_KINDS = {"warning": "commitment_due", "missed": "commitment_overdue", "breached": "commitment_overdue"}
#: the clock for making a fulfilled commitment public (公开), as opposed to fulfilling it
PUBLISH_KINDS = {"warning": "commitment_publish_due", "missed": "commitment_unpublished",
                 "breached": "commitment_unpublished"}
SUBJECT_LABELS = {"case": "台账", "message": "留言", "commitment": "承诺", "policy": "政策解读", "disclosure": "依申请公开"}


def _local(dt: datetime | None, ctx: AlertContext) -> str:
    return dt.astimezone(ctx.tz).strftime("%m-%d %H:%M") if dt else "—"


def case_brief(case: Any) -> str:
    unit = getattr(case, "responsible_unit", None) or "未指定"
    return f"{getattr(case, 'number', '')}《{getattr(case, 'title', '')}》（{getattr(case, 'grade', '')}，责任单位：{unit}）"


# ---------------------------------------------------------------------------- clocks
def _family(rule_id: str) -> str:
    """The duty a rule belongs to: ``authoritative_release_target`` and ``..._limit`` are one duty."""
    for suffix in ("_target", "_limit", "_warning"):
        if rule_id.endswith(suffix):
            return rule_id[: -len(suffix)]
    return rule_id


def clock_signals(session: Session, changes: Iterable[Any], *, ctx: AlertContext) -> list[Signal]:
    """Signals for clock changes (``ClockChange``: warning, missed target, breached limit).

    Case clocks group by case; a commitment's clocks group with its case; messages group per
    day (one digest, not one chain per message)."""
    pol = ctx.policy
    out: list[Signal] = []
    for ch in changes:
        after = getattr(ch, "after", None)
        subject = getattr(ch, "subject", "")
        if after not in CLOCK_KINDS or subject not in pol.clock_subjects:
            continue
        sid = int(ch.subject_id)
        clock = session.get(Clock, ch.clock_id)
        # a commitment's clocks: fulfilment runs to its due date; the other one is its 公开
        publishing = (subject == "commitment" and clock is not None
                      and (clock.rule_snapshot or {}).get("anchor") not in (None, "due_date"))
        kinds = PUBLISH_KINDS if publishing else COMMITMENT_KINDS if subject == "commitment" else CLOCK_KINDS
        kind = kinds[after]
        due = _local(ch.due_at, ctx)
        verb = {"warning": f"即将到期（{due}）", "missed": f"未在目标时限内完成（目标 {due}）",
                "breached": f"已超过最迟时限（{due}）"}[after]
        prov = "【时限为暂定：次年节假日安排未录入】" if ch.provisional else ""
        grade = unit = title = None
        group = f"{subject}:{sid}"
        what = f"{SUBJECT_LABELS.get(subject, subject)} {sid}"
        if subject == "case":
            case = session.get(cases.Case, sid)
            if case is not None:
                grade, unit, title, what = case.grade, case.responsible_unit, case.title, case_brief(case)
        elif subject == "commitment":
            com = session.get(cases.Commitment, sid)
            if com is not None:
                case = session.get(cases.Case, com.case_id)
                group = f"case:{com.case_id}"
                unit = com.owner_unit
                grade = getattr(case, "grade", None)
                title = getattr(case, "title", None)
                what = f"承诺“{com.text[:60]}”（{com.owner_unit}）" + (f"，属 {case_brief(case)}" if case else "")
        elif subject == "policy":
            doc = session.get(PolicyDoc, sid)
            if doc is not None:
                unit, title = doc.unit, f"政策解读：{doc.title}"
                what = f"政策文件《{doc.title}》（{doc.unit}，{_local(doc.published_at, ctx)} 发布）"
        elif subject == "message":
            day = ch.at.astimezone(ctx.tz).date().isoformat()
            group, title = f"messages:{day}", f"留言办理时限提醒 {day}"
        text = f"{what}：{ch.rule_name or ch.rule_id}{verb}。{prov}"
        key = f"clock:{ch.clock_id}:{after}"
        if subject == "commitment":  # shared with commitment_signals: one fact, one key
            key = f"commitment:{sid}:{'publish:' if publishing else ''}{'due' if after == 'warning' else 'overdue'}"
        if subject == "case" and clock is not None and (
                ch.rule_id == "leadership_report" or (clock.rule_snapshot or {}).get("unit") == "immediate"):
            # the leadership report was already asked for when the case was opened: its warning
            # adds nothing; passing its time limit unreported is one more fact, alerted once
            if ch.after == "warning" or (grade is not None and grade not in pol.leadership_grades):
                continue
            kind, key = "leadership_report", f"case:{sid}:leadership_report:overdue"
            text = f"{what}：{ch.rule_name or ch.rule_id}已过时限（{due}）尚未登记完成，请立即报告并在台账中登记。"
        family = _family(ch.rule_id)
        out.append(Signal(kind=kind, group_key=group, key=key, title=title or what,
                          text=text, grade=grade, subject=subject if subject != "commitment" else "case",
                          subject_id=sid if subject != "commitment" else None, unit=unit,
                          family=f"{subject}:{sid}:{family}"))
    return out


def commitment_signals(session: Session, commitment_ids: Iterable[int], *, ctx: AlertContext) -> list[Signal]:
    """Signals for commitments that became overdue at this tick (grouped with their case)."""
    out: list[Signal] = []
    for cid in commitment_ids:
        com = session.get(cases.Commitment, int(cid))
        if com is None:
            continue
        case = session.get(cases.Case, com.case_id)
        out.append(Signal(
            kind="commitment_overdue", group_key=f"case:{com.case_id}", key=f"commitment:{com.id}:overdue",
            title=getattr(case, "title", None) or f"承诺 {com.id}", grade=getattr(case, "grade", None),
            subject="case", subject_id=com.case_id, unit=com.owner_unit,
            text=(f"承诺“{com.text[:60]}”（{com.owner_unit}，期限 {com.due_date}）已逾期未落实"
                  + (f"，属 {case_brief(case)}" if case else "") + "。"),
        ))
    return out


@dataclass(frozen=True)
class ClockState:
    """A clock's current overdue state, in the shape of a ``ClockChange`` (for clocks that were
    already overdue when their case was opened or regraded)."""

    clock_id: int
    subject: str
    subject_id: int
    rule_id: str
    rule_name: str
    after: str
    at: datetime
    due_at: datetime
    provisional: bool


def overdue_clock_states(session: Session, *, subject: str, subject_id: int, now: datetime) -> list[ClockState]:
    rows = session.exec(
        select(Clock).where(Clock.subject == subject, Clock.subject_id == subject_id,
                            Clock.status.in_(list(CLOCK_KINDS))).order_by(Clock.id)
    ).all()
    return [ClockState(c.id, c.subject, c.subject_id, c.rule_id, c.rule_name, c.status, now, c.due_at, c.provisional)
            for c in rows]


# ---------------------------------------------------------------------------- cases
def case_signals(case: Any, *, event: str, detail: Mapping[str, Any] | None, ctx: AlertContext) -> list[Signal]:
    """Signals for a case opened or regraded at 较大 or above (and the immediate leadership report
    for 重大 / 特别重大)."""
    pol = ctx.policy
    grade = getattr(case, "grade", None)
    if event not in ("opened", "regraded") or not grade_at_least(grade, pol.case_min_grade):
        return []
    if event == "regraded" and detail and grade_at_least(detail.get("from"), grade or "") :
        return []  # graded down: no alert
    group = f"case:{case.id}"
    brief = case_brief(case)
    found = _local(getattr(case, "discovered_at", None), ctx)
    out: list[Signal] = []
    if event == "opened":
        out.append(Signal(kind="case_opened", group_key=group, key=f"case:{case.id}:opened:{grade}",
                          title=case.title, text=f"新立台账 {brief}，发现时间 {found}。", grade=grade,
                          subject="case", subject_id=case.id, unit=case.responsible_unit))
    else:
        out.append(Signal(kind="case_regraded", group_key=group, key=f"case:{case.id}:regraded:{grade}",
                          title=case.title, text=f"台账 {brief} 由{(detail or {}).get('from', '')}调整为{grade}。",
                          grade=grade, subject="case", subject_id=case.id, unit=case.responsible_unit))
    if grade in pol.leadership_grades and getattr(case, "leadership_reported_at", None) is None:
        out.append(Signal(
            kind="leadership_report", group_key=group, key=f"case:{case.id}:leadership_report",
            title=case.title, grade=grade, subject="case", subject_id=case.id, unit=case.responsible_unit,
            text=(f"【{grade}舆情·第一时间报告】{brief}，发现时间 {found}。须第一时间向本级党委政府报告，"
                  f"力争3小时内、最迟5小时内发布权威信息，24小时内举行新闻发布会。"),
        ))
    return out


# ---------------------------------------------------------------------------- posts
def _rule_thresholds(rules: Sequence[Mapping[str, Any]] | None) -> dict[str, float]:
    out = {}
    for r in rules or []:
        if r.get("id") is not None and r.get("threshold") is not None:
            out[str(r["id"])] = float(r["threshold"])
    return out


def post_signals(session: Session, *, now: datetime, ctx: AlertContext,
                 rules: Sequence[Mapping[str, Any]] | None) -> list[Signal]:
    """Posts fetched in the look-back window whose sensitivity reaches the threshold of one of
    their monitoring rules (categories / topics carry the rule ids). Posts of one case group
    with the case, posts of one event with the event."""
    pol = ctx.policy
    thresholds = _rule_thresholds(rules)
    since = now - timedelta(hours=pol.post_lookback_hours)
    floor = min([*thresholds.values(), *([pol.post_default_threshold] if pol.post_default_threshold is not None else [])],
                default=None)
    if floor is None:
        return []
    # only posts that can reach some threshold (sensitivity is indexed), only the columns a signal
    # needs, read in batches: the window can hold tens of thousands of posts of up to 200,000
    # characters. A post already notified on its group's open alert makes no signal again (the
    # escalation would drop it), so the signals a tick makes follow the new posts, not the window
    # (unless the policy lets a sensitive post inhibit other kinds: then every one is signalled);
    # the reading still walks the window's sensitive posts, a batch at a time.
    skip_notified = not pol.spec("sensitive_post").inhibits
    notified: dict[str, set[str]] = {}

    def already(group: str, key: str) -> bool:
        if not skip_notified:
            return False
        if group not in notified:
            alert = active_alert(session, group)
            notified[group] = set(alert.triggers or []) if alert is not None else set()
        return key in notified[group]

    # the post's case (the newest when several) as a correlated subquery, not a second query with
    # an IN list of this batch's ids: such a list gives a statement of another length each tick,
    # and every length stays in the connection's cache of prepared statements (megabytes over hours)
    case_of = (select(func.max(cases.CasePost.case_id)).where(cases.CasePost.post_id == Post.id)
               .correlate(Post).scalar_subquery())
    stmt = (select(Post.id, Post.title, func.substr(Post.text, 1, 40), Post.url, Post.categories, Post.topics,
                   Post.sensitivity, Post.severity, Post.event_id, Post.responsible_unit, case_of.label("case_id"))
            .where(Post.sensitivity >= floor, Post.fetched_at >= since, Post.fetched_at <= now,
                   Post.dup_of_id.is_(None)).order_by(Post.id))
    out: list[Signal] = []
    for batch in session.execute(stmt.execution_options(yield_per=2000)).partitions():
        chosen = []
        for row in batch:
            tags = [c for c in list(row.categories or []) + list(row.topics or []) if isinstance(c, Mapping)]
            ids = [str(c.get("id")) for c in tags if c.get("id") is not None]
            limits = [thresholds[i] for i in ids if i in thresholds]
            if not limits and pol.post_default_threshold is not None and ids:
                limits = [pol.post_default_threshold]
            if limits and (row.sensitivity or 0) >= min(limits):
                chosen.append((row, tags))
        for row, tags in chosen:
            group = f"case:{row.case_id}" if row.case_id is not None else (
                f"event:{row.event_id}" if row.event_id else f"post:{row.id}")
            if already(group, f"post:{row.id}"):
                continue
            grade = row.severity
            names = "、".join(str(c.get("name", c.get("id"))) for c in tags)
            title = (row.title or row[2] or f"信息 {row.id}").strip()
            text = (f"敏感信息（敏感度 {row.sensitivity:.2f}，{names}）：{mask(title)[:80]}"
                    + (f"\n{row.url}" if row.url else ""))
            out.append(Signal(kind="sensitive_post", group_key=group, key=f"post:{row.id}", title=mask(title)[:200],
                              text=text, grade=grade if grade in ("一般", "较大", "重大", "特别重大") else None,
                              subject="post", subject_id=row.id, unit=row.responsible_unit))
    return out


def resolve_quiet_post_alerts(session: Session, *, now: datetime, ctx: AlertContext) -> None:
    """Resolve the alerts of posts / events (not of cases) that had no new sensitive post for
    ``post_lookback_hours``: their posts have left the window, the chain has run its course."""
    quiet_since = now - timedelta(hours=ctx.policy.post_lookback_hours)
    rows = session.exec(
        select(Alert).where(or_(Alert.group_key.like("post:%"), Alert.group_key.like("event:%")),
                            Alert.state != "resolved", Alert.updated_at < quiet_since)
    ).all()
    for alert in rows:
        resolve_group(session, alert.group_key, now=now, reason="无新增敏感信息，自动解除 (quiet)")


# ---------------------------------------------------------------------------- sources
def source_signals(session: Session, *, now: datetime, ctx: AlertContext) -> list[Signal]:
    """A signal per source marked down; resolves the alert of a source that is back."""
    out = []
    for src in session.exec(select(Source).order_by(Source.id)).all():
        group = f"source:{src.id}"
        if src.status == "down":
            since = src.last_success_at
            out.append(Signal(
                # one key per outage: the alert is resolved when the source is back, a later outage
                # opens a new alert, and further failures during this one add nothing
                kind="source_down", group_key=group, key=f"source:{src.id}:down",
                title=f"信息来源“{src.name}”中断", subject="source", subject_id=src.id,
                text=(f"信息来源“{src.name}”连续 {src.consecutive_failures} 次抓取失败，已标记为中断"
                      f"（上次成功：{_local(since, ctx)}）。最近错误：{(src.last_error or '')[:200]}"),
            ))
        elif src.status == "ok":
            resolve_group(session, group, now=now, reason="信息来源已恢复 (source back up)")
    return out


# ---------------------------------------------------------------------------- messages
def message_signals(session: Session, *, now: datetime, ctx: AlertContext, limit: int = 500) -> list[Signal]:
    """A signal per citizen's message whose reply deadline passed unanswered and that has not
    been noted overdue yet, grouped per responsible unit; each one is marked noted
    (``message.overdue_at``), so every overdue message alerts exactly once whatever the gap
    between ticks (a service down for days still alerts what fell due meanwhile). Messages
    stored when already overdue (a historical import) are marked noted by the importer and
    raise nothing. At most ``limit`` per call; the next tick takes the rest."""
    rows = session.exec(
        select(Message).where(Message.replied_at.is_(None), Message.overdue_at.is_(None),
                              Message.due_at.is_not(None), Message.due_at <= now)
        .order_by(Message.due_at, Message.id).limit(limit)
    ).all()
    out = []
    for m in rows:
        unit = m.unit or "未指定单位"
        m.overdue_at = now
        session.add(m)
        out.append(Signal(
            kind="message_overdue", group_key=f"messages:{unit}", key=f"message:{m.id}:overdue",
            title=f"{unit}留言超期未答复", subject="message", subject_id=m.id, unit=m.unit,
            text=(f"{m.channel}留言 {m.external_id}“{mask(m.title or m.text[:30])}”"
                  f"（收到 {_local(m.received_at, ctx)}）答复期限 {_local(m.due_at, ctx)} 已过，尚未答复"
                  + ("（期限为暂定）" if m.due_provisional else "") + "。"),
        ))
    return out


# ---------------------------------------------------------------------------- calendar
def calendar_signals(session: Session, *, now: datetime, ctx: AlertContext, calendar: Any | None) -> list[Signal]:
    """Clocks computed provisionally (next year's holiday notice not entered) and, from December,
    the reminder to enter next year's calendar. One alert per year."""
    out = []
    provisional = session.exec(
        select(Clock).where(Clock.provisional == True, Clock.closed == False)
    ).all()
    years: dict[int, int] = {}
    for c in provisional:
        years[c.due_at.astimezone(ctx.tz).year] = years.get(c.due_at.astimezone(ctx.tz).year, 0) + 1
    missing = calendar.missing_next_year(now) if calendar is not None else None
    for year in sorted(set(years) | ({missing} if missing else set())):
        n = years.get(year, 0)
        text = (f"{year}年节假日安排尚未录入（国务院办公厅通知发布后请补录到 holidays.toml）。"
                + (f"目前有 {n} 个时限暂按周末计算，标记为“暂定”。" if n else "相关工作日时限将暂按周末计算。"))
        out.append(Signal(kind="calendar_provisional", group_key=f"calendar:{year}",
                          key=f"calendar:{year}:{'clocks' if n else 'reminder'}",
                          title=f"{year}年节假日安排缺失", text=text, subject="calendar", subject_id=year))
    active = session.exec(select(Alert).where(Alert.group_key.like("calendar:%"), Alert.state != "resolved")).all()
    for alert in active:
        year = int(alert.group_key.split(":", 1)[1])
        if year not in years and year != missing:
            resolve_group(session, alert.group_key, now=now, reason="节假日安排已录入 (calendar supplied)")
    return out


def resolve_closed_cases(session: Session, *, now: datetime) -> None:
    """Resolve case alerts whose case is closed or archived."""
    active = session.exec(select(Alert).where(Alert.group_key.like("case:%"), Alert.state != "resolved")).all()
    for alert in active:
        case = session.get(cases.Case, int(alert.group_key.split(":", 1)[1]))
        if case is not None and (case.closed_at is not None or case.archived_at is not None):
            resolve_group(session, alert.group_key, now=now, reason=f"台账已{case.status}")
