"""Sessions and sign-in (issue 22 points 5 and 6): account changes end open sessions, one answer for
every refusal, throttling per address before any account lock; the CLI and the admin page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from ledger.db import session_scope
from ledger.models.users import User
from ledger.users import (
    REFUSED,
    AuthError,
    ThrottledError,
    add_user,
    authenticate,
    load_principal,
    principal_of,
    session_current,
    set_active,
    set_password,
    set_role,
    unlock,
)
from tests.cli import run_cli

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
PW = "correct-horse-1"
APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def _add(engine, username="ops", role="值班员"):
    with session_scope(engine) as s:
        add_user(s, username=username, password=PW, role=role, now=T0, actor="t", display_name=username)


def _try(engine, username, password, *, at=T0, address="10.0.0.9", **kw):
    """One sign-in attempt in its own transaction (committed even when refused); the principal or the error."""
    with session_scope(engine) as s:
        try:
            return authenticate(s, username=username, password=password, now=at, address=address, **kw)
        except AuthError as exc:
            return exc


def test_every_account_change_ends_open_sessions(any_engine):
    _add(any_engine)
    _add(any_engine, "boss", "管理员")
    changes = [
        lambda s: set_password(s, username="ops", password="another-pass-2", now=T0, actor="boss"),
        lambda s: set_active(s, username="ops", active=False, now=T0, actor="boss"),
        lambda s: set_active(s, username="ops", active=True, now=T0, actor="boss"),
        lambda s: unlock(s, username="ops", now=T0, actor="boss"),
        lambda s: set_role(s, username="ops", role="领导", now=T0, actor="boss"),
    ]
    for change in changes:
        with session_scope(any_engine) as s:
            user = s.exec(select(User).where(User.username == "ops")).scalars().one()
            principal = principal_of(user)
            assert session_current(s, principal) is user.active
        with session_scope(any_engine) as s:
            change(s)
        with session_scope(any_engine) as s:
            assert not session_current(s, principal)
            assert load_principal(s, user_id=principal.id, version=principal.session_version) is None
    with session_scope(any_engine) as s:
        user = s.exec(select(User).where(User.username == "ops")).scalars().one()
        assert user.role == "领导" and user.active


def test_unknown_wrong_locked_and_disabled_get_one_answer(any_engine):
    _add(any_engine)
    _add(any_engine, "gone")
    with session_scope(any_engine) as s:
        set_active(s, username="gone", active=False, now=T0, actor="t")
    answers = [_try(any_engine, "nobody", "x-password", address="a1"),
               _try(any_engine, "ops", "x-password", address="a2"),
               _try(any_engine, "gone", PW, address="a3")]
    for i in range(3):  # lock ops (3 failures in a row) from different addresses
        _try(any_engine, "ops", "x-password", address=f"b{i}", max_failures=3)
    answers.append(_try(any_engine, "ops", PW, address="a4", max_failures=3))  # right password, locked
    assert [type(a) for a in answers] == [AuthError] * 4
    assert {str(a) for a in answers} == {REFUSED}


def test_one_address_guessing_cannot_lock_an_account(any_engine):
    _add(any_engine, "admin", "管理员")
    answers = [_try(any_engine, "admin", f"guess-{i}", at=T0 + timedelta(seconds=i)) for i in range(30)]
    assert [type(a) for a in answers[:5]] == [AuthError] * 5
    assert all(type(a) is ThrottledError for a in answers[5:])  # refused before any password check
    assert "此地址登录失败次数过多" in str(answers[-1])
    with session_scope(any_engine) as s:
        admin = s.exec(select(User).where(User.username == "admin")).scalars().one()
        assert admin.locked_until is None and admin.failed_attempts == 5
    # the administrator signs in from another address at once; the guessing address still waits
    assert _try(any_engine, "admin", PW, at=T0 + timedelta(minutes=1), address="10.0.0.1").username == "admin"
    assert type(_try(any_engine, "admin", PW, at=T0 + timedelta(minutes=2))) is ThrottledError
    # after the window the address may try again
    assert _try(any_engine, "admin", PW, at=T0 + timedelta(minutes=31)).username == "admin"


def test_cli_disables_enables_unlocks_and_changes_roles(sqlite_engine, sqlite_url):
    _add(sqlite_engine)
    r = run_cli("user", "disable", "ops", db_url=sqlite_url)
    assert r.code == 0 and "已停用" in r.out
    assert type(_try(sqlite_engine, "ops", PW, address="c1")) is AuthError
    assert run_cli("user", "enable", "ops", db_url=sqlite_url).code == 0
    for i in range(3):
        _try(sqlite_engine, "ops", "wrong-pass", address=f"d{i}", max_failures=3)
    assert type(_try(sqlite_engine, "ops", PW, address="c2", max_failures=3)) is AuthError  # locked
    assert run_cli("user", "unlock", "ops", db_url=sqlite_url).code == 0
    assert _try(sqlite_engine, "ops", PW, address="c3").username == "ops"
    r = run_cli("user", "role", "ops", "责任单位", db_url=sqlite_url)
    assert r.code == 2 and "必须指定单位" in r.err
    r = run_cli("user", "role", "ops", "责任单位", "--unit", "示例县应急管理局", db_url=sqlite_url)
    assert r.code == 0
    rows = json.loads(run_cli("user", "list", "--json", db_url=sqlite_url).out)
    assert [(u["username"], u["role"], u["unit"], u["active"]) for u in rows] == [
        ("ops", "责任单位", "示例县应急管理局", True)]
    r = run_cli("user", "disable", "nobody", db_url=sqlite_url)
    assert r.code == 2 and "用户不存在" in r.err


@pytest.fixture
def app_db(sqlite_engine, sqlite_url, monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    _add(sqlite_engine)
    _add(sqlite_engine, "boss", "管理员")
    return sqlite_engine


def test_auto_refresh_does_not_keep_an_idle_session_alive(app_db):
    def script():
        import streamlit as st

        from dashboard.auth import current_user

        state = st.session_state["auth"]
        st.session_state["seen_before"] = state["last_seen"]
        user = current_user(touch=False)  # what the on-duty page's auto-refresh asks
        st.text("signed in" if user else "signed out")
        if user is not None:
            st.session_state["seen_after"] = st.session_state["auth"]["last_seen"]

    fresh = datetime.now(UTC) - timedelta(minutes=10)
    at = AppTest.from_function(script, default_timeout=60)
    with session_scope(app_db) as s:
        from ledger.users import principal_of

        principal = principal_of(s.exec(select(User).where(User.username == "ops")).scalars().one())
    at.session_state["auth"] = {"principal": principal, "last_seen": fresh, "issued": None}
    at.run()
    assert at.text[0].value == "signed in"
    assert at.session_state["seen_after"] == fresh  # an auto-refresh is not activity
    at.session_state["auth"] = {"principal": principal, "last_seen": datetime.now(UTC) - timedelta(minutes=31),
                                "issued": None}
    at.run()
    assert at.text[0].value == "signed out" and "auth" not in at.session_state


def test_admin_page_disables_and_changes_a_role(app_db):
    from ledger.users import principal_of

    def script(p):
        from dashboard.pages.admin import render

        render(p)

    with session_scope(app_db) as s:
        boss = principal_of(s.exec(select(User).where(User.username == "boss")).scalars().one())
    at = AppTest.from_function(script, args=(boss,), default_timeout=90)
    at.session_state["auth"] = {"principal": boss, "last_seen": datetime.now(UTC), "issued": None}
    at.run()
    at.selectbox(key="ua_user").select("ops")
    at.selectbox(key="ua_action").select("停用")
    at.run()
    at.button(key="ua_go").click().run()
    assert not at.exception
    assert any("已停用" in s.value for s in at.success)
    users = next(d.value for d in at.dataframe if "用户名" in d.value.columns)
    assert not users.set_index("用户名").loc["ops", "启用"]  # the table shows the new state at once
    with session_scope(app_db) as s:
        ops = s.exec(select(User).where(User.username == "ops")).scalars().one()
        assert ops.active is False and ops.session_version == 1
    at.selectbox(key="ua_action").select("修改角色")
    at.run()
    at.selectbox(key="ua_role").select("领导")
    at.button(key="ua_go").click().run()
    with session_scope(app_db) as s:
        assert s.exec(select(User.role).where(User.username == "ops")).scalars().one() == "领导"
