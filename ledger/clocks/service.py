"""Clocks in the ledger: start the clocks a subject's rules require, stop, pause, restart and
extend them, and move every open clock to its state at a given instant (``advance_clocks``).

Every change appends to the audit log. These functions take the session and do NOT commit: the
calling service function owns the transaction. ``now`` is always an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, select

from ledger import audit
from ledger.acttime import local_text
from ledger.clocks.calendar import WorkCalendar
from ledger.clocks.engine import (
    ClockChange,
    ClockError,
    _advance,
    _audit_start,
    _aware,
    _current,
    _latest_by_rule,
    _new_clock,
    _restart_clock,
    _shift_due,
    _state,
    _times,
    clock_rule,
    clock_to_dict,
    clocks_for,
)
from ledger.clocks.rules import (
    ACTIVE_STATUSES,
    CANCELLED,
    MET,
    OPEN_STATUSES,
    OVERDUE_STATUSES,
    PAUSED,
    RUNNING,
    STATUS_LABELS,
    ClockRule,
    compute,
    rule_by_id,
    rules_for,
    status_at,
    warn_time,
)
from ledger.db import stable_in
from ledger.models.clocks import Clock

__all__ = [
    "ClockChange", "ClockError", "advance_clocks", "clock_rule", "clock_to_dict", "clocks_for", "extend",
    "mark_met", "pause", "recompute_provisional", "restart", "resume", "start_clocks", "start_clocks_many",
]


@contextmanager
def _audited(session: Session, clock: Clock, action: str, *, at: datetime, actor: str,
             note: str | None = None) -> Iterator[Clock]:
    """Change ``clock`` inside the block; then stamp it and write the audit record (state before
    and after) of ``action`` at ``at``."""
    before = _state(clock)
    yield clock
    clock.updated_at = at
    audit.record(session, actor=actor, action=action, entity="clock", entity_id=clock.id, now=at,
                 before=before, after=_state(clock), note=note)


def _sync(
    session: Session,
    *,
    subject: str,
    subject_id: int,
    facts: Mapping[str, Any],
    existing: Iterable[Clock],
    now: datetime,
    calendar: WorkCalendar,
    rules: list[ClockRule],
    actor: str,
    reopened_at: datetime | None = None,
) -> tuple[list[Clock], list[Clock]]:
    """Cancel what no longer applies; return (restarted clocks, new unflushed clocks).
    ``reopened_at``: the subject was reopened then; a rule whose last clock was cancelled (it
    stopped applying when the subject closed) and that applies again runs from that instant,
    not from its original anchor."""
    grade = facts.get("grade") if subject == "case" else None
    applicable = rules_for(subject, facts, rules)
    applicable_ids = {r.id for r in applicable}
    latest = _latest_by_rule(existing)
    for rule_id, clock in latest.items():
        if rule_id not in applicable_ids and clock.status in OPEN_STATUSES:
            with _audited(session, clock, "clock.cancel", at=now, actor=actor,
                          note="规则不再适用 (rule no longer applies)"):
                clock.status = CANCELLED
                clock.closed = True
                clock.cancelled_at = now
    restarted: list[Clock] = []
    fresh: list[Clock] = []
    for rule in applicable:
        anchor = facts.get(rule.anchor)
        if anchor is None:
            continue
        anchor = _aware(anchor, f"{rule.anchor}")
        current = latest.get(rule.id)
        if current is not None and current.status != CANCELLED:
            if rule.repeat and anchor > current.anchor_at:
                restarted.append(
                    _restart_clock(session, current, rule, anchor, now=now, calendar=calendar, actor=actor,
                                   grade=grade)
                )
            continue
        note = None
        if reopened_at is not None and current is not None and anchor < reopened_at:
            note = (f"案件重新开启后再次适用，自重新开启时起算（原起点 {local_text(current.anchor_at, year=True)}）"
                    " (reopened: runs from the reopening)")
            anchor = reopened_at
        fresh.append(
            _new_clock(session, rule=rule, subject=subject, subject_id=subject_id, anchor=anchor,
                       now=now, calendar=calendar, actor=actor, flush=False, grade=grade, note=note)
        )
    return restarted, fresh


def _finish_start(
    session: Session,
    restarted: list[Clock],
    fresh: list[Clock],
    *,
    now: datetime,
    actor: str,
    changes: list[ClockChange] | None,
) -> list[Clock]:
    if fresh:  # one flush for all new clocks, then their audit entries
        session.flush()
        for clock in fresh:
            _audit_start(session, clock, now=now, actor=actor)
    started = restarted + fresh
    if started:
        found = _advance(session, started, now=now, actor=actor)
        if changes is not None:
            changes.extend(found)
    return started


def start_clocks(
    session: Session,
    *,
    subject: str,
    subject_id: int,
    facts: Mapping[str, Any],
    now: datetime,
    calendar: WorkCalendar,
    rules: list[ClockRule],
    actor: str,
    changes: list[ClockChange] | None = None,
    reopened_at: datetime | None = None,
) -> list[Clock]:
    """Bring a subject's clocks in line with its facts; return the clocks started now.

    ``facts`` hold the conditions (e.g. ``grade``) and the anchors (e.g. ``discovered_at``,
    ``last_release_at``) as aware datetimes. Idempotent: a rule that already has a clock (other
    than a cancelled one) is not started again; a rule whose anchor fact is missing is not
    started yet. A ``repeat`` rule whose anchor moved later starts a new period. Open clocks
    of rules that no longer apply are cancelled (kept, status ``cancelled``). New clocks are
    moved to their state at ``now`` (an immediate clock is overdue at once); the status
    changes are appended to ``changes`` when given. ``reopened_at``: see :func:`_sync` (a
    duty already met stays met, an overdue one stays overdue; one cancelled at closing runs
    again from the reopening).
    """
    now = _aware(now, "now")
    existing = clocks_for(session, subject=subject, subject_id=subject_id)
    restarted, fresh = _sync(session, subject=subject, subject_id=subject_id, facts=facts, existing=existing,
                             now=now, calendar=calendar, rules=rules, actor=actor, reopened_at=reopened_at)
    return _finish_start(session, restarted, fresh, now=now, actor=actor, changes=changes)


def start_clocks_many(
    session: Session,
    *,
    subject: str,
    items: Iterable[tuple[int, Mapping[str, Any]]],
    now: datetime,
    calendar: WorkCalendar,
    rules: list[ClockRule],
    actor: str,
    changes: list[ClockChange] | None = None,
) -> list[Clock]:
    """:func:`start_clocks` for many subjects at once (``items``: (subject_id, facts) pairs),
    with one query for the existing clocks and one flush: for imports and migrations."""
    now = _aware(now, "now")
    items = list(items)
    existing: dict[int, list[Clock]] = {}
    ids = sorted({sid for sid, _ in items})
    for i in range(0, len(ids), 500):
        stmt = (
            select(Clock)
            .where(Clock.subject == subject, Clock.subject_id.in_(ids[i : i + 500]))
            .order_by(Clock.id)
        )
        for clock in session.exec(stmt):
            existing.setdefault(clock.subject_id, []).append(clock)
    restarted: list[Clock] = []
    fresh: list[Clock] = []
    for subject_id, facts in items:
        r, f = _sync(session, subject=subject, subject_id=subject_id, facts=facts,
                     existing=existing.get(subject_id, []), now=now, calendar=calendar, rules=rules, actor=actor)
        restarted.extend(r)
        fresh.extend(f)
        existing.setdefault(subject_id, []).extend(r + f)
    return _finish_start(session, restarted, fresh, now=now, actor=actor, changes=changes)


# ---------------------------------------------------------------------------- stopping
def mark_met(
    session: Session,
    *,
    subject: str,
    subject_id: int,
    rule_ids: Iterable[str],
    at: datetime,
    actor: str,
    now: datetime | None = None,
) -> list[Clock]:
    """Record that the duty of each rule was done at ``at`` (late if after its due time).

    Applies to the latest clock of each rule if it is open or overdue; rules without such a
    clock are ignored. Returns the clocks changed. ``now`` (audit time) defaults to ``at``.
    """
    at = _aware(at, "at")
    now = _aware(now, "now") if now is not None else at
    wanted = set(rule_ids)
    latest = _latest_by_rule(clocks_for(session, subject=subject, subject_id=subject_id))
    changed: list[Clock] = []
    for rule_id in sorted(wanted):
        clock = latest.get(rule_id)
        if clock is None or clock.status not in OPEN_STATUSES + OVERDUE_STATUSES:
            continue
        with _audited(session, clock, "clock.met", at=now, actor=actor):
            clock.status = MET
            clock.closed = True
            clock.met_at = at
            clock.late = at > clock.due_at
            clock.paused_at = None
        changed.append(clock)
    return changed


def restart(
    session: Session,
    *,
    subject: str,
    subject_id: int,
    rule_id: str,
    anchor: datetime,
    now: datetime,
    calendar: WorkCalendar,
    actor: str,
    reason: str | None = None,
    rules: list[ClockRule] | None = None,
    changes: list[ClockChange] | None = None,
) -> Clock:
    """Start a new period of ``rule_id`` from ``anchor`` (持续发布 after a release, 补正 of a
    disclosure request). The open clock is closed (``met`` for a repeat rule, else
    ``restarted``). Refused for rules that neither repeat nor restart."""
    anchor, now = _aware(anchor, "anchor"), _aware(now, "now")
    latest = _latest_by_rule(clocks_for(session, subject=subject, subject_id=subject_id)).get(rule_id)
    if latest is not None and latest.status != CANCELLED:
        rule = clock_rule(latest)
    elif rules is not None:
        rule = rule_by_id(rules, rule_id)
    else:
        raise ClockError(f"{subject} {subject_id} 没有时限 {rule_id!r}")
    if not (rule.repeat or rule.restart_on):
        raise ClockError(f"时限 {rule.name} ({rule_id}) 不允许重新计时")
    if latest is None or latest.status == CANCELLED:
        clock = _new_clock(session, rule=rule, subject=subject, subject_id=subject_id, anchor=anchor,
                           now=now, calendar=calendar, actor=actor, note=reason)
    else:
        clock = _restart_clock(session, latest, rule, anchor, now=now, calendar=calendar, actor=actor,
                               reason=reason)
    found = _advance(session, [clock], now=now, actor=actor)
    if changes is not None:
        changes.extend(found)
    return clock


def pause(
    session: Session,
    *,
    subject: str,
    subject_id: int,
    rule_id: str,
    at: datetime,
    actor: str,
    reason: str | None = None,
) -> Clock:
    """Stop the count (e.g. 征求第三方意见: that time is not counted). Only pausable rules."""
    at = _aware(at, "at")
    clock = _current(session, subject, subject_id, rule_id)
    if not clock_rule(clock).pausable:
        raise ClockError(f"时限 {clock.rule_name} 不允许暂停")
    if clock.status not in ACTIVE_STATUSES:
        raise ClockError(f"时限 {clock.rule_name} 当前状态为 {STATUS_LABELS.get(clock.status, clock.status)}, 不能暂停")
    with _audited(session, clock, "clock.pause", at=at, actor=actor, note=reason):
        clock.status = PAUSED
        clock.paused_at = at
    return clock


def resume(
    session: Session,
    *,
    subject: str,
    subject_id: int,
    rule_id: str,
    at: datetime,
    calendar: WorkCalendar,
    actor: str,
    changes: list[ClockChange] | None = None,
) -> Clock:
    """Resume a paused clock; its due time moves by the paused time (calendar hours, or the
    working days after the pause day up to and including the resume day)."""
    at = _aware(at, "at")
    clock = _current(session, subject, subject_id, rule_id)
    if clock.status != PAUSED or clock.paused_at is None:
        raise ClockError(f"时限 {clock.rule_name} 未暂停")
    if at < clock.paused_at:
        raise ClockError("恢复时间早于暂停时间")
    rule = clock_rule(clock)
    with _audited(session, clock, "clock.resume", at=at, actor=actor):
        seconds = int((at - clock.paused_at).total_seconds())
        days = calendar.working_days_between(clock.paused_at, at)
        _shift_due(clock, rule, calendar, hours=seconds / 3600, working_days=days)
        clock.paused_seconds += seconds
        clock.paused_working_days += days
        clock.paused_at = None
        clock.status = RUNNING
    found = _advance(session, [clock], now=at, actor=actor)
    if changes is not None:
        changes.extend(found)
    return clock


def extend(
    session: Session,
    *,
    subject: str,
    subject_id: int,
    rule_id: str,
    at: datetime,
    calendar: WorkCalendar,
    actor: str,
    approved_by: str,
) -> Clock:
    """Apply the rule's one approved extension (依申请公开: + at most 20 working days)."""
    at = _aware(at, "at")
    if not approved_by or not approved_by.strip():
        raise ClockError("延长期限须记录批准人")
    clock = _current(session, subject, subject_id, rule_id)
    rule = clock_rule(clock)
    if not rule.extension:
        raise ClockError(f"时限 {rule.name} 不允许延长")
    if clock.extension:
        raise ClockError(f"时限 {rule.name} 已延长过一次")
    if clock.status not in OPEN_STATUSES:
        raise ClockError(f"时限 {rule.name} 当前状态为 {STATUS_LABELS.get(clock.status, clock.status)}, 不能延长")
    with _audited(session, clock, "clock.extend", at=at, actor=actor, note=f"批准人: {approved_by}"):
        _shift_due(clock, rule, calendar, hours=rule.extension, working_days=int(rule.extension))
        clock.extension = rule.extension
        if clock.status != PAUSED:
            clock.status = status_at(_times(clock), None, at)
    return clock


