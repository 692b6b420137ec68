"""Policy register tables (政策解读): published policy documents and the interpretation
materials released for them (文字解读, 图解, 视频, 发布会 ...). The interpretation clock of each
document is a ``clock`` row with subject ``policy``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime


def _dt(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class PolicyDoc(SQLModel, table=True):
    """A policy document (规章, 规范性文件 ...) published by a unit, whose interpretation is due."""

    __tablename__ = "policy_doc"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=500)
    unit: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=30)
    doc_number: str | None = Field(default=None, max_length=100)
    url: str | None = Field(default=None, max_length=2000)
    published_at: datetime | None = _dt(nullable=False, index=True)
    status: str = Field(default="待解读", max_length=10, description="待解读 | 已解读 | 退文")
    returned_at: datetime | None = _dt()
    return_reason: str | None = Field(default=None, sa_type=Text)
    created_by: str = Field(default="", max_length=100)
    created_at: datetime | None = _dt(nullable=False)
    updated_at: datetime | None = _dt(nullable=False)


class PolicyInterpretation(SQLModel, table=True):
    """One interpretation material released for a policy document."""

    __tablename__ = "policy_interpretation"

    id: int | None = Field(default=None, primary_key=True)
    policy_id: int = Field(foreign_key="policy_doc.id", index=True)
    title: str = Field(max_length=500)
    url: str | None = Field(default=None, max_length=2000)
    form: str = Field(max_length=30)
    published_at: datetime | None = _dt(nullable=False)
    recorded_by: str = Field(default="", max_length=100)
    recorded_at: datetime | None = _dt(nullable=False)
