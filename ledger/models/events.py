"""Events: clusters of posts about one thing, with their totals, heat and clustering signature."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime


def _dt(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class Event(SQLModel, table=True):
    """An event (事件): posts about one thing. Posts point to it through ``post.event_id``.

    ``heat_base`` is the time-free part of the heat (size and engagement); the heat shown at a
    given moment decays it by the age of ``last_seen`` (see ``analysis.events.heat``).
    ``signature`` holds the strongest terms of the event's centroid so that a new process can
    resume clustering without reading every post. An event merged into another keeps its row
    with ``merged_into_id`` set and its posts moved.
    """

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(default="", sa_type=Text)
    keywords: list[Any] = Field(default_factory=list, sa_type=JSON)
    labels_posts: int | None = Field(
        default=None, description="posts when title/keywords were computed"
    )
    rep_post_id: int | None = Field(default=None, description="first (representative) post")
    first_seen: datetime | None = _dt(index=True)
    last_seen: datetime | None = _dt(index=True)
    posts: int = 0
    likes: int = 0
    dislikes: int = 0
    reposts: int = 0
    heat_base: float = Field(default=0.0, index=True)
    signature: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    merged_into_id: int | None = Field(default=None, index=True)
    created_at: datetime | None = _dt()
    updated_at: datetime | None = _dt(index=True)
