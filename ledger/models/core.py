"""Core tables: sources, posts with their assessment, earlier post versions, raw evidence,
citizens' messages (留言) and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime


def _dt(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class SourceBase(SQLModel):
    name: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=20, description="rss | atom | html | json | hotline | file")
    url: str | None = Field(default=None, max_length=2000)
    config: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    interval_seconds: int | None = None
    cron: str | None = Field(default=None, max_length=100)
    enabled: bool = True


class Source(SourceBase, table=True):
    __tablename__ = "source"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime | None = _dt()
    # conditional GET state
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    # health
    status: str = Field(default="new", max_length=10, description="new | ok | error | down")
    last_success_at: datetime | None = _dt()
    last_error: str | None = Field(default=None, sa_type=Text)
    last_error_at: datetime | None = _dt()
    consecutive_failures: int = 0
    last_items: int | None = None
    last_crawl_at: datetime | None = _dt()
    # what the last successful crawl skipped (pages that failed or held no text); None: nothing
    last_warning: str | None = Field(default=None, sa_type=Text)


class SourceCreate(SourceBase):
    pass


class Post(SQLModel, table=True):
    """A public post or message as collected, normalised and assessed."""

    __tablename__ = "post"
    __table_args__ = (UniqueConstraint("source_id", "external_id", name="uq_post_source_external"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    external_id: str = Field(max_length=512)
    url: str | None = Field(default=None, max_length=2000)
    title: str | None = Field(default=None, sa_type=Text)
    text: str = Field(default="", sa_type=Text, description="normalised plain text (unmasked)")
    author: str | None = Field(default=None, max_length=200)
    published_at: datetime | None = _dt(index=True)
    fetched_at: datetime | None = _dt(nullable=False, index=True)
    updated_at: datetime | None = _dt()
    version: int = 1
    content_hash: str = Field(default="", max_length=40, index=True)
    simhash: int | None = Field(default=None, sa_type=BigInteger)
    dup_of_id: int | None = Field(default=None, index=True)
    likes: int = 0
    dislikes: int = 0
    reposts: int = 0
    # assessment
    sentiment: str | None = Field(default=None, max_length=10, index=True)
    sentiment_score: float | None = None
    categories: list[Any] = Field(default_factory=list, sa_type=JSON)
    topics: list[Any] = Field(default_factory=list, sa_type=JSON)
    sensitivity: float | None = Field(default=None, index=True)
    severity: str | None = Field(default=None, max_length=10)
    jurisdiction: str | None = Field(default=None, max_length=100)
    responsible_unit: str | None = Field(default=None, max_length=100)
    disposal_type: str | None = Field(default=None, max_length=30)
    rumour: bool = False
    pii: list[Any] = Field(default_factory=list, sa_type=JSON)
    assessment: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, description="reasons etc.")
    event_id: int | None = Field(default=None, index=True)


class PostVersion(SQLModel, table=True):
    """An earlier version of a post whose content changed at the source."""

    __tablename__ = "post_version"

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    version: int
    title: str | None = Field(default=None, sa_type=Text)
    text: str = Field(default="", sa_type=Text)
    content_hash: str = Field(default="", max_length=40)
    fetched_at: datetime | None = _dt(nullable=False)
    replaced_at: datetime | None = _dt(nullable=False)


class Evidence(SQLModel, table=True):
    """The raw response an item came from, zlib-compressed, with URL, fetch time and SHA-256."""

    __tablename__ = "evidence"

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    post_id: int | None = Field(default=None, foreign_key="post.id", index=True)
    url: str | None = Field(default=None, max_length=2000)
    fetched_at: datetime | None = _dt(nullable=False)
    sha256: str = Field(max_length=64, index=True)
    content_type: str | None = Field(default=None, max_length=200)
    size: int = 0
    body: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))


class Message(SQLModel, table=True):
    """A citizen's message (a channel of ``messages.toml``: 12345热线, 领导信箱, 网上留言 ...) with its reply clock."""

    __tablename__ = "message"
    __table_args__ = (UniqueConstraint("source_id", "external_id", name="uq_message_source_external"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    post_id: int | None = Field(default=None, foreign_key="post.id", index=True)
    external_id: str = Field(max_length=512)
    channel: str = Field(default="网上留言", max_length=20)
    title: str | None = Field(default=None, sa_type=Text)
    text: str = Field(default="", sa_type=Text)
    author: str | None = Field(default=None, max_length=200)
    received_at: datetime | None = _dt(nullable=False, index=True)
    simple: bool = False
    unit: str | None = Field(default=None, max_length=100, index=True)
    reply_text: str | None = Field(default=None, sa_type=Text)
    replied_at: datetime | None = _dt()
    due_at: datetime | None = _dt(index=True)
    due_provisional: bool = False
    on_time: bool | None = None
    late_working_days: int | None = None
    overdue_at: datetime | None = _dt()  # when the tick noted the reply deadline passed unanswered
    likes: int = 0
    dislikes: int = 0
    board_state: str | None = Field(default=None, max_length=10)  # 待回复 / 办理中 / 已办理 on a 留言板


class AuditLog(SQLModel, table=True):
    """Append-only record of every change: who, when, what, before and after."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _dt(nullable=False, index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=100, index=True)
    entity: str = Field(max_length=50)
    entity_id: str | None = Field(default=None, max_length=100, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    note: str | None = Field(default=None, sa_type=Text)
