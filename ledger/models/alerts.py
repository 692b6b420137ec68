"""Alert tables: alerts with their escalation state, the notification outbox with its delivery
attempts, the people who receive notifications, and the duty roster (值班表)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Text
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime


def _dt(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class Alert(SQLModel, table=True):
    """One escalation chain for one grouping key (a case, a source, a post's event...).

    ``state``: open → acknowledged (someone is on it: escalation stops) → resolved (the cause is
    gone: the case closed, the source is back...). ``step`` is the index of the chain step last
    notified; ``next_step_at`` when the next step (or repeat) is due, None when the chain is done.
    """

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_key_state", "group_key", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    group_key: str = Field(max_length=120)
    trigger: str = Field(max_length=40, description="latest trigger kind, e.g. clock_breached")
    triggers: list[Any] = Field(default_factory=list, sa_type=JSON, description="trigger keys seen")
    rank: int = Field(default=0, description="highest trigger severity seen")
    grade: str | None = Field(default=None, max_length=10)
    subject: str | None = Field(default=None, max_length=20)
    subject_id: int | None = None
    unit: str | None = Field(default=None, max_length=100)
    title: str = Field(default="", max_length=500)
    summary: str = Field(default="", sa_type=Text)
    chain: str = Field(default="default", max_length=80)
    state: str = Field(default="open", max_length=14, index=True)
    step: int = 0
    next_step_at: datetime | None = _dt(index=True)
    repeats: int = 0
    seq: int = Field(default=0, description="notifications written so far (idempotency keys)")
    opened_at: datetime | None = _dt(nullable=False)
    updated_at: datetime | None = _dt(nullable=False)
    acknowledged_at: datetime | None = _dt()
    acknowledged_by: str | None = Field(default=None, max_length=100)
    resolved_at: datetime | None = _dt()
    resolution: str | None = Field(default=None, max_length=200)


class Notification(SQLModel, table=True):
    """The outbox: one message for one destination, written in the transaction that caused it.

    ``status``: pending → sending (claimed, ``lease_until`` set) → sent | pending again (retry at
    ``next_attempt_at``) | failed (attempts exhausted). ``idempotency_key`` is unique: writing the
    same notification twice is refused by the database.
    """

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)
    kind: str = Field(default="alert", max_length=30)
    recipient: str = Field(default="", max_length=200, description="person, role or 'alert_urls'")
    destination: str = Field(sa_type=Text, description="apprise URL")
    subject: str = Field(default="", max_length=500)
    body: str = Field(default="", sa_type=Text)
    attachments: list[Any] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(default="pending", max_length=10)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    next_attempt_at: datetime | None = _dt()
    lease_until: datetime | None = _dt()
    created_at: datetime | None = _dt(nullable=False)
    updated_at: datetime | None = _dt(nullable=False)
    sent_at: datetime | None = _dt()


class DeliveryAttempt(SQLModel, table=True):
    """One try at delivering a notification: when, by which worker, the outcome and the error."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    number: int = 1
    worker: str = Field(default="", max_length=100)
    started_at: datetime | None = _dt(nullable=False)
    finished_at: datetime | None = _dt()
    ok: bool | None = None
    error: str | None = Field(default=None, sa_type=Text)


class Person(SQLModel, table=True):
    """Someone who can be notified: name, role (值班人员, 带班领导, 分管领导...), unit, apprise URLs."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    role: str | None = Field(default=None, max_length=50, index=True)
    unit: str | None = Field(default=None, max_length=100, index=True)
    phone: str | None = Field(default=None, max_length=50)
    urls: list[Any] = Field(default_factory=list, sa_type=JSON, description="apprise URLs")
    active: bool = True
    created_at: datetime | None = _dt(nullable=False)
    updated_at: datetime | None = _dt(nullable=False)


class DutyShift(SQLModel, table=True):
    """A shift of the duty roster: [start_at, end_at), the people on duty and the duty leader (带班领导)."""

    __tablename__ = "duty_shift"
    __table_args__ = (Index("ix_duty_shift_span", "start_at", "end_at"),)

    id: int | None = Field(default=None, primary_key=True)
    start_at: datetime | None = _dt(nullable=False)
    end_at: datetime | None = _dt(nullable=False)
    on_duty: list[Any] = Field(default_factory=list, sa_type=JSON, description="names of people on duty")
    leader: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, sa_type=Text)
    created_at: datetime | None = _dt(nullable=False)
