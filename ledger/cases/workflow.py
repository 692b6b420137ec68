"""The case workflow of the response ledger (台账): open, regrade, assign, move through the statuses
发现 → 研判 → 交办 → 处置 → 已回应 → 办结 → 归档 along the allowed moves, report to leadership, and
read a case back with its clocks, releases, briefings, commitments, referrals and audit timeline.

Releases, reviews, briefings, commitments and referrals are in :mod:`ledger.cases.items`.
Service functions are keyword-only, take the session and do not commit (the caller owns the
transaction); each change appends to the audit log with before/after, and the clocks the rules
require are started through :mod:`ledger.clocks.service`. ``now`` is always an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ledger import audit
from ledger.acttime import check_act_time, local_text
from ledger.alerts import notify
from ledger.cases.policy import CasePolicy
from ledger.clocks import service as clockservice
from ledger.clocks.calendar import WorkCalendar
from ledger.clocks.rules import ClockRule
from ledger.clocks.service import ClockChange
from ledger.models.cases import (
    Briefing,
    Case,
    CaseCounter,
    CasePost,
    Commitment,
    Referral,
    Release,
)
from ledger.models.clocks import Clock
from ledger.models.core import Post

SHANGHAI = ZoneInfo("Asia/Shanghai")
PUBLISHED = "已发布"

#: fields of a case that the clock rules may look at (``applies_to``) or run from (anchors)
FACT_FIELDS = (
    "grade", "category", "topic", "disposal_type", "jurisdiction", "responsible_unit", "lead_unit",
    "status", "event_id", "discovered_at", "occurred_at", "last_release_at",
)
#: fields ``update_case`` may change
EDITABLE = (
    "title", "summary", "category", "topic", "disposal_type", "jurisdiction", "responsible_unit",
    "lead_unit", "co_units", "occurred_at", "event_id", "suspected_illegal",
)


class CaseError(ValueError):
    """A case operation the workflow refuses; the message (Chinese) says why."""


@dataclass(frozen=True)
class CaseEnv:
    """What the case services need besides the session: the workflow policy (``cases.toml``),
    the working-day calendar and the clock rules (``clocks.toml``)."""

    policy: CasePolicy
    calendar: WorkCalendar
    rules: list[ClockRule]


# ---------------------------------------------------------------------------- helpers
def aware(value: Any, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise CaseError(f"{what} 应为时间, 得到 {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise CaseError(f"{what} 缺少时区: {value!r}")
    return value


def not_after_now(value: datetime, now: datetime, what: str) -> datetime:
    """A time that must not lie in the future (e.g. the discovery of a case)."""
    return check_act_time(value, what=what, now=now, error=CaseError)


def act_time(value: Any, *, what: str, now: datetime, after: datetime | None = None,
             after_what: str | None = None) -> datetime:
    """The time an act for a case was done: aware, not in the future, not before ``after``
    (what it answers: the discovery, the draft, the last review, the commitment)."""
    return check_act_time(value, what=what, now=now, error=CaseError, not_before=after,
                          not_before_what=after_what)


def local_iso(value: datetime | None) -> str | None:
    """Machine-readable local time (``+08:00``) for JSON output."""
    return None if value is None else value.astimezone(SHANGHAI).isoformat()


def text_required(value: str | None, what: str) -> str:
    if value is None or not str(value).strip():
        raise CaseError(f"{what}不能为空")
    return str(value).strip()


def check_title(value: str | None, policy: CasePolicy) -> str:
    """A case title: not empty, at most ``title_max_chars`` characters (cases.toml)."""
    title = text_required(value, "标题")
    if len(title) > policy.title_max_chars:
        raise CaseError(f"标题过长：{len(title)} 字，最多 {policy.title_max_chars} 字；详情请写入摘要")
    return title


def opt_text(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def case_state(case: Case) -> dict[str, Any]:
    """All fields of a case, for audit before/after and for display."""
    return {
        "id": case.id,
        "number": case.number,
        "title": case.title,
        "summary": case.summary,
        "event_id": case.event_id,
        "grade": case.grade,
        "category": case.category,
        "topic": case.topic,
        "disposal_type": case.disposal_type,
        "jurisdiction": case.jurisdiction,
        "responsible_unit": case.responsible_unit,
        "lead_unit": case.lead_unit,
        "co_units": list(case.co_units or []),
        "suspected_illegal": bool(case.suspected_illegal),
        "discovered_at": case.discovered_at,
        "occurred_at": case.occurred_at,
        "status": case.status,
        "leadership_reported_at": case.leadership_reported_at,
        "last_release_at": case.last_release_at,
        "closed_at": case.closed_at,
        "archived_at": case.archived_at,
    }


def get_case(session: Session, ref: int | str) -> Case:
    """A case by id or by number (``2026-0001``); CaseError when there is none."""
    case: Case | None = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        case = session.get(Case, int(ref))
    elif isinstance(ref, str):
        case = session.exec(select(Case).where(Case.number == ref.strip())).first()
    if case is None:
        raise CaseError(f"案件不存在: {ref}")
    return case


def writable(case: Case, policy: CasePolicy) -> None:
    if case.status == policy.archived_status:
        raise CaseError(f"案件 {case.number} 已{policy.archived_status}, 不能再修改")


def _check_grade(grade: str, policy: CasePolicy) -> str:
    grade = text_required(grade, "事件分级")
    if grade not in policy.grades:
        raise CaseError(f"未知的事件分级 {grade!r}; 可选: {'、'.join(policy.grades)}")
    return grade


def _check_disposal(value: str | None, policy: CasePolicy) -> str | None:
    value = opt_text(value)
    if value is not None and value not in policy.disposal:
        raise CaseError(f"未知的处置类型 {value!r}; 可选: {'、'.join(policy.disposal)}")
    return value


def _units(values: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        for part in str(v).replace("，", ",").replace("、", ",").split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


# ---------------------------------------------------------------------------- numbering
def allocate_number(session: Session, *, year: int) -> tuple[int, str]:
    """Next sequence number of ``year`` and the case number ``YYYY-NNNN``.

    The counter row is updated in the caller's transaction, so concurrent openings serialise on
    it (row lock on PostgreSQL, write lock on SQLite) and never share a number.
    """
    table = CaseCounter.__table__
    bump = (
        update(table).where(table.c.year == year).values(last=table.c.last + 1).returning(table.c.last)
    )
    conn = session.connection()
    seq = conn.execute(bump).scalar_one_or_none()
    if seq is None:
        try:
            with session.begin_nested():
                session.connection().execute(table.insert().values(year=year, last=1))
            seq = 1
        except IntegrityError:  # another transaction created the year's row first
            seq = session.connection().execute(bump).scalar_one()
    return seq, f"{year:04d}-{seq:04d}"


# ---------------------------------------------------------------------------- clocks
def case_facts(case: Case, policy: CasePolicy) -> dict[str, Any]:
    """The facts the case clock rules see. A closed or archived case exposes only its status, so
    its still-running clocks (e.g. 持续发布) stop as no longer applicable."""
    if case.status in (policy.closed_status, policy.archived_status):
        return {"status": case.status}
    return {name: getattr(case, name) for name in FACT_FIELDS}


def sync_case_clocks(
    session: Session, *, case: Case, now: datetime, actor: str, env: CaseEnv, fresh: bool = False,
    advance: bool = False, reopened_at: datetime | None = None,
) -> list[ClockChange]:
    """Start the clocks the case's facts now require (from their anchors, so they may already be
    overdue), cancel those that no longer apply, and mark met the duties already recorded.
    Returns the status changes of the clocks started now that still hold (e.g. a 3 h target
    already missed when a case is regraded to 重大 after 4 hours). ``fresh``: the case was just
    opened, nothing has been done for it yet. ``advance``: first move the case's clocks to their
    state at ``now`` (before a change of facts may cancel them, so that a clock already overdue
    is recorded as missed or breached, not cancelled); those changes are returned too.
    ``reopened_at``: the case was just reopened; duties cancelled when it closed run again from
    that instant (duties met stay met, duties missed stay missed)."""
    session.flush()
    changes: list[ClockChange] = []
    if advance:
        changes.extend(clockservice.advance_clocks(session, now=now, actor=actor, subject="case",
                                                   subject_id=case.id))
    clockservice.start_clocks(
        session, subject="case", subject_id=case.id, facts=case_facts(case, env.policy), now=now,
        calendar=env.calendar, rules=env.rules, actor=actor, changes=changes, reopened_at=reopened_at,
    )
    if fresh:
        return changes
    done: list[tuple[str, datetime | None]] = [
        ("release_published", session.exec(
            select(func.min(Release.published_at)).where(Release.case_id == case.id)).one()),
        ("briefing", session.exec(
            select(func.min(Briefing.held_at)).where(Briefing.case_id == case.id)).one()),
        ("leadership_report", case.leadership_reported_at),
    ]
    for act, at in done:
        if at is None:
            continue
        if at.tzinfo is None:  # func.min over SQLite bypasses the column type
            at = at.replace(tzinfo=ZoneInfo("UTC"))
        clockservice.mark_met(session, subject="case", subject_id=case.id,
                              rule_ids=env.policy.links(act), at=at, actor=actor, now=now)
    return [c for c in changes if (k := session.get(Clock, c.clock_id)) is not None and k.status == c.after]


# ---------------------------------------------------------------------------- opening
def open_case(
    session: Session,
    *,
    title: str,
    grade: str,
    discovered_at: datetime,
    now: datetime,
    actor: str,
    env: CaseEnv,
    occurred_at: datetime | None = None,
    summary: str | None = None,
    category: str | None = None,
    topic: str | None = None,
    disposal_type: str | None = None,
    jurisdiction: str | None = None,
    responsible_unit: str | None = None,
    lead_unit: str | None = None,
    co_units: Iterable[str] | None = None,
    event_id: int | None = None,
    post_ids: Iterable[int] = (),
    suspected_illegal: bool = False,
    another_for_event: bool = False,
) -> Case:
    """Open a case (status 发现), number it ``YYYY-NNNN`` by the year of discovery (Asia/Shanghai)
    and start its clocks. An event that already has a case is refused (no duplicates from a double
    click) unless ``another_for_event`` says a second case is meant."""
    policy = env.policy
    now = aware(now, "当前时间")
    title = check_title(title, policy)
    grade = _check_grade(grade, policy)
    discovered_at = not_after_now(discovered_at, now, "发现时间")
    if occurred_at is not None:
        occurred_at = aware(occurred_at, "发生时间")
        if occurred_at > discovered_at:
            raise CaseError("发生时间不能晚于发现时间")
    disposal_type = _check_disposal(disposal_type, policy)
    if event_id is not None and not another_for_event:
        existing = session.exec(select(Case.number).where(Case.event_id == event_id)).all()
        if existing:
            raise CaseError(f"该事件已立案：{'、'.join(str(n) for n in existing)}（确需另立新案时请明确选择）")
    post_ids = list(dict.fromkeys(int(p) for p in post_ids))
    seq, number = allocate_number(session, year=discovered_at.astimezone(SHANGHAI).year)
    case = Case(
        number=number, year=int(number[:4]), seq=seq, title=title, summary=opt_text(summary),
        event_id=event_id, grade=grade, category=opt_text(category), topic=opt_text(topic),
        disposal_type=disposal_type, jurisdiction=opt_text(jurisdiction),
        responsible_unit=opt_text(responsible_unit), lead_unit=opt_text(lead_unit),
        co_units=_units(co_units), discovered_at=discovered_at, occurred_at=occurred_at,
        status=policy.initial_status, created_by=actor, created_at=now, updated_at=now,
        suspected_illegal=bool(suspected_illegal),
    )
    session.add(case)
    session.flush()
    audit.record(session, actor=actor, action="case.open", entity="case", entity_id=case.id, now=now,
                 after=case_state(case))
    if post_ids:
        link_posts(session, case_id=case.id, post_ids=post_ids, now=now, actor=actor, env=env)
    overdue = sync_case_clocks(session, case=case, now=now, actor=actor, env=env, fresh=True)
    notify.case_event(session, case=case, event="opened", now=now, actor=actor,
                      detail={"grade": grade, "clock_changes": overdue})
    return case


def link_posts(session: Session, *, case_id: int, post_ids: Iterable[int], now: datetime, actor: str,
               env: CaseEnv) -> list[CasePost]:
    """Link posts to a case (posts already linked are skipped)."""
    case = get_case(session, case_id)
    writable(case, env.policy)
    have = set(session.exec(select(CasePost.post_id).where(CasePost.case_id == case.id)))
    added: list[CasePost] = []
    for pid in dict.fromkeys(int(p) for p in post_ids):
        if session.get(Post, pid) is None:
            raise CaseError(f"帖文不存在: {pid}")
        if pid in have:
            continue
        link = CasePost(case_id=case.id, post_id=pid, added_at=now, added_by=actor)
        session.add(link)
        added.append(link)
    if added:
        session.flush()
        audit.record(session, actor=actor, action="case.link_posts", entity="case", entity_id=case.id,
                     now=now, before={"post_ids": sorted(have)},
                     after={"post_ids": sorted(have | {a.post_id for a in added})})
    return added


# ---------------------------------------------------------------------------- changing
def regrade_case(session: Session, *, case_id: int | str, grade: str, now: datetime, actor: str,
                 env: CaseEnv, reason: str | None = None) -> Case:
    """Change the grade. Rules that now apply start from their anchors (upgrading to 重大 starts
    the 3 h / 5 h release, 24 h briefing and immediate leadership-report clocks from the
    discovery time, so they may already be overdue); rules that no longer apply are cancelled."""
    now = aware(now, "当前时间")
    case = get_case(session, case_id)
    writable(case, env.policy)
    grade = _check_grade(grade, env.policy)
    if grade == case.grade:
        raise CaseError(f"案件 {case.number} 已是{grade}")
    before = case_state(case)
    old = case.grade
    case.grade = grade
    case.updated_at = now
    session.add(case)
    audit.record(session, actor=actor, action="case.regrade", entity="case", entity_id=case.id, now=now,
                 before=before, after=case_state(case), note=opt_text(reason))
    overdue = sync_case_clocks(session, case=case, now=now, actor=actor, env=env, advance=True)
    notify.case_event(session, case=case, event="regraded", now=now, actor=actor,
                      detail={"from": old, "to": grade, "reason": opt_text(reason), "clock_changes": overdue})
    return case


def update_case(session: Session, *, case_id: int | str, now: datetime, actor: str, env: CaseEnv,
                changes: Mapping[str, Any]) -> Case:
    """Change descriptive fields and the responsible units (回应主体). Keys: see ``EDITABLE``;
    a value of None clears the field. Clocks are brought in line with the new facts."""
    now = aware(now, "当前时间")
    case = get_case(session, case_id)
    writable(case, env.policy)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise CaseError(f"不能修改的字段: {sorted(unknown)}")
    if not changes:
        raise CaseError("没有要修改的内容")
    before = case_state(case)
    for key, value in changes.items():
        if key == "title":
            value = check_title(value, env.policy)
        elif key == "disposal_type":
            value = _check_disposal(value, env.policy)
        elif key == "co_units":
            value = _units(value)
        elif key == "occurred_at":
            if value is not None:
                value = aware(value, "发生时间")
                if value > case.discovered_at:
                    raise CaseError("发生时间不能晚于发现时间")
        elif key == "event_id":
            value = None if value is None else int(value)
        elif key == "suspected_illegal":
            value = bool(value)
        else:
            value = opt_text(value)
        setattr(case, key, value)
    after = case_state(case)
    if after == before:
        return case
    case.updated_at = now
    session.add(case)
    audit.record(session, actor=actor, action="case.update", entity="case", entity_id=case.id, now=now,
                 before={k: before[k] for k in changes}, after={k: after[k] for k in changes})
    overdue = sync_case_clocks(session, case=case, now=now, actor=actor, env=env, advance=True)
    units = ("responsible_unit", "lead_unit", "co_units")
    if any(before[k] != after[k] for k in units):
        notify.case_event(session, case=case, event="assigned", now=now, actor=actor,
                          detail={**{k: after[k] for k in units}, "clock_changes": overdue})
    elif overdue:
        notify.case_event(session, case=case, event="updated", now=now, actor=actor,
                          detail={"clock_changes": overdue})
    return case


def closing_problems(session: Session, *, case: Case, policy: CasePolicy) -> list[str]:
    """Why the case may not be closed (办结) now; empty when it may. Per 分类处置: the disposal
    type's publication must be released, and for some types the referral recorded."""
    problems: list[str] = []
    if not case.disposal_type:
        return ["未确定处置类型, 无法判断须公开的内容"]
    rule = policy.disposal.get(case.disposal_type)
    if rule is None:
        return [f"处置类型 {case.disposal_type!r} 未在配置中定义"]
    kinds = set(session.exec(select(Release.kind).where(
        Release.case_id == case.id, Release.status == PUBLISHED)))
    if not kinds & set(rule.publish):
        problems.append(
            f"处置类型“{rule.name}”须公开{rule.must}: 尚无已发布的“{'”或“'.join(rule.publish)}”"
        )
    problems += _referral_problems(session, case=case, rule=rule, policy=policy)
    if policy.close_needs_commitments_done:
        done = policy.commitment_statuses[policy.commitment_statuses.index(policy.commitment_fulfilled):]
        open_ = session.exec(select(func.count()).select_from(Commitment).where(
            Commitment.case_id == case.id, Commitment.status.not_in(done))).one()
        if open_:
            problems.append(f"尚有 {open_} 项承诺未落实")
    return problems


