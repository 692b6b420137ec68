"""The Clock table: one running duty with a time limit (a case's 3-hour release target, a
disclosure request's 20 working days...), with the rule it started under and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Text
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime


def _dt(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class Clock(SQLModel, table=True):
    """A clock of one rule for one subject (case, message, commitment, policy, disclosure).

    ``status``: running → warning → met / missed (target) / breached (limit); paused while a
    pause lasts; cancelled when the rule no longer applies (e.g. a case graded down), restarted
    when a new period replaced it (补正, 持续发布). Closed clocks are never deleted.
    """

    __tablename__ = "clock"
    __table_args__ = (
        Index("ix_clock_subject", "subject", "subject_id", "rule_id"),
        Index("ix_clock_open_due", "closed", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=20)
    subject_id: int
    rule_id: str = Field(max_length=80)
    rule_name: str = Field(default="", max_length=200)
    rule_snapshot: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    kind: str = Field(default="limit", max_length=10, description="target | limit")
    grade: str | None = Field(default=None, max_length=20, description="a case's grade when the clock started")
    anchor_at: datetime | None = _dt(nullable=False)
    due_at: datetime | None = _dt(nullable=False)
    warn_at: datetime | None = _dt()
    provisional: bool = False
    status: str = Field(default="running", max_length=12)
    closed: bool = False
    met_at: datetime | None = _dt()
    late: bool | None = None
    overdue_at: datetime | None = _dt()  # when it went missed / breached
    paused_at: datetime | None = _dt()
    paused_seconds: int = 0
    paused_working_days: int = 0
    extension: float = 0
    restarts: int = 0
    started_at: datetime | None = _dt(nullable=False)
    updated_at: datetime | None = _dt(nullable=False)
    cancelled_at: datetime | None = _dt()
    note: str | None = Field(default=None, sa_type=Text)
