"""Citizens' messages entered by hand (登记留言) from any configured channel — the hotline, the
政府信息公开咨询电话, 领导信箱, 省长建言, 调查征集 ... — and the changes staff make afterwards to
any message: marking it a simple question (reply due in 3 working days instead of 5) and
assigning its unit (承办单位). Every change is audited; the reply clock is recomputed.

Service functions are keyword-only, take the session and do not commit. ``now`` is an argument.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, select

from ledger import audit
from ledger.clocks.calendar import WorkCalendar
from ledger.clocks.replies import apply_reply_clock, reply_state
from ledger.clocks.rules import ClockRule
from ledger.messages.service import MessageError
from ledger.models.core import Message, Source

MAX_TITLE, MAX_TEXT = 500, 20000


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise MessageError(f"{what}缺少时区或不是时间: {value!r}")
    return value


def _opt(value: str | None) -> str | None:
    value = None if value is None else str(value).strip()
    return value or None


def _cut(value: str | None, n: int) -> str | None:
    value = _opt(value)
    return None if value is None else value[:n]


def manual_source(session: Session, *, name: str, now: datetime) -> Source:
    """The source holding hand-entered messages (created when first needed; never crawled)."""
    src = session.exec(select(Source).where(Source.name == name)).first()
    if src is None:
        src = Source(name=name, kind="hotline", url=None, config={"manual": True}, created_at=now)
        session.add(src)
        session.flush()
    return src


def _entry_state(m: Message) -> dict[str, object]:
    return {"channel": m.channel, "title": m.title, "author": m.author, "received_at": m.received_at,
            "simple": m.simple, "unit": m.unit, "external_id": m.external_id, **reply_state(m)}


def add_message(session: Session, *, channel: str, title: str | None, text: str, received_at: datetime,
                now: datetime, actor: str, calendar: WorkCalendar, rules: Iterable[ClockRule], source_name: str,
                simple: bool = False, author: str | None = None, unit: str | None = None) -> Message:
    """Record a message received on ``channel`` (a configured channel name, already checked by
    the caller) and start its reply clock: 5 working days, 3 for a simple question, the day of
    receipt not counted."""
    now = _aware(now, "当前时间")
    received_at = _aware(received_at, "收到时间")
    if received_at > now:
        raise MessageError(f"收到时间 ({received_at.isoformat()}) 晚于当前时间")
    channel = (channel or "").strip()
    if not channel:
        raise MessageError("渠道不能为空")
    if not text or not text.strip():
        raise MessageError("留言内容不能为空")
    src = manual_source(session, name=source_name, now=now)
    message = Message(
        source_id=src.id, external_id=f"tmp-{uuid.uuid4().hex}", channel=channel[:20],
        title=_cut(title, MAX_TITLE), text=text.strip()[:MAX_TEXT], author=_cut(author, 200),
        received_at=received_at, simple=bool(simple), unit=_cut(unit, 100),
    )
    apply_reply_clock(message, calendar=calendar, rules=list(rules))
    session.add(message)
    session.flush()
    message.external_id = f"登记-{message.id}"
    session.add(message)
    audit.record(session, actor=actor, action="message.add", entity="message", entity_id=message.id, now=now,
                 after=_entry_state(message))
    return message


def _get(session: Session, message_id: int) -> Message:
    message = session.get(Message, int(message_id))
    if message is None:
        raise MessageError(f"留言不存在: {message_id}")
    return message


def mark_simple(session: Session, *, message_id: int, simple: bool, now: datetime, actor: str,
                calendar: WorkCalendar, rules: Iterable[ClockRule], reason: str | None = None) -> Message:
    """Mark a message a simple question (or not): its reply clock is recomputed (3 / 5 working days)."""
    now = _aware(now, "当前时间")
    message = _get(session, message_id)
    if bool(message.simple) == bool(simple):
        raise MessageError(f"留言 {message.id} 已{'是' if simple else '不是'}简单问题")
    before = {"simple": message.simple, **reply_state(message)}
    message.simple = bool(simple)
    apply_reply_clock(message, calendar=calendar, rules=list(rules))
    session.add(message)
    audit.record(session, actor=actor, action="message.simple", entity="message", entity_id=message.id, now=now,
                 before=before, after={"simple": message.simple, **reply_state(message)}, note=_opt(reason))
    return message


def assign_unit(session: Session, *, message_id: int, unit: str, now: datetime, actor: str,
                calendar: WorkCalendar | None = None, rules: Iterable[ClockRule] | None = None) -> Message:
    """Assign the unit that handles the message (承办单位); with the calendar and rules the reply
    clock is recomputed too (a locality may restrict rules to units)."""
    now = _aware(now, "当前时间")
    message = _get(session, message_id)
    unit_name = _opt(unit)
    if unit_name is None:
        raise MessageError("承办单位不能为空")
    if message.unit == unit_name:
        raise MessageError(f"留言 {message.id} 已由 {unit_name} 承办")
    before = {"unit": message.unit, **reply_state(message)}
    message.unit = unit_name[:100]
    if calendar is not None and rules is not None:
        apply_reply_clock(message, calendar=calendar, rules=list(rules))
    session.add(message)
    audit.record(session, actor=actor, action="message.assign", entity="message", entity_id=message.id, now=now,
                 before=before, after={"unit": message.unit, **reply_state(message)})
    return message