# ---------------------------------------------------------------------------- passing time
def advance_clocks(
    session: Session,
    *,
    now: datetime,
    actor: str = "system",
    subject: str | None = None,
    subject_id: int | None = None,
    chunk: int = 2000,
) -> list[ClockChange]:
    """Move every running clock to its state at ``now`` (warning, missed target, breached
    limit) and return what changed. Idempotent: a second call at the same ``now`` changes
    nothing. Optionally restricted to one subject. Works through the due clocks ``chunk`` at a
    time, flushing after each (memory stays flat; the caller still owns the transaction)."""
    now = _aware(now, "now")
    due = or_(Clock.due_at < now, (Clock.status == RUNNING) & (Clock.warn_at <= now))
    stmt = select(Clock.id).where(Clock.closed == False, Clock.status.in_(ACTIVE_STATUSES), due)
    if subject is not None:
        stmt = stmt.where(Clock.subject == subject)
    if subject_id is not None:
        stmt = stmt.where(Clock.subject_id == subject_id)
    ids = list(session.exec(stmt.order_by(Clock.id)))
    changes: list[ClockChange] = []
    for i in range(0, len(ids), chunk):
        part = ids[i : i + chunk]
        clocks = list(session.exec(select(Clock).where(Clock.id.in_(stable_in(part))).order_by(Clock.id)))
        changes.extend(_advance(session, clocks, now=now, actor=actor))
        if len(ids) > chunk:
            session.flush()
    return changes


