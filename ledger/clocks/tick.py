"""One pass of time over the ledger: every clock moved to its state at ``now`` (warnings, missed
targets, breached limits), stale message reply clocks recomputed, commitments past their due date
flagged overdue. Idempotent: a second pass at the same ``now`` changes nothing.

Takes the session and does not commit; :func:`config.ticking.run_tick` owns the transaction and
runs the alert hooks on the report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from ledger import audit
from ledger.clocks.calendar import WorkCalendar
from ledger.clocks.replies import refresh_message_clocks
from ledger.clocks.rules import STATUS_LABELS, ClockRule
from ledger.clocks.service import ClockChange, advance_clocks
from ledger.models.cases import Commitment

#: commitment statuses in which the duty is still owed (the others are fulfilled)
DEFAULT_OPEN_COMMITMENT_STATUSES = ("未落实", "落实中")


@dataclass
class TickReport:
    """What one pass of time changed."""

    now: datetime
    clock_changes: list[ClockChange] = field(default_factory=list)
    messages_changed: list[int] = field(default_factory=list)
    commitments_overdue: list[int] = field(default_factory=list)
    calendar_missing_year: int | None = None
    #: the calendar the pass used (for alert hooks; not part of ``as_dict``)
    calendar: WorkCalendar | None = field(default=None, repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.clock_changes or self.messages_changed or self.commitments_overdue)

    def counts(self) -> dict[str, int]:
        by_status = Counter(c.after for c in self.clock_changes)
        return {
            "clocks_changed": len(self.clock_changes),
            "clocks_warning": by_status.get("warning", 0),
            "clocks_missed": by_status.get("missed", 0),
            "clocks_breached": by_status.get("breached", 0),
            "messages_changed": len(self.messages_changed),
            "commitments_overdue": len(self.commitments_overdue),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            **self.counts(),
            "clock_changes": [c.as_dict() for c in self.clock_changes],
            "messages": list(self.messages_changed),
            "commitments": list(self.commitments_overdue),
            "calendar_missing_year": self.calendar_missing_year,
        }

    def summary_lines(self) -> list[str]:
        """Chinese one-line descriptions of the changes."""
        lines = []
        for c in self.clock_changes:
            lines.append(
                f"{_subject(c.subject)} {c.subject_id} · {c.rule_name or c.rule_id}: "
                f"{STATUS_LABELS.get(c.before, c.before)} → {STATUS_LABELS.get(c.after, c.after)}"
                + (" (期限为暂定)" if c.provisional else "")
            )
        if self.messages_changed:
            lines.append(f"留言答复时限重新计算: {len(self.messages_changed)} 条")
        for cid in self.commitments_overdue:
            lines.append(f"承诺 {cid}: 已过承诺期限仍未落实")
        if self.calendar_missing_year is not None:
            lines.append(f"提醒: 尚未录入 {self.calendar_missing_year} 年节假日安排, 相关期限为暂定")
        return lines


def _subject(subject: str) -> str:
    return {"case": "案件", "message": "留言", "commitment": "承诺", "policy": "政策", "disclosure": "依申请公开"}.get(
        subject, subject)


def flag_overdue_commitments(session: Session, *, now: datetime, actor: str = "system",
                             open_statuses: tuple[str, ...] = DEFAULT_OPEN_COMMITMENT_STATUSES) -> list[int]:
    """Mark commitments still owed past their due time (``overdue_at``); returns their ids."""
    stmt = select(Commitment).where(
        Commitment.status.in_(open_statuses), Commitment.due_at < now, Commitment.overdue_at.is_(None)
    ).order_by(Commitment.id)
    flagged: list[int] = []
    for c in session.exec(stmt):
        c.overdue_at = now
        session.add(c)
        audit.record(session, actor=actor, action="commitment.overdue", entity="commitment", entity_id=c.id,
                     now=now, before={"overdue_at": None, "status": c.status},
                     after={"overdue_at": now, "status": c.status, "due_at": c.due_at})
        flagged.append(c.id)
    return flagged


def run_tick(session: Session, *, now: datetime, calendar: WorkCalendar, rules: list[ClockRule],
             actor: str = "system",
             open_commitment_statuses: tuple[str, ...] = DEFAULT_OPEN_COMMITMENT_STATUSES) -> TickReport:
    """Move the ledger to its state at ``now`` and report what changed (does not commit)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now 缺少时区: {now!r}")
    report = TickReport(now=now, calendar=calendar)
    report.messages_changed = [m.id for m in refresh_message_clocks(
        session, now=now, calendar=calendar, rules=rules, actor=actor)]
    session.flush()
    report.clock_changes = advance_clocks(session, now=now, actor=actor)
    report.commitments_overdue = flag_overdue_commitments(
        session, now=now, actor=actor, open_statuses=open_commitment_statuses)
    report.calendar_missing_year = calendar.missing_next_year(now)
    session.flush()
    return report
