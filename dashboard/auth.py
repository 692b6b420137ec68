"""Sign-in for the dashboard: the login form, the signed session token that survives a reload, idle
expiry of the session, sessions ended by account changes, sign-out.

A session is a token signed with ``YUQING_SECRET_KEY`` (itsdangerous) naming the user and the
user's ``session_version``; it lives in a cookie (``dashboard.session_cookie``), so F5 keeps the
user signed in. The token is re-issued on activity and expires after the idle timeout; a password
change, disable, unlock, role change or sign-out bumps the version in the database, which ends
every open session of that user at its next page run (auto-refreshes included).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import streamlit as st

from dashboard.data import engine, now, settings
from dashboard.session_cookie import clear_cookie, write_cookie
from ledger.users import Principal

KEY = "auth"
COOKIE = "yuqing_session"
SALT = "yuqing.dashboard.session"
REISSUE_SECONDS = 60  # a token older than this is re-issued on activity (idle expiry moves on)


@st.cache_resource
def _process_secret() -> str:
    """A key for this dashboard process when no YUQING_SECRET_KEY is configured (sessions then last
    as long as the process)."""
    return secrets.token_urlsafe(32)


def _serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(settings().secret_key or _process_secret(), salt=SALT)


def _timeout() -> timedelta:
    return timedelta(minutes=settings().session_timeout_minutes)


def issue_token(principal: Principal) -> str:
    """A signed session token for ``principal`` (valid for the idle timeout from now)."""
    return _serializer().dumps({"u": principal.id, "v": principal.session_version})


def _set_cookie(principal: Principal) -> None:
    state = st.session_state.get(KEY)
    token = issue_token(principal)
    write_cookie(COOKIE, token, max_age_seconds=int(_timeout().total_seconds()))
    if state is not None:
        state["issued"] = now()


def _from_token(token: str | None) -> Principal | None:
    """The principal of a session token, or None when it is forged, expired or out of date."""
    from itsdangerous import BadSignature

    from ledger.db import session_scope
    from ledger.users import load_principal

    if not token:
        return None
    try:
        data = _serializer().loads(token, max_age=int(_timeout().total_seconds()))
        user_id, version = int(data["u"]), int(data["v"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    with session_scope(engine()) as session:
        return load_principal(session, user_id=user_id, version=version)


def _end(notice: str, action: str | None, username: str) -> None:
    st.session_state.pop(KEY, None)
    st.session_state["auth_notice"] = notice
    clear_cookie(COOKIE)
    if action:
        _audit(username, action)


def current_user(*, touch: bool = True) -> Principal | None:
    """The signed-in user, or None when nobody is signed in or the session has ended.

    A new browser session (a reload) is resumed from the session cookie. ``touch=False`` checks
    without counting as activity — for auto-refreshing parts of a page, so that a page left open
    still signs out after the idle timeout.
    """
    from ledger.db import session_scope
    from ledger.users import session_current

    state = st.session_state.get(KEY)
    if not state:
        principal = _from_token(st.context.cookies.get(COOKIE))
        if principal is None:
            return None
        state = {"principal": principal, "last_seen": now(), "issued": None}
        st.session_state[KEY] = state
    principal = state["principal"]
    at = now()
    if at - state["last_seen"] > _timeout():
        _end("登录已过期，请重新登录", "auth.expired", principal.username)
        return None
    with session_scope(engine()) as session:
        valid = session_current(session, principal)
    if not valid:
        _end("登录状态已失效（密码、角色或账号状态已变更，或已在别处退出），请重新登录", None, principal.username)
        return None
    if touch:
        state["last_seen"] = at
        issued = state.get("issued")
        if issued is None or (at - issued).total_seconds() >= REISSUE_SECONDS:
            _set_cookie(principal)
    return principal


def still_signed_in() -> bool:
    """For auto-refreshing fragments: False (and the whole page re-runs to the sign-in form) once
    the session has expired or was ended; does not count as activity."""
    if current_user(touch=False) is None:
        st.rerun(scope="app")
        return False
    return True


def _audit(actor: str, action: str) -> None:
    from ledger import audit
    from ledger.db import session_scope

    with session_scope(engine()) as session:
        audit.record(session, actor=actor, action=action, entity="user", entity_id=None, now=now())


def client_address() -> str:
    """The client's address for throttling: the trusted proxy's header when configured, else the
    connection's address ("local" for 127.0.0.1)."""
    header = settings().login_forwarded_header
    if header:
        value = st.context.headers.get(header)
        if isinstance(value, str) and value.strip():
            return value.split(",")[0].strip()[:64]
    ip = st.context.ip_address
    return ip[:64] if isinstance(ip, str) and ip else "local"


def sign_in(username: str, password: str) -> str | None:
    """Try to sign in; return an error message or None on success."""
    from ledger.db import session_scope
    from ledger.users import AuthError, authenticate

    cfg = settings()
    with session_scope(engine()) as session:
        try:
            principal = authenticate(session, username=username, password=password, now=now(),
                                     max_failures=cfg.login_max_failures,
                                     lockout=timedelta(minutes=cfg.login_lockout_minutes),
                                     address=client_address(),
                                     address_max_failures=cfg.login_address_max_failures,
                                     address_window=timedelta(minutes=cfg.login_address_window_minutes))
        except AuthError as exc:
            # caught inside the transaction: the failure counts and audit entry are committed
            return str(exc)
    st.session_state[KEY] = {"principal": principal, "last_seen": now(), "issued": None}
    st.session_state.pop("auth_notice", None)
    return None


def sign_out() -> None:
    """End the session everywhere: the user's session version moves on and the cookie is cleared."""
    from ledger.db import session_scope
    from ledger.users import end_sessions

    state = st.session_state.pop(KEY, None)
    st.session_state["auth_clear_cookie"] = True  # cleared on the sign-in page (the token is void anyway)
    if state:
        principal = state["principal"]
        with session_scope(engine()) as session:
            end_sessions(session, user_id=principal.id, now=now(), actor=principal.username)


def login_page() -> None:
    """The sign-in page (the only page shown to someone not signed in)."""
    st.title("舆情台账 · 登录")
    if st.session_state.pop("auth_clear_cookie", False):
        clear_cookie(COOKIE)
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
