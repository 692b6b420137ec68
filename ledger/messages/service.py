"""Citizens' messages (留言办理): recording replies and listing messages for the dashboard and CLI.

The reply clock itself (due time, status, refresh on tick) is :mod:`ledger.clocks.replies`.
Service functions here do not commit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_
from sqlmodel import Session, select

from analysis.pii import mask
from ledger import audit
from ledger.acttime import check_act_time, local_text
from ledger.clocks.calendar import WorkCalendar
from ledger.clocks.replies import (
    apply_reply_clock,
    message_status,
    overdue_working_days,
    reply_state,
    reply_warn_at,
)
from ledger.clocks.rules import ClockRule
from ledger.models.core import Message


class MessageError(ValueError):
    """A message operation refused (message in Chinese for the user)."""


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
    message = session.get(Message, message_id)
    if message is None:
        raise MessageError(f"留言不存在: {message_id}")
    replied_at = check_act_time(replied_at, what="答复时间", now=now, error=MessageError,
                                not_before=message.received_at, not_before_what="留言收到时间")
    if message.replied_at is not None and not replace:
        raise MessageError(f"留言 {message_id} 已于 {local_text(message.replied_at)} 答复; 如需更正请使用 replace (--replace)")
    before = reply_state(message)
    message.reply_text = text.strip()
    message.replied_at = replied_at
    apply_reply_clock(message, calendar=calendar, rules=rules)
    session.add(message)
    audit.record(
        session, actor=actor, action="message.reply" if before["replied_at"] is None else "message.reply.replace",
        entity="message", entity_id=message.id, now=now, before=before, after=reply_state(message),
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
    ids: Collection[int] | None = None,
) -> list[Message]:
    """Messages, newest receipt first (or overdue ones first, earliest due first); only those in
    ``ids`` when given (e.g. a search's hits).

    Overdue = unanswered past its due time, or answered late."""
    stmt = select(Message)
    if ids is not None:
        stmt = stmt.where(Message.id.in_(list(ids)))
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
    rules, an unanswered message past its rule's warning point shows as 即将到期, and one past
    its due time carries the working days overdue so far (``late_working_days``, a running
    count; ``overdue_running`` is true while it still grows)."""
    warn_at = None
    late_days = message.late_working_days
    if calendar is not None and message.replied_at is None:
        late_days = overdue_working_days(message, now, calendar=calendar)
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
        "late_working_days": late_days,
        "overdue_running": message.replied_at is None and late_days is not None,
        "status": message_status(message, now, warn_at=warn_at),
    }
