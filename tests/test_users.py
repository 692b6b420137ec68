"""Dashboard users on a real SQLite file: argon2id hashes, the checks on a new user, sign-in with
lock-out after repeated failures, re-hashing of outdated hashes, and the audit of every attempt
(never with the password)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session, select

from ledger.db import session_scope
from ledger.models.core import AuditLog
from ledger.models.users import User
from ledger.users import (
    REFUSED,
    AuthError,
    ThrottledError,
    UserError,
    add_user,
    authenticate,
    list_users,
    principal_of,
    set_password,
)

PW = "Zh1ban-Mima"


def _add(engine, now, **kw):
    args = {"username": "zhiban", "password": PW, "role": "值班员", "now": now, "actor": "admin"} | kw
    with session_scope(engine) as s:
        return add_user(s, **args).id


def _user(engine, name="zhiban") -> User:
    with Session(engine) as s:
        return s.exec(select(User).where(User.username == name)).one()


def _sign_in(engine, now, password=PW, name="zhiban", **kw):
    """One attempt in its own transaction, committed even when refused (as the dashboard does)."""
    with Session(engine) as s:
        try:
            return authenticate(s, username=name, password=password, now=now, **kw)
        finally:
            s.commit()


def _trail(engine) -> list[tuple[str, str | None]]:
    with Session(engine) as s:
        return [(a.action, a.note) for a in s.exec(select(AuditLog).order_by(AuditLog.id))]


def test_a_new_user_has_an_argon2id_hash_and_the_audit_has_no_password(sqlite_engine, fixed_now):
    uid = _add(sqlite_engine, fixed_now, username="  zhiban  ", display_name="")
    user = _user(sqlite_engine)
    assert user.id == uid and user.username == "zhiban" and user.display_name == "zhiban"
    assert user.password_hash.startswith("$argon2id$") and PasswordHasher().verify(user.password_hash, PW)
    assert not user.can_see_pii and user.active and user.failed_attempts == 0 and user.created_at == fixed_now
    with Session(sqlite_engine) as s:
        entry = s.exec(select(AuditLog)).one()
    assert (entry.action, entry.entity, entry.entity_id, entry.actor) == ("user.add", "user", str(uid), "admin")
    assert PW not in str(entry.after) and entry.after["username"] == "zhiban" and entry.after["role"] == "值班员"


@pytest.mark.parametrize(("kw", "message"), [
    ({"username": "  "}, "用户名不能为空"),
    ({"role": "游客"}, "角色必须是"),
    ({"role": "责任单位"}, "必须指定 --unit"),
    ({"password": "1234567"}, "密码至少 8 位"),
])
def test_a_user_that_cannot_be_added_is_refused_and_nothing_is_stored(sqlite_engine, fixed_now, kw, message):
    with pytest.raises(UserError, match=message):
        _add(sqlite_engine, fixed_now, **kw)
    with Session(sqlite_engine) as s:
        assert list_users(s) == []


def test_edge_cases_that_are_accepted_and_a_duplicate_name(sqlite_engine, fixed_now):
    _add(sqlite_engine, fixed_now, password="12345678")  # exactly the minimum length
    _add(sqlite_engine, fixed_now, username="weijian", role="责任单位", unit="卫健委", display_name="卫健委联络员")
    _add(sqlite_engine, fixed_now, username="admin", role="管理员")
    with pytest.raises(UserError, match="用户名已存在: zhiban"):
        _add(sqlite_engine, fixed_now, username=" zhiban")
    with Session(sqlite_engine) as s:
        users = list_users(s)
        assert [u.username for u in users] == ["zhiban", "weijian", "admin"]
        unit, admin = principal_of(users[1]), principal_of(users[2])
    assert (unit.is_unit, unit.is_admin, unit.unit, unit.display_name, unit.can_see_pii) == (
        True, False, "卫健委", "卫健委联络员", False)
    assert (admin.is_admin, admin.is_unit, admin.can_see_pii) == (True, False, True)  # an admin sees all
    with pytest.raises(dataclasses.FrozenInstanceError):  # the signed-in user kept by the dashboard is fixed
        unit.role = "管理员"


def test_sign_in_locks_after_five_failures_and_unlocks_after_the_lockout(sqlite_engine, fixed_now):
    """Now (docs/SECURITY.md): the account locks after YUQING_LOGIN_MAX_FAILURES (10) failures in a row,
    and wrong password / locked account get the one answer REFUSED. Each attempt comes from its own
    address so the per-address throttle (5) does not step in."""
    _add(sqlite_engine, fixed_now)
    now = fixed_now
    for i in range(1, 10):
        with pytest.raises(AuthError) as refused:
            _sign_in(sqlite_engine, now, "wrong-password", address=f"10.0.0.{i}")
        assert str(refused.value) == REFUSED and not isinstance(refused.value, ThrottledError)
        assert _user(sqlite_engine).failed_attempts == i and _user(sqlite_engine).locked_until is None
    with pytest.raises(AuthError) as refused:
        _sign_in(sqlite_engine, now, "wrong-password", address="10.0.0.10")
    assert str(refused.value) == REFUSED
    user = _user(sqlite_engine)
    assert user.locked_until == now + timedelta(minutes=15) and user.failed_attempts == 0
    # while locked even the right password is refused, with the same answer
    for later in (timedelta(minutes=5), timedelta(minutes=14, seconds=59, microseconds=500)):
        with pytest.raises(AuthError) as refused:
            _sign_in(sqlite_engine, now + later, address="10.0.1.1")
        assert str(refused.value) == REFUSED
        assert _user(sqlite_engine).last_login_at is None
    # the lock ends at locked_until: a wrong password then is one failure again, not a lock
    with pytest.raises(AuthError) as refused:
        _sign_in(sqlite_engine, now + timedelta(minutes=15), "wrong-password", address="10.0.1.2")
    assert str(refused.value) == REFUSED
    done = _sign_in(sqlite_engine, now + timedelta(minutes=15), address="10.0.1.3")
    assert done.username == "zhiban"
    user = _user(sqlite_engine)
    assert user.locked_until is None and user.failed_attempts == 0 and user.last_login_at == now + timedelta(minutes=15)
    actions = [a for a, _ in _trail(sqlite_engine)]
    assert actions == ["user.add"] + ["auth.fail"] * 10 + ["auth.locked"] * 2 + ["auth.fail", "auth.login"]
    notes = [n for a, n in _trail(sqlite_engine) if a == "auth.fail"]
    assert notes == [f"failure {i}; address 10.0.0.{i}" for i in range(1, 10)] + [
        "failure 10; address 10.0.0.10, locked", "failure 1; address 10.0.1.2"]
    assert all(PW not in str(row) and "wrong-password" not in str(row) for row in _trail(sqlite_engine))


def test_a_success_resets_the_failure_count_and_limits_are_parameters(sqlite_engine, fixed_now):
    _add(sqlite_engine, fixed_now)
    for i in range(4):
        with pytest.raises(AuthError):
            _sign_in(sqlite_engine, fixed_now, "wrong-password", address=f"10.0.0.{i}")
    _sign_in(sqlite_engine, fixed_now, address="10.0.0.9")
    assert _user(sqlite_engine).failed_attempts == 0
    with pytest.raises(AuthError) as refused:
        _sign_in(sqlite_engine, fixed_now, "wrong-password", max_failures=2)
    assert str(refused.value) == REFUSED and _user(sqlite_engine).locked_until is None
    with pytest.raises(AuthError) as refused:
        _sign_in(sqlite_engine, fixed_now, "wrong-password", max_failures=2, lockout=timedelta(hours=1))
    assert str(refused.value) == REFUSED
    assert _user(sqlite_engine).locked_until == fixed_now + timedelta(hours=1)
    # the per-address limit is a parameter too: the address then waits, without a password check
    with pytest.raises(AuthError) as refused:
        _sign_in(sqlite_engine, fixed_now, "wrong-password", address="10.0.2.1", address_max_failures=1)
    assert not isinstance(refused.value, ThrottledError)
    with pytest.raises(ThrottledError):
        _sign_in(sqlite_engine, fixed_now, address="10.0.2.1", address_max_failures=1)


def test_unknown_and_inactive_users_get_the_same_answer(sqlite_engine, fixed_now):
    _add(sqlite_engine, fixed_now)
    with pytest.raises(AuthError) as refused:
        _sign_in(sqlite_engine, fixed_now, name="nobody")
    assert str(refused.value) == REFUSED
    with session_scope(sqlite_engine) as s:
        s.exec(select(User)).one().active = False
    with pytest.raises(AuthError) as refused:
        _sign_in(sqlite_engine, fixed_now)
    assert str(refused.value) == REFUSED
    assert _trail(sqlite_engine)[1:] == [("auth.fail", "unknown or inactive user; address local")] * 2
    for name in ("", "x" * 150):
        with pytest.raises(AuthError) as refused:
            _sign_in(sqlite_engine, fixed_now, name=name, address="10.0.0.1")
        assert str(refused.value) == REFUSED
    with Session(sqlite_engine) as s:  # who tried, as typed (at most 100 characters), or "?"
        actors = [a.actor for a in s.exec(select(AuditLog).where(AuditLog.action == "auth.fail").order_by(AuditLog.id))]
    assert actors == ["nobody", "zhiban", "?", "x" * 100]
    assert _user(sqlite_engine).failed_attempts == 0 and _user(sqlite_engine).last_login_at is None


def test_set_password_replaces_the_hash_and_unlocks(sqlite_engine, fixed_now):
    _add(sqlite_engine, fixed_now)
    for i in range(10):  # YUQING_LOGIN_MAX_FAILURES (10), each from its own address
        with pytest.raises(AuthError):
            _sign_in(sqlite_engine, fixed_now, "wrong-password", address=f"10.0.0.{i}")
    assert _user(sqlite_engine).locked_until is not None
    old = _user(sqlite_engine).password_hash
    with pytest.raises(UserError, match="用户不存在: nobody"), session_scope(sqlite_engine) as s:
        set_password(s, username="nobody", password="Another-pw1", now=fixed_now, actor="admin")
    with pytest.raises(UserError, match="密码至少 8 位"), session_scope(sqlite_engine) as s:
        set_password(s, username="zhiban", password="short", now=fixed_now, actor="admin")
    assert _user(sqlite_engine).password_hash == old
    with session_scope(sqlite_engine) as s:  # exactly the minimum length is enough
        set_password(s, username="zhiban", password="87654321", now=fixed_now, actor="admin")
    assert PasswordHasher().verify(_user(sqlite_engine).password_hash, "87654321")
    with session_scope(sqlite_engine) as s:
        set_password(s, username="zhiban ", password="Another-pw1", now=fixed_now, actor="admin")
    user = _user(sqlite_engine)
    assert user.locked_until is None and user.failed_attempts == 0
    assert user.password_hash.startswith("$argon2id$") and PasswordHasher().verify(user.password_hash, "Another-pw1")
    assert _trail(sqlite_engine)[-1] == ("user.password", None)
    with pytest.raises(AuthError):
        _sign_in(sqlite_engine, fixed_now, PW, address="10.0.1.1")
    assert _sign_in(sqlite_engine, fixed_now, "Another-pw1", address="10.0.1.2").username == "zhiban"


def test_an_outdated_hash_is_upgraded_at_sign_in(sqlite_engine, fixed_now):
    _add(sqlite_engine, fixed_now)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PW)
    with session_scope(sqlite_engine) as s:
        s.exec(select(User)).one().password_hash = weak
    _sign_in(sqlite_engine, fixed_now)
    upgraded = _user(sqlite_engine).password_hash
    assert upgraded != weak and not PasswordHasher().check_needs_rehash(upgraded)
    assert PasswordHasher().verify(upgraded, PW)
    _sign_in(sqlite_engine, fixed_now)
    assert _user(sqlite_engine).password_hash == upgraded  # a current hash is kept


def test_a_hash_that_is_not_argon2_is_a_failed_sign_in(sqlite_engine, fixed_now):
    _add(sqlite_engine, fixed_now)
    with session_scope(sqlite_engine) as s:
        s.exec(select(User)).one().password_hash = PW  # e.g. a plaintext row written by hand
    with pytest.raises(AuthError) as refused:
        _sign_in(sqlite_engine, fixed_now)
    assert str(refused.value) == REFUSED
    assert _user(sqlite_engine).failed_attempts == 1
