"""Monitoring schemes (监测方案): saved term expressions (all / any / none) checked on every new post."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime


class MonitorScheme(SQLModel, table=True):
    """A monitoring scheme: a post hits it when it contains every ``all_terms`` term, at least one
    ``any_terms`` term (when any are given) and no ``none_terms`` term (normalised text). A new hit
    raises an alert to ``unit`` through the escalation chain, one per scheme per period."""

    __tablename__ = "monitor_scheme"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    all_terms: list[Any] = Field(default_factory=list, sa_type=JSON)
    any_terms: list[Any] = Field(default_factory=list, sa_type=JSON)
    none_terms: list[Any] = Field(default_factory=list, sa_type=JSON)
    unit: str | None = Field(default=None, max_length=100)
    grade: str | None = Field(default=None, max_length=10)
    enabled: bool = True
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=False)
    created_by: str = Field(default="system", max_length=100)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=True)
    last_hit_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=True)
    hit_total: int = Field(default=0, description="posts hit at intake since the scheme was saved")
