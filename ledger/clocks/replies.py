"""The reply clock of a citizen's message (留言答复): due time, warning point, status, refresh.

A message's reply is due within 5 working days of receipt (3 for a simple question), the day of
receipt not counted (rules ``message_reply`` / ``message_reply_simple`` in ``clocks.toml``).
The clock lives on the ``message`` row itself (due_at, due_provisional, on_time,
late_working_days). :func:`apply_reply_clock` is pure and cheap (the calendar caches per-day
results), so importers call it for every row; :func:`refresh_message_clocks` is the tick's pass
over the clocks that may be stale. Functions here do not commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, select

from ledger import audit
from ledger.clocks.calendar import WorkCalendar
from ledger.clocks.rules import ClockRule, compute, rules_for
from ledger.models.core import Message

STATUS_ON_TIME = "按时答复"
STATUS_LATE = "超期答复"
STATUS_OVERDUE = "已超期未答复"
STATUS_WARNING = "即将到期"
STATUS_OPEN = "办理中"
STATUS_NO_CLOCK = "无时限"


def message_facts(message: Message) -> dict[str, Any]:
    """The facts the message rules look at."""
    return {
        "channel": message.channel,
        "simple": bool(message.simple),
        "unit": message.unit,
        "received_at": message.received_at,
    }


def reply_rule(message: Message, rules: Iterable[ClockRule]) -> ClockRule | None:
    """The reply rule for this message (the first matching ``message`` rule), or None."""
    matching = rules_for("message", message_facts(message), list(rules))
    return matching[0] if matching else None


def apply_reply_clock(message: Message, *, calendar: WorkCalendar, rules: Iterable[ClockRule],
                      noted_before: datetime | None = None) -> Message:
    """Set ``due_at``/``due_provisional`` from the receipt time and, when the message has been
    replied, ``on_time``/``late_working_days``. Pure (no session); returns the message.
    ``noted_before``: an unanswered message whose reply was due before this instant is marked
    as already noted overdue (``overdue_at``): it came in historical, no alert is raised for it."""
    rule = reply_rule(message, rules) if message.received_at is not None else None
    if rule is None:
        message.due_at = None
        message.due_provisional = False
        message.on_time = None
        message.late_working_days = None
        return message
    times = compute(rule, message.received_at, calendar)
    message.due_at = times.due
    message.due_provisional = times.provisional
    if message.replied_at is not None:
        late = calendar.working_days_late(times.due, message.replied_at)
        message.on_time = late == 0
        message.late_working_days = late
    else:
        message.on_time = None
        message.late_working_days = None
        if noted_before is not None and message.overdue_at is None and message.due_at < noted_before:
            message.overdue_at = message.due_at
    return message


def overdue_working_days(message: Message, now: datetime, *, calendar: WorkCalendar) -> int | None:
    """Working days the reply is late: the final count once replied, the running count (as of
    ``now``) while unanswered past its due time; None while not overdue or without a clock."""
    if message.replied_at is not None:
        return message.late_working_days
    if message.due_at is None or now <= message.due_at:
        return None
    return calendar.working_days_late(message.due_at, now)


def reply_warn_at(message: Message, *, calendar: WorkCalendar, rules: Iterable[ClockRule]) -> datetime | None:
    """The warning point of the message's reply clock (from its rule's ``warn_at``), or None."""
    rule = reply_rule(message, rules) if message.received_at is not None else None
    return None if rule is None else compute(rule, message.received_at, calendar).warn


def message_status(message: Message, now: datetime, *, warn_at: datetime | None = None) -> str:
    """按时答复 / 超期答复 / 已超期未答复 / 即将到期 (past ``warn_at``) / 办理中 / 无时限."""
    if message.replied_at is not None:
        if message.on_time is None:
            return STATUS_NO_CLOCK if message.due_at is None else STATUS_OPEN
        return STATUS_ON_TIME if message.on_time else STATUS_LATE
    if message.due_at is None:
        return STATUS_NO_CLOCK
    if now > message.due_at:
        return STATUS_OVERDUE
    if warn_at is not None and now >= warn_at:
        return STATUS_WARNING
    return STATUS_OPEN


def reply_state(m: Message) -> dict[str, Any]:
    return {
        "reply_text": m.reply_text,
        "replied_at": m.replied_at,
        "due_at": m.due_at,
        "due_provisional": m.due_provisional,
        "on_time": m.on_time,
        "late_working_days": m.late_working_days,
    }


def refresh_message_clocks(
    session: Session,
    *,
    now: datetime,
    calendar: WorkCalendar,
    rules: Iterable[ClockRule],
    actor: str = "system",
) -> list[Message]:
    """Recompute the clocks that may be stale: messages without a due time, provisional ones
    (next year's calendar may have been supplied), and replied ones not yet judged. Returns the
    messages that changed (each change audited)."""
    rules = list(rules)
    stmt = select(Message).where(
        or_(
            Message.due_at.is_(None),
            Message.due_provisional == True,
            (Message.replied_at.is_not(None)) & (Message.on_time.is_(None)),
        )
    )
    changed: list[Message] = []
    for message in session.exec(stmt.order_by(Message.id)):
        before = reply_state(message)
        apply_reply_clock(message, calendar=calendar, rules=rules)
        after = reply_state(message)
        if after == before:
            continue
        session.add(message)
        audit.record(session, actor=actor, action="message.clock", entity="message",
                     entity_id=message.id, now=now, before=before, after=after)
        changed.append(message)
    return changed