def recompute_provisional(
    session: Session, *, now: datetime, calendar: WorkCalendar, actor: str = "system"
) -> list[Clock]:
    """Recompute the due times of open provisional clocks (after next year's calendar was
    supplied); returns the clocks whose due time or provisional flag changed."""
    now = _aware(now, "now")
    stmt = select(Clock).where(Clock.provisional == True, Clock.status.in_(OPEN_STATUSES))
    changed: list[Clock] = []
    for clock in session.exec(stmt.order_by(Clock.id)):
        rule = clock_rule(clock)
        times = compute(rule, clock.anchor_at, calendar, extra=clock.extension)
        due, provisional = times.due, times.provisional
        if rule.unit == "working_days" and clock.paused_working_days:
            shifted = calendar.add_working_days(due, clock.paused_working_days)
            due, provisional = shifted.at, provisional or shifted.provisional
        elif rule.unit == "hours" and clock.paused_seconds:
            due = due + timedelta(seconds=clock.paused_seconds)
        if due == clock.due_at and provisional == clock.provisional:
            continue
        with _audited(session, clock, "clock.recompute", at=now, actor=actor,
                      note="日历更新后重新计算 (calendar updated)"):
            warn = warn_time(rule, clock.anchor_at, due, calendar)
            clock.due_at = due.astimezone(UTC)
            clock.provisional = provisional
            clock.warn_at = None if warn is None else warn.astimezone(UTC)
        changed.append(clock)
    return changed

