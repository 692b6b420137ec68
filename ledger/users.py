"""Users and sign-in: argon2 password hashes, lock-out after repeated failures, audit of every attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlmodel import Session

from ledger import audit
from ledger.models.users import ROLES, User

_HASHER = PasswordHasher()
MIN_PASSWORD = 8


class AuthError(ValueError):
    """Sign-in refused; the message is safe to show (it does not say which part was wrong)."""


class UserError(ValueError):
    """A user request that cannot be carried out."""


@dataclass(frozen=True)
class Principal:
    """The signed-in user as the dashboard keeps it (no password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    unit: str | None
    can_see_pii: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "管理员"

    @property
    def is_unit(self) -> bool:
        return self.role == "责任单位"


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.username, user.display_name or user.username, user.role, user.unit,
                     user.can_see_pii or user.role == "管理员")


def add_user(session: Session, *, username: str, password: str, role: str, now: datetime, actor: str,
             display_name: str = "", unit: str | None = None, can_see_pii: bool = False) -> User:
    """Create a user (does not commit)."""
    username = username.strip()
    if not username:
        raise UserError("用户名不能为空")
    if role not in ROLES:
        raise UserError(f"角色必须是 {' / '.join(ROLES)} 之一: {role!r}")
    if role == "责任单位" and not unit:
        raise UserError("责任单位用户必须指定 --unit")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 位")
    if session.exec(select(User).where(User.username == username)).first() is not None:  # type: ignore[call-overload]
        raise UserError(f"用户名已存在: {username}")
    user = User(username=username, display_name=display_name or username, role=role, unit=unit,
                can_see_pii=can_see_pii, password_hash=_HASHER.hash(password), created_at=now)
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.add", entity="user", entity_id=user.id, now=now,
                 after={"username": username, "role": role, "unit": unit, "can_see_pii": can_see_pii})
    return user


def set_password(session: Session, *, username: str, password: str, now: datetime, actor: str) -> None:
    user = _by_name(session, username)
    if user is None:
        raise UserError(f"用户不存在: {username}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 位")
    user.password_hash = _HASHER.hash(password)
    user.failed_attempts = 0
    user.locked_until = None
    session.add(user)
    audit.record(session, actor=actor, action="user.password", entity="user", entity_id=user.id, now=now)


def _by_name(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username.strip())).scalars().first()  # type: ignore[call-overload]


def authenticate(session: Session, *, username: str, password: str, now: datetime,
                 max_failures: int = 5, lockout: timedelta = timedelta(minutes=15)) -> Principal:
    """Check a sign-in; count failures and lock the account after ``max_failures`` in a row.

    Records every attempt in the audit log. Does not commit: the caller commits even on failure
    (so that the failure count is kept) — use :func:`sign_in` for that.
    """
    user = _by_name(session, username)
    if user is None or not user.active:
        audit.record(session, actor=username[:100] or "?", action="auth.fail", entity="user", entity_id=None,
                     now=now, note="unknown or inactive user")
        raise AuthError("用户名或密码错误")
    if user.locked_until is not None and user.locked_until > now:
        audit.record(session, actor=user.username, action="auth.locked", entity="user", entity_id=user.id, now=now)
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise AuthError(f"账号已被锁定，请 {minutes} 分钟后再试")
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_attempts += 1
        note = f"failure {user.failed_attempts}"
        if user.failed_attempts >= max_failures:
            user.locked_until = now + lockout
            user.failed_attempts = 0
            note += ", locked"
        session.add(user)
        audit.record(session, actor=user.username, action="auth.fail", entity="user", entity_id=user.id,
                     now=now, note=note)
        if user.locked_until is not None and user.locked_until > now:
            raise AuthError(f"密码错误次数过多，账号已锁定 {int(lockout.total_seconds() // 60)} 分钟") from None
        raise AuthError("用户名或密码错误") from None
    user.failed_attempts = 0
    user.locked_until = None
    user.last_login_at = now
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    session.add(user)
    audit.record(session, actor=user.username, action="auth.login", entity="user", entity_id=user.id, now=now)
    return principal_of(user)


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.id)).scalars())  # type: ignore[call-overload]


__all__ = ["AuthError", "Principal", "ROLES", "UserError", "add_user", "authenticate", "list_users",
           "principal_of", "set_password"]
