"""Dashboard page: acknowledge an alert through the signed link in a message (``/ack?token=...``).

The token (itsdangerous, signed with ``YUQING_SECRET_KEY``) names the alert and, for a link sent
to a roster person, that person: the acknowledgement is recorded in the recipient's name (nobody
types a name). A link sent to a shared destination (a group webhook, a unit mailbox) names nobody:
it asks for a sign-in, and the signed-in user's role must be allowed to acknowledge alerts.
Nothing happens on opening the link (mail scanners open links too) — the person confirms with a
button. Self-contained: it reads the settings and opens its own engine.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard.safe import md_text


@st.cache_resource
def _engine(url: str, busy_timeout_ms: int):
    from ledger.db import make_engine

    return make_engine(url, busy_timeout_ms=busy_timeout_ms)


def _signed_in():
    try:
        from dashboard.auth import current_user

        return current_user()
    except (ImportError, RuntimeError, KeyError):  # the page also works without the sign-in module
        return None


def render() -> None:
    """Show the alert named by the token and acknowledge it on request."""
    from sqlmodel import Session

    from config.settings import get_settings
    from ledger.alerts.escalation import (
        ACKNOWLEDGED,
        RESOLVED,
        STATE_LABELS,
        AlertError,
        acknowledge,
        get_alert,
        read_ack_claim,
    )
    from ledger.db import session_scope
    from ledger.reports.weekly import fmt

    st.title("确认预警")
    token = st.query_params.get("token")
    if not token:
        st.error("链接缺少确认令牌。请使用通知中的完整链接。")
        return
    cfg = get_settings()
    try:
        alert_id, recipient = read_ack_claim(cfg.secret_key, token, max_age_seconds=cfg.ack_link_max_age_hours * 3600)
    except AlertError as exc:
        st.error(md_text(exc))
        return
    engine = _engine(cfg.effective_database_url, cfg.sqlite_busy_timeout_ms)
    with Session(engine) as session:
        try:
            alert = get_alert(session, alert_id)
        except AlertError as exc:
            st.error(md_text(exc))
            return
    st.subheader(f"预警 #{alert.id}")
    st.text(alert.title or "")
    facts = (f"状态：{STATE_LABELS.get(alert.state, alert.state)}　分级：{alert.grade or '—'}　"
             f"升级：第 {alert.step + 1} 级　发生：{fmt(alert.opened_at)}")
    st.text(facts)
    st.text(alert.summary or "")
    if alert.state == RESOLVED:
        st.info("此预警已解除，无需确认。")
        return
    if alert.state == ACKNOWLEDGED:
        st.success(f"已由 {md_text(alert.acknowledged_by)} 于 {fmt(alert.acknowledged_at)} 确认。")
        return
    if recipient is None:
        from dashboard.permissions import may

        user = _signed_in()
        if user is None:
            st.info("此链接发往共用地址，不代表具体收件人：请先登录，再确认预警。")
            from dashboard.auth import login_page

            login_page()
            return
        if not may(user.role, "ack_alert"):
            st.error(f"当前角色（{user.role}）无权确认预警。")
            return
        name = user.display_name
    else:
        name = recipient
    who = f"确认人：{name}"
    st.text(who)
    if st.button("确认收到（停止升级）", type="primary", key="ack_button"):
        try:
            with session_scope(engine) as session:
                done = acknowledge(session, alert_id=alert_id, by=name.strip(), now=datetime.now(UTC), via="link")
        except AlertError as exc:
            st.error(md_text(exc))
            return
        st.success(f"已确认：{md_text(done.acknowledged_by)}，{fmt(done.acknowledged_at)}。升级已停止；预警在处置完成后解除。")


if __name__ == "__main__":  # run as a page file
    render()
