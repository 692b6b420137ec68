"""Users and sign-in: argon2 password hashes, throttling per client address, lock-out after repeated
failures, one answer for every refusal, session versions that end open sessions, audit of every attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlmodel import Session

from ledger import audit
from ledger.models.users import ROLES, LoginThrottle, User

_HASHER = PasswordHasher()
MIN_PASSWORD = 8
# The one answer to every refused sign-in (unknown user, wrong password, locked, disabled): it does
# not tell which usernames exist or which accounts are locked.
REFUSED = "用户名或密码错误（连续失败多次后账号会暂时锁定，请稍后再试或联系管理员）"
_DUMMY: list[str] = []


class AuthError(ValueError):
    """Sign-in refused; the message is safe to show (it does not say which part was wrong)."""


class ThrottledError(AuthError):
    """Too many failed sign-ins from one client address; the address waits (no password is checked)."""


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
    session_version: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role == "管理员"

    @property
    def is_unit(self) -> bool:
        return self.role == "责任单位"


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.username, user.display_name or user.username, user.role, user.unit,
                     user.can_see_pii or user.role == "管理员", user.session_version or 0)


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
    user.session_version = (user.session_version or 0) + 1  # every open session ends
    session.add(user)
    audit.record(session, actor=actor, action="user.password", entity="user", entity_id=user.id, now=now)


def _existing(session: Session, username: str) -> User:
    user = _by_name(session, username)
    if user is None:
        raise UserError(f"用户不存在: {username}")
    return user


def _change(session: Session, user: User, *, action: str, now: datetime, actor: str, before: dict,
            after: dict) -> User:
    """Apply an account change: every open session of the user ends; the change is audited."""
    user.session_version = (user.session_version or 0) + 1
    session.add(user)
    audit.record(session, actor=actor, action=action, entity="user", entity_id=user.id, now=now,
                 before=before, after=after)
    return user


def set_active(session: Session, *, username: str, active: bool, now: datetime, actor: str) -> User:
    """Disable (``active=False``) or enable an account; disabling ends its open sessions at once."""
    user = _existing(session, username)
    if not active and actor == user.username:
        raise UserError("不能停用自己的账号")
    before = {"active": user.active}
    user.active = active
    return _change(session, user, action="user.enable" if active else "user.disable", now=now, actor=actor,
                   before=before, after={"active": active})


def unlock(session: Session, *, username: str, now: datetime, actor: str) -> User:
    """Lift a lock-out and reset the failure count (the account's open sessions end too)."""
    user = _existing(session, username)
    before = {"locked_until": user.locked_until.isoformat() if user.locked_until else None,
              "failed_attempts": user.failed_attempts}
    user.locked_until = None
    user.failed_attempts = 0
    return _change(session, user, action="user.unlock", now=now, actor=actor, before=before,
                   after={"locked_until": None, "failed_attempts": 0})


def set_role(session: Session, *, username: str, role: str, now: datetime, actor: str,
             unit: str | None = None) -> User:
    """Give an account another role (and unit); its open sessions end, so the next page load asks
    for a sign-in under the new role."""
    user = _existing(session, username)
    if role not in ROLES:
        raise UserError(f"角色必须是 {' / '.join(ROLES)} 之一: {role!r}")
    unit = (unit or "").strip() or (user.unit if role == "责任单位" else None)
    if role == "责任单位" and not unit:
        raise UserError("责任单位用户必须指定单位")
    if actor == user.username and role != user.role:
        raise UserError("不能修改自己的角色")
    before = {"role": user.role, "unit": user.unit}
    user.role = role
    user.unit = unit if role == "责任单位" else None
    return _change(session, user, action="user.role", now=now, actor=actor, before=before,
                   after={"role": user.role, "unit": user.unit})


def session_current(session: Session, principal: Principal) -> bool:
    """Whether a session of ``principal`` is still valid: the account exists, is enabled, and no
    password change, disable, unlock or role change has happened since it signed in."""
    row = session.execute(
        select(User.active, User.session_version).where(User.id == principal.id)
    ).first()
    return row is not None and bool(row[0]) and (row[1] or 0) == principal.session_version


def load_principal(session: Session, *, user_id: int, version: int) -> Principal | None:
    """The principal of a session token, or None when the account changed or is disabled since."""
    user = session.get(User, user_id)
    if user is None or not user.active or (user.session_version or 0) != version:
        return None
    return principal_of(user)


def end_sessions(session: Session, *, user_id: int, now: datetime, actor: str) -> None:
    """Sign-out: end every session of the user (the session token carries the version)."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_version = (user.session_version or 0) + 1
        session.add(user)
        audit.record(session, actor=actor, action="auth.logout", entity="user", entity_id=user.id, now=now)


def _by_name(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username.strip())).scalars().first()  # type: ignore[call-overload]


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(_HASHER.hash("not-a-password-of-anyone"))
    return _DUMMY[0]


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _throttle_row(session: Session, address: str, now: datetime, window: timedelta) -> LoginThrottle:
    row = session.get(LoginThrottle, address)
    if row is None:
        row = LoginThrottle(address=address, failures=0, window_start=now)
    elif row.window_start + window <= now and (row.blocked_until is None or row.blocked_until <= now):
        row.failures, row.window_start, row.blocked_until = 0, now, None
    return row


def authenticate(session: Session, *, username: str, password: str, now: datetime,
                 max_failures: int = 10, lockout: timedelta = timedelta(minutes=15),
                 address: str = "local", address_max_failures: int = 5,
                 address_window: timedelta = timedelta(minutes=15)) -> Principal:
    """Check a sign-in.

    Order: an address with ``address_max_failures`` failures in its window is refused without any
    password check (:class:`ThrottledError`); then the password is verified — always, against a
    dummy hash for an unknown or disabled user, so every answer takes about as long; a failure
    counts for the address and for the account, which locks after ``max_failures`` in a row
    (set above the per-address limit, so no single address can lock an account by guessing).
    Unknown user, wrong password, disabled and locked all raise :class:`AuthError` with the same
    message. Every attempt is audited. Does not commit: the caller commits even on failure.
    """
    address = (address or "local")[:64]
    throttle = _throttle_row(session, address, now, address_window)
    if throttle.blocked_until is not None and throttle.blocked_until > now:
        audit.record(session, actor=username[:100] or "?", action="auth.throttled", entity="user", entity_id=None,
                     now=now, note=f"address {address}")
        minutes = max(1, int((throttle.blocked_until - now).total_seconds() // 60) + 1)
        raise ThrottledError(f"此地址登录失败次数过多，请 {minutes} 分钟后再试")
    found = _by_name(session, username)
    user = found if found is not None and found.active else None
    ok = _verify(user.password_hash if user is not None else _dummy_hash(), password)
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    if user is not None and ok and not locked:
        user.failed_attempts = 0
        user.locked_until = None
        user.last_login_at = now
        if _HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = _HASHER.hash(password)
        session.add(user)
        audit.record(session, actor=user.username, action="auth.login", entity="user", entity_id=user.id,
                     now=now, note=f"address {address}")
        return principal_of(user)
    throttle.failures += 1
    if throttle.failures >= address_max_failures:
        throttle.blocked_until = now + address_window
    session.add(throttle)
    if user is None:
        audit.record(session, actor=username[:100] or "?", action="auth.fail", entity="user", entity_id=None,
                     now=now, note=f"unknown or inactive user; address {address}")
    elif locked:
        audit.record(session, actor=user.username, action="auth.locked", entity="user", entity_id=user.id,
                     now=now, note=f"address {address}")
    else:
        user.failed_attempts += 1
        note = f"failure {user.failed_attempts}; address {address}"
        if user.failed_attempts >= max_failures:
            user.locked_until = now + lockout
            user.failed_attempts = 0
            note += ", locked"
        session.add(user)
        audit.record(session, actor=user.username, action="auth.fail", entity="user", entity_id=user.id,
                     now=now, note=note)
    raise AuthError(REFUSED)


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.id)).scalars())  # type: ignore[call-overload]


__all__ = [
    "REFUSED",
    "ROLES",
    "AuthError",
    "Principal",
    "ThrottledError",
    "UserError",
    "add_user",
    "authenticate",
    "end_sessions",
    "list_users",
    "load_principal",
    "principal_of",
    "session_current",
    "set_active",
    "set_password",
    "set_role",
    "unlock",
]
