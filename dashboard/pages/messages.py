"""Page 留言办理: citizens' messages with their reply clocks, overdue first; recording a reply."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard.data import URGENCY_STYLE, case_env, countdown, engine, local_time, now, urgency
from dashboard.permissions import may
from ledger.users import Principal


def render(user: Principal) -> None:
    from analysis.pii import mask
    from ledger.db import session_scope
    from ledger.messages.service import list_messages, message_row
    from ledger.reports.dashboard import message_counts

    st.title("留言办理")
    at = now()
    unit = user.unit if user.is_unit else None
    c = st.columns([2, 1])
    only_overdue = c[0].toggle("只看超期", value=False, key="msg_overdue")
    limit = c[1].number_input("显示条数", 10, 5000, 200, step=50, key="msg_limit")
    with session_scope(engine()) as session:
        counts = message_counts(session, unit=unit, now=at)
        msgs = list_messages(session, now=at, overdue_first=True, overdue_only=only_overdue, unit=unit,
                             limit=int(limit))
        rows = []
        for m in msgs:
            r = message_row(m, at)
            rows.append({
                "id": m.id, "编号": r["external_id"], "渠道": r["channel"],
                "主题": r["title"] if not user.can_see_pii else (m.title or ""),
                "收到时间": local_time(r["received_at"]),
                "答复期限": local_time(r["due_at"]) + ("（暂定）" if r["due_provisional"] else ""),
                "剩余": countdown(r["due_at"], at) if r["replied_at"] is None else "—",
                "答复时间": local_time(r["replied_at"]),
                "状态": r["status"],  # already Chinese (按时答复 / 已超期未答复 …)
                "逾期工作日": r["late_working_days"] if r["late_working_days"] else "",
                "_text": m.text if user.can_see_pii else mask(m.text),
                "_u": ("" if r["replied_at"] is not None or r["due_at"] is None
                       else urgency(r["due_at"], r["due_at"] - timedelta(days=1), "running", at)),
            })
    m1, m2, m3 = st.columns(3)
    m1.metric("留言总数", counts["total"])
    m2.metric("未答复", counts["unanswered"])
    m3.metric("超期未答复", counts["overdue"])
    if not rows:
        st.info("没有留言")
        return
    df = pd.DataFrame(rows)
    styles = [URGENCY_STYLE.get(u, "") for u in df["_u"]]  # red: overdue; yellow: due within a day
    shown = df.drop(columns=["id", "_text", "_u"])
    st.dataframe(shown.style.apply(lambda col: styles if col.name in ("剩余", "状态") else [""] * len(col)),
                 hide_index=True, width="stretch")
    labels = {r["id"]: f"{r['编号']} {str(r['主题'])[:30]}（{r['状态']}）" for r in rows}
    pick = st.selectbox("查看 / 答复留言", list(labels), format_func=labels.get, key="msg_pick")
    if pick is None:
        return
    row = next(r for r in rows if r["id"] == pick)
    st.text(row["_text"])
    if not may(user.role, "reply_message"):
        return
    with st.form(f"reply_{pick}", clear_on_submit=True):
        text = st.text_area("答复意见")
        if st.form_submit_button("记录答复", type="primary"):
            if not text.strip():
                st.error("请填写答复内容")
                return
            from ledger.messages.service import MessageError, record_reply

            env = case_env()
            try:
                with session_scope(engine()) as session:
                    record_reply(session, message_id=pick, text=text, replied_at=now(), actor=user.username,
                                 now=now(), calendar=env.calendar, rules=env.rules)
            except (MessageError, ValueError) as exc:
                st.error(f"记录失败：{exc}")
                return
            st.toast("已记录答复")
            st.rerun()
