"""Sources: creating, listing, and recording the health of each crawl (success, error, marked down)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ledger import audit
from ledger.models.core import Source

KINDS = ("rss", "atom", "feed", "html", "json", "board", "hotline", "file")


class SourceError(ValueError):
    """A source request that cannot be carried out (unknown id, duplicate name, bad kind)."""


def add_source(
    session: Session,
    *,
    name: str,
    kind: str,
    url: str | None,
    config: dict[str, Any] | None = None,
    interval_seconds: int | None = None,
    cron: str | None = None,
    enabled: bool = True,
    actor: str,
    now: datetime,
) -> Source:
    """Create a source (does not commit)."""
    if kind not in KINDS:
        raise SourceError(f"未知的来源类型 (unknown kind) {kind!r}; 可选: {', '.join(KINDS)}")
    if not name.strip():
        raise SourceError("来源名称不能为空 (name is empty)")
    if session.exec(select(Source).where(Source.name == name)).first() is not None:  # type: ignore[call-overload]
        raise SourceError(f"来源名称已存在 (a source named {name!r} exists)")
    if interval_seconds is not None and interval_seconds < 10:
        raise SourceError("--interval 至少 10 秒 (interval must be at least 10 seconds)")
    src = Source(
        name=name.strip(),
        kind=kind,
        url=url,
        config=config or {},
        interval_seconds=interval_seconds,
        cron=cron,
        enabled=enabled,
        created_at=now,
    )
    session.add(src)
    session.flush()
    audit.record(session, actor=actor, action="source.add", entity="source", entity_id=src.id, now=now,
                 after={"name": src.name, "kind": kind, "url": url, "interval_seconds": interval_seconds})
    return src


def get_source(session: Session, source_id: int) -> Source:
    src = session.get(Source, source_id)
    if src is None:
        raise SourceError(f"来源不存在 (no source with id {source_id})")
    return src


def list_sources(session: Session, *, enabled_only: bool = False) -> list[Source]:
    stmt = select(Source).order_by(Source.id)
    if enabled_only:
        stmt = stmt.where(Source.enabled == True)  # noqa: E712
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def record_success(session: Session, *, source: Source, items: int, now: datetime,
                   etag: str | None = None, last_modified: str | None = None,
                   warning: str | None = None) -> None:
    """Mark a crawl as succeeded: resets the failure count, keeps conditional-GET state.

    ``warning``: what the crawl skipped (see ``crawlers.web.crawl_warning``); a crawl without
    one clears the previous crawl's."""
    was_down = source.status == "down"
    source.status = "ok"
    source.last_warning = warning[:4000] if warning else None
    source.last_success_at = now
    source.last_crawl_at = now
    source.consecutive_failures = 0
    source.last_items = items
    if etag is not None:
        source.etag = etag
    if last_modified is not None:
        source.last_modified = last_modified
    session.add(source)
    if was_down:
        audit.record(session, actor="system", action="source.up", entity="source", entity_id=source.id, now=now)


def record_warning(session: Session, *, source: Source, warning: str | None) -> None:
    """Replace what the source's current crawl has skipped so far (crawl workers sharing one
    round write it as they go); the status and the success time stay as they are."""
    source.last_warning = warning[:4000] if warning else None
    session.add(source)


def record_failure(session: Session, *, source: Source, error: str, now: datetime, down_after: int) -> bool:
    """Record a failed crawl on the source; returns True when this failure marks it down."""
    source.last_error = error[:4000]
    source.last_error_at = now
    source.last_crawl_at = now
    source.consecutive_failures = (source.consecutive_failures or 0) + 1
    newly_down = source.consecutive_failures >= down_after and source.status != "down"
    source.status = "down" if source.consecutive_failures >= down_after else "error"
    session.add(source)
    audit.record(session, actor="system", action="source.error", entity="source", entity_id=source.id,
                 now=now, after={"error": error[:500], "consecutive_failures": source.consecutive_failures})
    if newly_down:
        audit.record(session, actor="system", action="source.down", entity="source", entity_id=source.id, now=now)
    return newly_down
