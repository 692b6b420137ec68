"""Sign-in for the dashboard: the login form, idle expiry of the session, sign-out."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard.data import engine, now, settings
from ledger.users import Principal

KEY = "auth"


def current_user() -> Principal | None:
    """The signed-in user, or None when nobody is signed in or the session has expired."""
    state = st.session_state.get(KEY)
    if not state:
        return None
    timeout = timedelta(minutes=settings().session_timeout_minutes)
    at = now()
    if at - state["last_seen"] > timeout:
        st.session_state.pop(KEY, None)
        st.session_state["auth_notice"] = "登录已过期，请重新登录"
        _audit(state["principal"].username, "auth.expired")
        return None
    state["last_seen"] = at
    return state["principal"]


def _audit(actor: str, action: str) -> None:
    from ledger import audit
    from ledger.db import session_scope

    with session_scope(engine()) as session:
        audit.record(session, actor=actor, action=action, entity="user", entity_id=None, now=now())


def sign_in(username: str, password: str) -> str | None:
    """Try to sign in; return an error message or None on success."""
    from ledger.db import session_scope
    from ledger.users import AuthError, authenticate

    cfg = settings()
    with session_scope(engine()) as session:
        try:
            principal = authenticate(session, username=username, password=password, now=now(),
                                     max_failures=cfg.login_max_failures,
                                     lockout=timedelta(minutes=cfg.login_lockout_minutes))
        except AuthError as exc:
            # caught inside the transaction: the failure count and audit entry are committed
            return str(exc)
    st.session_state[KEY] = {"principal": principal, "last_seen": now()}
    st.session_state.pop("auth_notice", None)
    return None


def sign_out() -> None:
    state = st.session_state.pop(KEY, None)
    if state:
        _audit(state["principal"].username, "auth.logout")


def login_page() -> None:
    """The sign-in page (the only page shown to someone not signed in)."""
    st.title("舆情台账 · 登录")
    notice = st.session_state.get("auth_notice")
    if notice:
        st.warning(notice)
    with st.form("login", clear_on_submit=False):
        username = st.text_input("用户名", key="login_user")
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录", type="primary")
    if submitted:
        if not username or not password:
            st.error("请输入用户名和密码")
            return
        error = sign_in(username, password)
        if error:
            st.error(error)
            return
        st.rerun()
