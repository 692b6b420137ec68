"""Intake of citizens' messages (留言) read from hotline / 留言 exports: stored per source and
external id, each linked to the post stored for the same row, with its reply clock applied.
Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from analysis.normalize import normalize_text
from ledger.models.core import Message
from ledger.posts.intake import (
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    QUERY_CHUNK,
    author_name,
    external_key,
    insert_ignoring_duplicates,
)

_MESSAGE = Message.__table__  # type: ignore[attr-defined]


@dataclass
class RawMessage:
    """One citizen's message read from a hotline / 留言 export."""

    external_id: str
    channel: str
    received_at: datetime
    text: str
    title: str | None = None
    author: str | None = None
    simple: bool = False
    unit: str | None = None
    reply_text: str | None = None
    replied_at: datetime | None = None
    likes: int = 0
    dislikes: int = 0
    state: str | None = None  # the board's state (待回复 / 办理中 / 已办理), for messages crawled from a board


@dataclass
class MessageResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def merge(self, other: MessageResult) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


def store_messages(
    session: Session,
    *,
    source_id: int,
    items: Sequence[RawMessage],
    post_ids: Mapping[str, int] | None = None,
    reply_clock: Callable[[Message], Any] | None = None,
    now: datetime,
) -> MessageResult:
    """Store citizens' messages of one source, each linked to its post; does not commit.

    A message already stored (same source and external id) is left alone unless the export now
    carries a reply it did not have (or a different one): then the reply is recorded; or unless a
board now shows another state (``RawMessage.state``): then the state follows. The reply
    clock (``reply_clock``, e.g. ``ledger.clocks.replies.apply_reply_clock`` bound to the calendar and
    rules) is applied to every new or updated message.
    """
    result = MessageResult()
    by_id: dict[str, RawMessage] = {}
    for item in items:
        by_id[external_key(item.external_id)] = item
    if not by_id:
        return result
    stored: dict[str, Message] = {}
    ids = list(by_id)
    for start in range(0, len(ids), QUERY_CHUNK):
        chunk = ids[start : start + QUERY_CHUNK]
        for msg in session.execute(
            select(Message).where(Message.source_id == source_id, Message.external_id.in_(chunk))
        ).scalars():
            stored[msg.external_id] = msg
    links = post_ids or {}
    rows: list[dict[str, Any]] = []
    for ext_id, item in by_id.items():
        reply = normalize_text(item.reply_text)[:MAX_TEXT_CHARS] if item.reply_text else None
        old = stored.get(ext_id)
        if old is not None:
            changed = False
            if (reply or None, item.replied_at) != (old.reply_text, old.replied_at) and (reply or item.replied_at):
                old.reply_text, old.replied_at = reply, item.replied_at
                old.likes, old.dislikes = item.likes, item.dislikes
                if reply_clock is not None:
                    reply_clock(old)
                changed = True
            if item.state and item.state != old.board_state:  # the board moved it on
                old.board_state = item.state
                changed = True
            if changed:
                session.add(old)
                result.updated += 1
            else:
                result.unchanged += 1
            continue
        msg = Message(
            source_id=source_id,
            post_id=links.get(ext_id),
            external_id=ext_id,
            channel=item.channel,
            title=normalize_text(item.title)[:MAX_TITLE_CHARS] or None if item.title else None,
            text=normalize_text(item.text)[:MAX_TEXT_CHARS],
            author=author_name(item.author),
            received_at=item.received_at,
            simple=item.simple,
            unit=item.unit[:100] if item.unit else None,
            reply_text=reply,
            replied_at=item.replied_at,
            likes=item.likes,
            dislikes=item.dislikes,
            board_state=item.state,
        )
        if reply_clock is not None:
            reply_clock(msg)
        rows.append({col.name: getattr(msg, col.name) for col in _MESSAGE.columns if col.name != "id"})
    if rows:
        stmt = insert_ignoring_duplicates(session, _MESSAGE, "uq_message_source_external")
        inserted = session.execute(stmt, rows).rowcount
        inserted = len(rows) if inserted is None or inserted < 0 else inserted
        result.inserted = inserted
        result.unchanged += len(rows) - inserted
    if result.updated:
        session.flush()
    return result
