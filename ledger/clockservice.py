"""Clocks in the ledger: start the clocks a subject's rules require, stop, pause, restart and
extend them, and move every open clock to its state at a given instant (``advance_clocks``).

Every change appends to the audit log. These functions take the session and do NOT commit: the
calling service function owns the transaction. ``now`` is always an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, select

from ledger import audit
from ledger.calendar import WorkCalendar
from ledger.clocks import (
    ACTIVE_STATUSES,
    BREACHED,
    CANCELLED,
    MET,
    MISSED,
    OPEN_STATUSES,
    OVERDUE_STATUSES,
    PAUSED,
    RESTARTED,
    RUNNING,
    STATUS_LABELS,
    ClockRule,
    ClockTimes,
    compute,
    rule_by_id,
    rules_for,
    status_at,
    warn_time,
)
from ledger.models.clocks import Clock


class ClockError(ValueError):
    """A clock operation that the rules do not allow (message in Chinese for the user)."""


@dataclass(frozen=True)
class ClockChange:
    """One status change of a clock, for notification (alerts) and display."""

    clock_id: int
    subject: str
    subject_id: int
    rule_id: str
    rule_name: str
    kind: str
    before: str
    after: str
    at: datetime
    due_at: datetime
    provisional: bool
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "clock_id": self.clock_id,
            "subject": self.subject,
            "subject_id": self.subject_id,
            "rule": self.rule_id,
            "rule_name": self.rule_name,
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
            "at": self.at,
            "due_at": self.due_at,
            "provisional": self.provisional,
            "source": self.source,
        }


def _aware(value: Any, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise ClockError(f"{what} 应为时间, 得到 {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ClockError(f"{what} 缺少时区: {value!r}")
    return value


def _state(clock: Clock) -> dict[str, Any]:
    return {
        "rule": clock.rule_id,
        "status": clock.status,
        "anchor_at": clock.anchor_at,
        "due_at": clock.due_at,
        "warn_at": clock.warn_at,
        "provisional": clock.provisional,
        "met_at": clock.met_at,
        "late": clock.late,
        "paused_at": clock.paused_at,
        "extension": clock.extension,
        "restarts": clock.restarts,
    }


def _times(clock: Clock) -> ClockTimes:
    return ClockTimes(due=clock.due_at, warn=clock.warn_at, provisional=clock.provisional, kind=clock.kind)


def clock_rule(clock: Clock) -> ClockRule:
    """The rule a clock started under (from its snapshot)."""
    return ClockRule.from_snapshot(clock.rule_snapshot)


def clock_to_dict(clock: Clock) -> dict[str, Any]:
    """JSON-ready view of a clock (times stay datetimes; ``config.cli.common.print_json`` renders them)."""
    snap = clock.rule_snapshot or {}
    return {
        "id": clock.id,
        "rule": clock.rule_id,
        "rule_name": clock.rule_name,
        "kind": clock.kind,
        "unit": snap.get("unit"),
        "limit": snap.get("limit"),
        "anchor": snap.get("anchor"),
        "anchor_at": clock.anchor_at,
        "due_at": clock.due_at,
        "warn_at": clock.warn_at,
        "provisional": clock.provisional,
        "status": clock.status,
        "status_label": STATUS_LABELS.get(clock.status, clock.status),
        "met_at": clock.met_at,
        "late": clock.late,
        "overdue_at": clock.overdue_at,
        "paused_at": clock.paused_at,
        "restarts": clock.restarts,
        "source": snap.get("source", ""),
    }


# ---------------------------------------------------------------------------- queries
def clocks_for(session: Session, *, subject: str, subject_id: int) -> list[Clock]:
    """Every clock of one subject, oldest first (cancelled and restarted ones included)."""
    stmt = (
        select(Clock)
        .where(Clock.subject == subject, Clock.subject_id == subject_id)
        .order_by(Clock.id)
    )
    return list(session.exec(stmt))


def _latest_by_rule(clocks: Iterable[Clock]) -> dict[str, Clock]:
    latest: dict[str, Clock] = {}
    for clock in clocks:
        latest[clock.rule_id] = clock  # ordered by id: the last one wins
    return latest


def _current(session: Session, subject: str, subject_id: int, rule_id: str) -> Clock:
    clock = _latest_by_rule(clocks_for(session, subject=subject, subject_id=subject_id)).get(rule_id)
    if clock is None:
        raise ClockError(f"{subject} {subject_id} 没有时限 {rule_id!r}")
    return clock


# ---------------------------------------------------------------------------- starting
def _new_clock(
    session: Session,
    *,
    rule: ClockRule,
    subject: str,
    subject_id: int,
    anchor: datetime,
    now: datetime,
    calendar: WorkCalendar,
    actor: str,
    restarts: int = 0,
    note: str | None = None,
) -> Clock:
    times = compute(rule, anchor, calendar)
    clock = Clock(
        subject=subject,
        subject_id=subject_id,
        rule_id=rule.id,
        rule_name=rule.name,
        rule_snapshot=rule.snapshot(),
        kind=rule.kind,
        anchor_at=anchor.astimezone(UTC),
        due_at=times.due.astimezone(UTC),
        warn_at=None if times.warn is None else times.warn.astimezone(UTC),
        provisional=times.provisional,
        status=RUNNING,
        started_at=now,
        updated_at=now,
        restarts=restarts,
        note=note,
    )
    session.add(clock)
    session.flush()
    audit.record(
        session, actor=actor, action="clock.start", entity="clock", entity_id=clock.id, now=now,
        after={"subject": subject, "subject_id": subject_id, **_state(clock)}, note=note,
    )
    return clock


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
) -> list[Clock]:
    """Bring a subject's clocks in line with its facts; return the clocks started now.

    ``facts`` hold the conditions (e.g. ``grade``) and the anchors (e.g. ``discovered_at``,
    ``last_release_at``) as aware datetimes. Idempotent: a rule that already has a clock (other
    than a cancelled one) is not started again; a rule whose anchor fact is missing is not
    started yet. A ``repeat`` rule whose anchor moved later starts a new period. Open clocks
    of rules that no longer apply are cancelled (kept, status ``cancelled``). New clocks are
    moved to their state at ``now`` (an immediate clock is overdue at once); the status
    changes are appended to ``changes`` when given.
    """
    now = _aware(now, "now")
    applicable = rules_for(subject, facts, rules)
    applicable_ids = {r.id for r in applicable}
    latest = _latest_by_rule(clocks_for(session, subject=subject, subject_id=subject_id))
    for rule_id, clock in latest.items():
        if rule_id not in applicable_ids and clock.status in OPEN_STATUSES:
            before = _state(clock)
            clock.status = CANCELLED
            clock.closed = True
            clock.cancelled_at = now
            clock.updated_at = now
            audit.record(
                session, actor=actor, action="clock.cancel", entity="clock", entity_id=clock.id,
                now=now, before=before, after=_state(clock), note="规则不再适用 (rule no longer applies)",
            )
    started: list[Clock] = []
    for rule in applicable:
        anchor = facts.get(rule.anchor)
        if anchor is None:
            continue
        anchor = _aware(anchor, f"{rule.anchor}")
        current = latest.get(rule.id)
        if current is not None and current.status != CANCELLED:
            if rule.repeat and anchor > current.anchor_at:
                started.append(
                    _restart_clock(session, current, rule, anchor, now=now, calendar=calendar, actor=actor)
                )
            continue
        started.append(
            _new_clock(session, rule=rule, subject=subject, subject_id=subject_id, anchor=anchor,
                       now=now, calendar=calendar, actor=actor)
        )
    if started:
        found = _advance(session, started, now=now, actor=actor)
        if changes is not None:
            changes.extend(found)
    return started


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
        before = _state(clock)
        clock.status = MET
        clock.closed = True
        clock.met_at = at
        clock.late = at > clock.due_at
        clock.paused_at = None
        clock.updated_at = now
        audit.record(session, actor=actor, action="clock.met", entity="clock", entity_id=clock.id,
                     now=now, before=before, after=_state(clock))
        changed.append(clock)
    return changed


def _restart_clock(
    session: Session,
    clock: Clock,
    rule: ClockRule,
    anchor: datetime,
    *,
    now: datetime,
    calendar: WorkCalendar,
    actor: str,
    reason: str | None = None,
) -> Clock:
    if clock.status in OPEN_STATUSES + OVERDUE_STATUSES:
        before = _state(clock)
        if rule.repeat:  # a new release is what the running period waited for
            clock.status = MET
            clock.met_at = anchor
            clock.late = anchor > clock.due_at
        elif clock.status in OPEN_STATUSES:
            clock.status = RESTARTED
        clock.closed = True
        clock.paused_at = None
        clock.updated_at = now
        audit.record(session, actor=actor, action="clock.close_for_restart", entity="clock",
                     entity_id=clock.id, now=now, before=before, after=_state(clock), note=reason)
    return _new_clock(session, rule=rule, subject=clock.subject, subject_id=clock.subject_id,
                      anchor=anchor, now=now, calendar=calendar, actor=actor,
                      restarts=clock.restarts + 1, note=reason)


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
    before = _state(clock)
    clock.status = PAUSED
    clock.paused_at = at
    clock.updated_at = at
    audit.record(session, actor=actor, action="clock.pause", entity="clock", entity_id=clock.id, now=at,
                 before=before, after=_state(clock), note=reason)
    return clock


def _shift_due(clock: Clock, rule: ClockRule, calendar: WorkCalendar, *, hours: float = 0,
               working_days: int = 0) -> None:
    if rule.unit == "working_days":
        due = calendar.add_working_days(clock.due_at, working_days)
        clock.due_at = due.at.astimezone(UTC)
        clock.provisional = clock.provisional or due.provisional
    else:
        clock.due_at = clock.due_at + timedelta(hours=hours)
    warn = warn_time(rule, clock.anchor_at, clock.due_at, calendar)
    clock.warn_at = None if warn is None else warn.astimezone(UTC)


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
    before = _state(clock)
    seconds = int((at - clock.paused_at).total_seconds())
    days = calendar.working_days_between(clock.paused_at, at)
    _shift_due(clock, rule, calendar, hours=seconds / 3600, working_days=days)
    clock.paused_seconds += seconds
    clock.paused_working_days += days
    clock.paused_at = None
    clock.status = RUNNING
    clock.updated_at = at
    audit.record(session, actor=actor, action="clock.resume", entity="clock", entity_id=clock.id, now=at,
                 before=before, after=_state(clock))
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
    before = _state(clock)
    _shift_due(clock, rule, calendar, hours=rule.extension, working_days=int(rule.extension))
    clock.extension = rule.extension
    if clock.status != PAUSED:
        clock.status = status_at(_times(clock), None, at)
    clock.updated_at = at
    audit.record(session, actor=actor, action="clock.extend", entity="clock", entity_id=clock.id, now=at,
                 before=before, after=_state(clock), note=f"批准人: {approved_by}")
    return clock


# ---------------------------------------------------------------------------- passing time
def _advance(session: Session, clocks: Iterable[Clock], *, now: datetime, actor: str) -> list[ClockChange]:
    changes: list[ClockChange] = []
    for clock in clocks:
        if clock.status not in ACTIVE_STATUSES:
            continue
        new = status_at(_times(clock), None, now)
        if new == clock.status:
            continue
        before = clock.status
        clock.status = new
        clock.updated_at = now
        if new in (MISSED, BREACHED):
            clock.overdue_at = now
        snap = clock.rule_snapshot or {}
        changes.append(
            ClockChange(
                clock_id=clock.id, subject=clock.subject, subject_id=clock.subject_id,
                rule_id=clock.rule_id, rule_name=clock.rule_name, kind=clock.kind, before=before,
                after=new, at=now, due_at=clock.due_at, provisional=clock.provisional,
                source=str(snap.get("source", "")),
            )
        )
        audit.record(session, actor=actor, action=f"clock.{new}", entity="clock", entity_id=clock.id,
                     now=now, before={"status": before}, after={"status": new, "due_at": clock.due_at})
    return changes


def advance_clocks(
    session: Session,
    *,
    now: datetime,
    actor: str = "system",
    subject: str | None = None,
    subject_id: int | None = None,
) -> list[ClockChange]:
    """Move every running clock to its state at ``now`` (warning, missed target, breached
    limit) and return what changed. Idempotent: a second call at the same ``now`` changes
    nothing. Optionally restricted to one subject."""
    now = _aware(now, "now")
    stmt = select(Clock).where(
        Clock.closed == False,  # noqa: E712
        Clock.status.in_(ACTIVE_STATUSES),
        or_(Clock.due_at < now, Clock.warn_at <= now),
    )
    if subject is not None:
        stmt = stmt.where(Clock.subject == subject)
    if subject_id is not None:
        stmt = stmt.where(Clock.subject_id == subject_id)
    clocks = list(session.exec(stmt.order_by(Clock.id)))
    return _advance(session, clocks, now=now, actor=actor)


def recompute_provisional(
    session: Session, *, now: datetime, calendar: WorkCalendar, actor: str = "system"
) -> list[Clock]:
    """Recompute the due times of open provisional clocks (after next year's calendar was
    supplied); returns the clocks whose due time or provisional flag changed."""
    now = _aware(now, "now")
    stmt = select(Clock).where(Clock.provisional == True, Clock.status.in_(OPEN_STATUSES))  # noqa: E712
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
        before = _state(clock)
        warn = warn_time(rule, clock.anchor_at, due, calendar)
        clock.due_at = due.astimezone(UTC)
        clock.provisional = provisional
        clock.warn_at = None if warn is None else warn.astimezone(UTC)
        clock.updated_at = now
        audit.record(session, actor=actor, action="clock.recompute", entity="clock", entity_id=clock.id,
                     now=now, before=before, after=_state(clock), note="日历更新后重新计算 (calendar updated)")
        changed.append(clock)
    return changed
