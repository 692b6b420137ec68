"""Shared parts of the clock service: the Clock change record, JSON view, queries, and the
internal steps (start one clock, restart, shift a due time, advance states) used by
:mod:`ledger.clocks.service`. Nothing here commits."""


from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from ledger import audit
from ledger.clocks.calendar import WorkCalendar
from ledger.clocks.rules import (
    ACTIVE_STATUSES,
    BREACHED,
    MET,
    MISSED,
    OPEN_STATUSES,
    OUTCOME_LABELS,
    OVERDUE_STATUSES,
    RESTARTED,
    RUNNING,
    ClockRule,
    ClockTimes,
    compute,
    outcome,
    status_at,
    status_label,
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


def clock_to_dict(clock: Clock, *, now: datetime | None = None) -> dict[str, Any]:
    """JSON-ready view of a clock (times stay datetimes; ``config.cli.common.print_json`` renders them).
    ``outcome`` is :func:`ledger.clocks.rules.outcome` as of ``now`` (按时 / 超时 / 办理中 / 不计)."""
    snap = clock.rule_snapshot or {}
    result = outcome(clock.status, clock.late, clock.due_at, now)
    return {
        "id": clock.id,
        "rule": clock.rule_id,
        "rule_name": clock.rule_name,
        "name": clock.rule_name,  # the same, under the name the policy and commitment views use
        "kind": clock.kind,
        "unit": snap.get("unit"),
        "limit": snap.get("limit"),
        "anchor": snap.get("anchor"),
        "anchor_at": clock.anchor_at,
        "due_at": clock.due_at,
        "warn_at": clock.warn_at,
        "provisional": clock.provisional,
        "status": clock.status,
        "status_label": status_label(clock.status, clock.late),
        "outcome": result,
        "outcome_label": OUTCOME_LABELS[result],
        "grade": clock.grade,
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
    flush: bool = True,
    grade: str | None = None,
) -> Clock:
    times = compute(rule, anchor, calendar)
    clock = Clock(
        grade=grade,
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
    if flush:
        session.flush()
        _audit_start(session, clock, now=now, actor=actor)
    return clock


def _audit_start(session: Session, clock: Clock, *, now: datetime, actor: str) -> None:
    audit.record(
        session, actor=actor, action="clock.start", entity="clock", entity_id=clock.id, now=now,
        after={"subject": clock.subject, "subject_id": clock.subject_id, **_state(clock)}, note=clock.note,
    )


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
    grade: str | None = None,
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
                      restarts=clock.restarts + 1, note=reason, grade=grade or clock.grade)


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


