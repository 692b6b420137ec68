"""Dashboard users: role, unit, password hash, lock-out state, session version; sign-in throttling per address."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime

ROLES = ("值班员", "责任单位", "领导", "管理员")


class UserBase(SQLModel):
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(default="", max_length=100)
    role: str = Field(max_length=10, description="值班员 | 责任单位 | 领导 | 管理员")
    unit: str | None = Field(default=None, max_length=100, description="the unit of a 责任单位 user")
    can_see_pii: bool = False
    active: bool = True


class User(UserBase, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=300)
    failed_attempts: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime())
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"},
                                 description="bumped to end every open session of the user")


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins from one client address in the current window."""

    __tablename__ = "login_throttle"

    address: str = Field(max_length=64, primary_key=True)
    failures: int = 0
    window_start: datetime = Field(sa_type=UTCDateTime())
    blocked_until: datetime | None = Field(default=None, sa_type=UTCDateTime())