def _referral_problems(session: Session, *, case: Case, rule: Any, policy: CasePolicy) -> list[str]:
    """The referral a case needs before closing: the disposal type's (for a type whose referral
    applies only to suspected illegality, when the case is marked 涉嫌违法), and for any case
    marked 涉嫌违法 a referral to one of the targets (``referral_when_illegal``)."""
    problems: list[str] = []
    targets = set(session.exec(select(Referral.target).where(Referral.case_id == case.id)))
    if rule.referral_to and (case.suspected_illegal or not rule.referral_only_if_illegal):
        wanted = set(rule.referral_to)
        if rule.referral_match == "all":
            missing = [t for t in rule.referral_to if t not in targets]
            if missing:
                problems.append(f"处置类型“{rule.name}”须移交涉嫌违法线索: 尚未登记移交{'、'.join(missing)}")
        elif not targets & wanted:
            problems.append(
                f"处置类型“{rule.name}”须将涉嫌违法线索移交{'或'.join(rule.referral_to)}: 尚未登记移交"
            )
    elif case.suspected_illegal and policy.referral_when_illegal and not targets & set(policy.referral_targets):
        problems.append(f"案件已标记涉嫌违法, 须将线索移交{'或'.join(policy.referral_targets)}: 尚未登记移交")
    return problems


