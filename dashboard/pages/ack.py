"""Dashboard page: acknowledge an alert through the signed link in a message (``/ack?token=...``).

The token (itsdangerous, signed with ``YUQING_SECRET_KEY``) names the alert; nothing happens on
opening the link (mail scanners open links too) — the person confirms with a button.
Self-contained: it reads the settings and opens its own engine.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard.safe import md_text


@st.cache_resource
def _engine(url: str, busy_timeout_ms: int):
    from ledger.db import make_engine

    return make_engine(url, busy_timeout_ms=busy_timeout_ms)


def _signed_in_name() -> str | None:
    try:
        from dashboard.auth import current_user

        user = current_user()
    except (ImportError, RuntimeError, KeyError):  # the page also works without the sign-in module
        return None
    return getattr(user, "display_name", None) if user is not None else None


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
        read_ack_token,
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
        alert_id = read_ack_token(cfg.secret_key, token, max_age_seconds=cfg.ack_link_max_age_hours * 3600)
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
    st.subheader(f"预警 #{alert.id}：{md_text(alert.title)}")
    st.markdown(f"**状态**：{md_text(STATE_LABELS.get(alert.state, alert.state))}　**分级**：{md_text(alert.grade or '—')}　"
                f"**升级**：第 {alert.step + 1} 级　**发生**：{fmt(alert.opened_at)}")
    st.text(alert.summary or "")
    if alert.state == RESOLVED:
        st.info("此预警已解除，无需确认。")
        return
    if alert.state == ACKNOWLEDGED:
        st.success(f"已由 {md_text(alert.acknowledged_by)} 于 {fmt(alert.acknowledged_at)} 确认。")
        return
    name = st.text_input("确认人", value=_signed_in_name() or "", key="ack_by")
    if st.button("确认收到（停止升级）", type="primary", key="ack_button"):
        if not name.strip():
            st.warning("请填写确认人。")
            return
        try:
            with session_scope(engine) as session:
                done = acknowledge(session, alert_id=alert_id, by=name.strip(), now=datetime.now(UTC), via="link")
        except AlertError as exc:
            st.error(md_text(exc))
            return
        st.success(f"已确认：{md_text(done.acknowledged_by)}，{fmt(done.acknowledged_at)}。升级已停止；预警在处置完成后解除。")


if __name__ == "__main__":  # run as a page file
    render()
