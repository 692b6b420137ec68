"""Case tables of the response ledger (台账): cases and their posts, releases (权威信息) with their
review steps (三审 + 保密审查), press briefings, commitments, referrals, and the per-year counter
that numbers cases ``YYYY-NNNN``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime


def _dt(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class CaseCounter(SQLModel, table=True):
    """Last case sequence number given out in a year (of discovery, Asia/Shanghai)."""

    __tablename__ = "case_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


class Case(SQLModel, table=True):
    """One 舆情 case followed from discovery to archive."""

    __tablename__ = "ledger_case"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True)
    year: int
    seq: int
    title: str = Field(max_length=500)
    summary: str | None = Field(default=None, sa_type=Text)
    event_id: int | None = Field(default=None, index=True)
    grade: str = Field(max_length=10, index=True)
    category: str | None = Field(default=None, max_length=100)
    topic: str | None = Field(default=None, max_length=100)
    disposal_type: str | None = Field(default=None, max_length=30)
    jurisdiction: str | None = Field(default=None, max_length=100)
    responsible_unit: str | None = Field(default=None, max_length=100, index=True)
    lead_unit: str | None = Field(default=None, max_length=100)
    co_units: list[Any] = Field(default_factory=list, sa_type=JSON)
    suspected_illegal: bool = Field(default=False, description="涉嫌违法: leads must be referred before closing")
    discovered_at: datetime | None = _dt(nullable=False, index=True)
    occurred_at: datetime | None = _dt()
    status: str = Field(max_length=10, index=True)
    leadership_reported_at: datetime | None = _dt()
    leadership_report_note: str | None = Field(default=None, sa_type=Text)
    last_release_at: datetime | None = _dt()
    closed_at: datetime | None = _dt()
    archived_at: datetime | None = _dt()
    created_by: str = Field(default="", max_length=100)
    created_at: datetime | None = _dt(nullable=False)
    updated_at: datetime | None = _dt(nullable=False)


class CasePost(SQLModel, table=True):
    """A post linked to a case."""

    __tablename__ = "case_post"
    __table_args__ = (UniqueConstraint("case_id", "post_id", name="uq_case_post"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ledger_case.id", index=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    added_at: datetime | None = _dt(nullable=False)
    added_by: str = Field(default="", max_length=100)


class Release(SQLModel, table=True):
    """A text of 权威信息 drafted for a case; published only after every review step passed."""

    __tablename__ = "release"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ledger_case.id", index=True)
    kind: str = Field(max_length=30)
    title: str = Field(max_length=500)
    text: str = Field(default="", sa_type=Text)
    revision: int = 1
    review_steps: list[Any] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(default="待审", max_length=10, description="待审 | 审核中 | 已驳回 | 待发布 | 已发布")
    drafted_by: str = Field(default="", max_length=100)
    created_at: datetime | None = _dt(nullable=False)
    updated_at: datetime | None = _dt(nullable=False)
    published_at: datetime | None = _dt(index=True)
    channel: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    published_by: str | None = Field(default=None, max_length=100)


class ReleaseReview(SQLModel, table=True):
    """One review step of one revision of a release: who, when, pass or reject, comment."""

    __tablename__ = "release_review"

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    revision: int = 1
    step: str = Field(max_length=20)
    step_index: int = 0
    reviewer: str = Field(max_length=100)
    reviewed_at: datetime | None = _dt(nullable=False)
    decision: str = Field(max_length=10, description="通过 | 驳回")
    comment: str | None = Field(default=None, sa_type=Text)
    pii_ok_reason: str | None = Field(default=None, sa_type=Text, description="保密审查 passed despite personal numbers: why")
    recorded_by: str = Field(default="", max_length=100)
    recorded_at: datetime | None = _dt(nullable=False)


class Briefing(SQLModel, table=True):
    """A press briefing (新闻发布会) held for a case."""

    __tablename__ = "briefing"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ledger_case.id", index=True)
    held_at: datetime | None = _dt(nullable=False)
    place: str = Field(max_length=200)
    spokesperson: str = Field(max_length=100)
    note: str | None = Field(default=None, sa_type=Text)
    recorded_by: str = Field(default="", max_length=100)
    recorded_at: datetime | None = _dt(nullable=False)


class Commitment(SQLModel, table=True):
    """A commitment made in a response (承诺), its fulfilment and where the result was made public."""

    __tablename__ = "commitment"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ledger_case.id", index=True)
    text: str = Field(sa_type=Text)
    owner_unit: str = Field(max_length=100, index=True)
    due_date: date = Field(sa_type=Date)
    due_at: datetime | None = _dt(nullable=False, index=True)
    status: str = Field(max_length=10, index=True)
    evidence: str | None = Field(default=None, sa_type=Text)
    fulfilled_at: datetime | None = _dt()
    public_where: str | None = Field(default=None, max_length=2000)
    public_at: datetime | None = _dt()
    overdue_at: datetime | None = _dt()
    created_by: str = Field(default="", max_length=100)
    created_at: datetime | None = _dt(nullable=False)
    updated_at: datetime | None = _dt(nullable=False)


class Referral(SQLModel, table=True):
    """A referral of suspected illegal conduct (涉嫌违法线索) to 公安机关 / 网信 / 网络监管部门."""

    __tablename__ = "referral"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ledger_case.id", index=True)
    target: str = Field(max_length=50)
    referred_at: datetime | None = _dt(nullable=False)
    reference: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, sa_type=Text)
    recorded_by: str = Field(default="", max_length=100)
    recorded_at: datetime | None = _dt(nullable=False)
