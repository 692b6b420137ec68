"""Citizens' messages (留言办理): the reply clock of each message, recording replies, listing.

A message's reply is due within 5 working days of receipt (3 for a simple question), the day of
receipt not counted (rules ``message_reply`` / ``message_reply_simple`` in ``clocks.toml``).
The clock lives on the ``message`` row itself (due_at, due_provisional, on_time,
late_working_days). :func:`apply_reply_clock` is pure and cheap (the calendar caches per-day
results), so importers call it for every row. Service functions here do not commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_
from sqlmodel import Session, select

from analysis.pii import mask
from ledger import audit
from ledger.calendar import WorkCalendar
from ledger.clocks import ClockRule, compute, rules_for
from ledger.models.core import Message

STATUS_ON_TIME = "按时答复"
STATUS_LATE = "超期答复"
STATUS_OVERDUE = "已超期未答复"
STATUS_WARNING = "即将到期"
STATUS_OPEN = "办理中"
STATUS_NO_CLOCK = "无时限"


class MessageError(ValueError):
    """A message operation refused (message in Chinese for the user)."""


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


def apply_reply_clock(message: Message, *, calendar: WorkCalendar, rules: Iterable[ClockRule]) -> Message:
    """Set ``due_at``/``due_provisional`` from the receipt time and, when the message has been
    replied, ``on_time``/``late_working_days``. Pure (no session); returns the message."""
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
    return message


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


def _state(m: Message) -> dict[str, Any]:
    return {
        "reply_text": m.reply_text,
        "replied_at": m.replied_at,
        "due_at": m.due_at,
        "due_provisional": m.due_provisional,
        "on_time": m.on_time,
        "late_working_days": m.late_working_days,
    }


def record_reply(
    session: Session,
    *,
    message_id: int,
    text: str,
    replied_at: datetime,
    actor: str,
    now: datetime,
    calendar: WorkCalendar,
    rules: Iterable[ClockRule],
    replace: bool = False,
) -> Message:
    """Record the reply (text, time): stops the clock and states on time / late by N working days.

    Refused: an empty text, a naive time, a reply before receipt or after ``now``, and (unless
    ``replace``) a message already replied. The old reply stays in the audit log.
    """
    if not text or not text.strip():
        raise MessageError("答复内容不能为空")
    if replied_at.tzinfo is None or replied_at.utcoffset() is None:
        raise MessageError("答复时间缺少时区")
    message = session.get(Message, message_id)
    if message is None:
        raise MessageError(f"留言不存在: {message_id}")
    if message.received_at is not None and replied_at < message.received_at:
        raise MessageError("答复时间早于留言时间")
    if replied_at > now:
        raise MessageError("答复时间晚于当前时间")
    if message.replied_at is not None and not replace:
        raise MessageError(f"留言 {message_id} 已于 {message.replied_at.isoformat()} 答复; 如需更正请使用 replace")
    before = _state(message)
    message.reply_text = text.strip()
    message.replied_at = replied_at
    apply_reply_clock(message, calendar=calendar, rules=rules)
    session.add(message)
    audit.record(
        session, actor=actor, action="message.reply" if before["replied_at"] is None else "message.reply.replace",
        entity="message", entity_id=message.id, now=now, before=before, after=_state(message),
    )
    return message


def list_messages(
    session: Session,
    *,
    now: datetime,
    overdue_first: bool = False,
    overdue_only: bool = False,
    unit: str | None = None,
    limit: int | None = None,
) -> list[Message]:
    """Messages, newest receipt first (or overdue ones first, earliest due first).

    Overdue = unanswered past its due time, or answered late."""
    stmt = select(Message)
    if unit is not None:
        stmt = stmt.where(Message.unit == unit)
    overdue = or_(
        (Message.replied_at.is_(None)) & (Message.due_at.is_not(None)) & (Message.due_at < now),
        Message.on_time == False,
    )
    if overdue_only:
        stmt = stmt.where(overdue)
    if overdue_first or overdue_only:
        unanswered_overdue = (Message.replied_at.is_(None)) & (Message.due_at < now)
        stmt = stmt.order_by(
            case((unanswered_overdue, 0), (Message.on_time == False, 1), else_=2),
            func.coalesce(Message.due_at, Message.received_at),
            Message.id,
        )
    else:
        stmt = stmt.order_by(Message.received_at.desc(), Message.id.desc())
    if limit is not None:
        if limit < 0:
            raise MessageError("limit 不能为负数")
        stmt = stmt.limit(limit)
    return list(session.exec(stmt))


def message_row(
    message: Message,
    now: datetime,
    *,
    calendar: WorkCalendar | None = None,
    rules: Iterable[ClockRule] | None = None,
) -> dict[str, Any]:
    """JSON-ready view of a message, personal numbers masked in the title. With the calendar and
    rules, an unanswered message past its rule's warning point shows as 即将到期."""
    warn_at = None
    if calendar is not None and rules is not None and message.replied_at is None:
        warn_at = reply_warn_at(message, calendar=calendar, rules=rules)
    return {
        "id": message.id,
        "external_id": message.external_id,
        "channel": message.channel,
        "title": mask(message.title) if message.title else message.title,
        "unit": message.unit,
        "simple": message.simple,
        "received_at": message.received_at,
        "due_at": message.due_at,
        "due_provisional": message.due_provisional,
        "replied_at": message.replied_at,
        "on_time": message.on_time,
        "late_working_days": message.late_working_days,
        "status": message_status(message, now, warn_at=warn_at),
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
        before = _state(message)
        apply_reply_clock(message, calendar=calendar, rules=rules)
        after = _state(message)
        if after == before:
            continue
        session.add(message)
        audit.record(session, actor=actor, action="message.clock", entity="message",
                     entity_id=message.id, now=now, before=before, after=after)
        changed.append(message)
    return changed