def status_problems(session: Session, *, case: Case, to: str, policy: CasePolicy) -> list[str]:
    """Why the case may not move to ``to`` now (empty list: it may)."""
    if to not in policy.statuses:
        return [f"未知状态 {to!r}; 可选: {'、'.join(policy.statuses)}"]
    allowed = policy.transitions.get(case.status, ())
    if to not in allowed:
        nxt = "、".join(allowed) if allowed else "无"
        return [f"不允许从“{case.status}”转为“{to}”(可转为: {nxt})"]
    if to == policy.assigned_status and policy.assign_needs_unit and not (case.responsible_unit or case.lead_unit):
        return [f"{to}前须指定责任单位 (回应主体)"]
    if to == policy.responded_status and policy.responded_needs_release:
        n = session.exec(select(func.count()).select_from(Release).where(
            Release.case_id == case.id, Release.status == PUBLISHED)).one()
        if not n:
            return [f"{to}前须有已发布的权威信息"]
    if to == policy.closed_status:
        return closing_problems(session, case=case, policy=policy)
    return []


def change_status(session: Session, *, case_id: int | str, to: str, now: datetime, actor: str,
                  env: CaseEnv, note: str | None = None) -> Case:
    """Move the case to status ``to`` if the workflow allows it (办结 only with the disposal
    type's publication, and referral where required)."""
    now = aware(now, "当前时间")
    policy = env.policy
    case = get_case(session, case_id)
    to = text_required(to, "目标状态")
    problems = status_problems(session, case=case, to=to, policy=policy)
    if problems:
        raise CaseError(f"案件 {case.number} 不能转为“{to}”: " + "；".join(problems))
    before = case_state(case)
    old = case.status
    case.status = to
    reopened = None
    if to == policy.closed_status:
        case.closed_at = now
    elif to == policy.archived_status:
        case.archived_at = now
    elif old == policy.closed_status:  # reopened: duties that apply again run from now
        case.closed_at = None
        reopened = now
    case.updated_at = now
    session.add(case)
    why = opt_text(note)
    if reopened is not None:
        why = "；".join(x for x in (why, "重新开启：已完成的时限保持完成，再次适用的时限自重新开启时起算") if x)
    audit.record(session, actor=actor, action="case.status", entity="case", entity_id=case.id, now=now,
                 before=before, after=case_state(case), note=why)
    overdue = sync_case_clocks(session, case=case, now=now, actor=actor, env=env, advance=True,
                               reopened_at=reopened)
    notify.case_event(session, case=case, event="status_changed", now=now, actor=actor,
                      detail={"from": old, "to": to, "note": opt_text(note), "clock_changes": overdue})
    return case


def report_to_leadership(session: Session, *, case_id: int | str, reported_at: datetime, now: datetime,
                         actor: str, env: CaseEnv, note: str | None = None) -> Case:
    """Record that the case was reported to the Party committee and government (第一时间报告);
    stops the leadership-report clock."""
    now = aware(now, "当前时间")
    case = get_case(session, case_id)
    writable(case, env.policy)
    reported_at = act_time(reported_at, what="报告时间", now=now, after=case.discovered_at,
                           after_what="舆情发现时间")
    if case.leadership_reported_at is not None:
        raise CaseError(f"案件 {case.number} 已于 {local_text(case.leadership_reported_at)} 报告")
    before = case_state(case)
    case.leadership_reported_at = reported_at
    case.leadership_report_note = opt_text(note)
    case.updated_at = now
    session.add(case)
    audit.record(session, actor=actor, action="case.leadership_report", entity="case", entity_id=case.id,
                 now=now, before=before, after=case_state(case), note=opt_text(note))
    sync_case_clocks(session, case=case, now=now, actor=actor, env=env)
    return case
