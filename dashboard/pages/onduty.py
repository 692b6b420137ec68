"""Page 值班台: who is on duty, whether every source is being collected, unacknowledged alerts, open
cases with running clocks, the 热榜 (dashboard.hotlist), flagged posts."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard.data import (
    URGENCY_STYLE,
    clip,
    countdown,
    engine,
    local_time,
    now,
    settings,
    short_time,
    urgency,
)
from dashboard.hotlist import hotlist_panel
from dashboard.safe import md_text
from ledger.users import Principal

GRADE_ORDER = {"特别重大": 0, "重大": 1, "较大": 2, "一般": 3}


def _on_duty_box() -> None:
    from ledger.alerts.duty import on_duty_at
    from ledger.db import session_scope

    with session_scope(engine()) as session:
        duty = on_duty_at(session, at=now()).as_dict()
    people = "、".join(duty["on_duty"]) or "（未排班）"
    leaders = "、".join(duty["leaders"]) or "（未排班）"
    c1, c2 = st.columns(2)
    c1.metric("当前值班", md_text(people))
    c2.metric("带班领导", md_text(leaders))


def source_health_line() -> tuple[str, str]:
    """("ok" | "warning", text): whether every enabled source is being collected, for the duty
    officer; a source that is down, failing, or skipping pages leaves a blind spot."""
    from ledger.db import session_scope
    from ledger.posts.sources import list_sources

    with session_scope(engine()) as session:
        sources = [(s.name, s.status, bool(s.last_warning)) for s in list_sources(session, enabled_only=True)]
    if not sources:
        return "warning", "尚未配置信息来源：没有在监测任何渠道"
    groups = [
        ("中断", [n for n, st_, _ in sources if st_ == "down"]),
        ("最近抓取失败", [n for n, st_, _ in sources if st_ == "error"]),
        ("部分页面未能采集", [n for n, st_, w in sources if st_ == "ok" and w]),
    ]
    parts = [f"{label} {len(names)} 个（{'、'.join(names[:5])}{'等' if len(names) > 5 else ''}）"
             for label, names in groups if names]
    if not parts:
        waiting = sum(1 for _, st_, _ in sources if st_ == "new")
        return "ok", f"信息来源 {len(sources)} 个均正常" + (f"（其中 {waiting} 个尚未抓取）" if waiting else "")
    return "warning", f"信息来源 {len(sources)} 个，其中" + "，".join(parts) + "。详见 设置 · 来源"


def _source_health() -> None:
    level, text = source_health_line()
    if level == "ok":
        st.caption(md_text(text))
    else:
        st.warning(md_text(text))


def _alerts(user: Principal) -> None:
    from ledger.alerts.escalation import acknowledge, alert_to_dict, list_alerts
    from ledger.db import session_scope

    st.subheader("未确认的预警")
    with session_scope(engine()) as session:
        alerts = [alert_to_dict(a) for a in list_alerts(session, state="open", limit=100)]
    if user.is_unit:
        alerts = [a for a in alerts if a["unit"] in (None, user.unit)]
    if not alerts:
        st.success("没有未确认的预警")
        return
    numbers = _case_numbers([a["subject_id"] for a in alerts if a["subject"] == "case" and a["subject_id"]])
    for a in alerts:
        cols = st.columns([6, 2, 1])
        ref = (f"案件 {numbers[a['subject_id']]}" if a["subject"] == "case" and a["subject_id"] in numbers
               else f"预警 {a['id']}")
        facts = [f"**{_esc(trigger_label(a['trigger']))}**", _esc(ref), short_time(a["opened_at"]),
                 _esc(a["grade"] or ""), f"第 {a['step']} 级通知"]
        cols[0].markdown(" · ".join(f for f in facts if f))
        cols[0].text(clip(a["title"], 120))
        cols[1].caption("下一级: " + (short_time(a["next_step_at"]) if a["next_step_at"] else "—"))
        if cols[2].button("确认", key=f"ack_{a['id']}"):
            with session_scope(engine()) as session:
                acknowledge(session, alert_id=a["id"], by=user.display_name, now=now(), via="dashboard")
            st.toast(f"已确认预警 {a['id']}")
            st.rerun()


TRIGGER_ZH = {"clock_warning": "即将到期", "clock_missed": "未达目标时限", "clock_breached": "已超时限",
              "sensitive_post": "新的敏感帖文", "case_opened": "新立案件", "case_regraded": "案件调整等级",
              "leadership_report": "须向领导报告", "commitment_due": "承诺即将到期", "commitment_overdue": "承诺逾期",
              "message_overdue": "留言超期", "source_down": "信息来源中断", "calendar_provisional": "节假日安排缺失"}


def trigger_label(trigger: str | None) -> str:
    """What raised an alert, in the words of a duty officer."""
    from ledger.alerts.escalation import DEFAULT_TRIGGERS

    return TRIGGER_ZH.get(trigger or "", DEFAULT_TRIGGERS.get(trigger or "", {}).get("label", "其他预警"))


def _case_numbers(ids: list[int]) -> dict[int, str]:
    from sqlmodel import select

    from ledger.db import session_scope
    from ledger.models.cases import Case

    if not ids:
        return {}
    with session_scope(engine()) as session:
        return dict(session.exec(select(Case.id, Case.number).where(Case.id.in_(ids))).all())  # type: ignore[union-attr]


def _esc(text: str | None) -> str:
    """Escape user / crawled text for st.markdown (no HTML, no markdown injection)."""
    from dashboard.safe import escape_md

    return escape_md(text or "")


def case_clock_frame(user: Principal) -> pd.DataFrame:
    from ledger.db import session_scope
    from ledger.reports.dashboard import open_cases_with_clocks

    at = now()
    rows = []
    with session_scope(engine()) as session:
        for case, clocks in open_cases_with_clocks(session, unit=user.unit if user.is_unit else None):
            if not clocks:
                rows.append({"编号": case.number, "标题": clip(case.title, 60), "等级": case.grade, "状态": case.status,
                             "责任单位": case.responsible_unit or "—", "时钟": "—", "截止": "—",
                             "倒计时": "—", "_u": "ok"})
            for clock in clocks:
                rows.append({
                    "编号": case.number, "标题": clip(case.title, 60), "等级": case.grade, "状态": case.status,
                    "责任单位": case.responsible_unit or "—",
                    "时钟": clock.rule_name + ("（暂定）" if clock.provisional else ""),
                    "截止": local_time(clock.due_at), "倒计时": countdown(clock.due_at, at),
                    "_u": urgency(clock.due_at, clock.warn_at, clock.status, at),
                })
    return pd.DataFrame(rows)


def _cases(user: Principal) -> None:
    st.subheader("办理中的案件与时钟")
    df = case_clock_frame(user)
    if df.empty:
        st.info("暂无办理中的案件")
        return
    styles = df["_u"].map(URGENCY_STYLE)
    # st.table renders every cell as Markdown: titles and units are escaped to stay text
    shown = df.drop(columns=["_u"]).map(md_text)
    styler = shown.style.apply(lambda col: styles if col.name == "倒计时" else [""] * len(col), axis=0).hide(axis="index")
    # st.table renders an escaped HTML table (readable by screen readers and browser tests)
    st.table(styler)
    overdue = int((df["_u"] == "overdue").sum())
    warning = int((df["_u"] == "warning").sum())
    st.caption(f"超时 {overdue} 项 · 临近 {warning} 项（红色：已超时；黄色：已到预警点；绿色：正常）")


def _flagged(user: Principal) -> None:
    from analysis.pii import mask
    from ledger.db import session_scope
    from ledger.reports.dashboard import flagged_posts

    st.subheader("新近预警帖文")
    cfg = settings()
    with session_scope(engine()) as session:
        posts = flagged_posts(session, min_sensitivity=cfg.flag_sensitivity, since=now() - timedelta(days=3),
                              limit=50)
        rows = [{
            "时间": local_time(p.published_at or p.fetched_at),
            "敏感度": round(p.sensitivity or 0, 2),
            "建议等级": p.severity or "—",
            "类别": "、".join(f.get("name", "") for f in (p.categories or []) if isinstance(f, dict)) or "—",
            "标题": (p.title or "") if user.can_see_pii else mask(p.title or ""),
            "内容": (p.text[:200] if user.can_see_pii else mask(p.text[:200])),
        } for p in posts]
    if not rows:
        st.info("近三天没有超过阈值的帖文")
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"敏感度": st.column_config.NumberColumn(format="%.2f")})


def render(user: Principal) -> None:
    st.title("值班台")
    every = max(5, settings().dashboard_refresh_seconds)

    @st.fragment(run_every=timedelta(seconds=every))
    def live() -> None:
        from dashboard.auth import still_signed_in

        if not still_signed_in():  # an auto-refresh is not activity: the idle timeout still applies
            return
        st.caption(f"更新于 {local_time(now())}（每 {every} 秒自动刷新）")
        _on_duty_box()
        _source_health()
        _cases(user)
        hotlist_panel(user)
        _flagged(user)

    live()
    _alerts(user)
