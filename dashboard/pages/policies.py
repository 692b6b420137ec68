"""Page 政策解读: the policy register — documents with their interpretation clock (due at the end
of the 3rd working day after publication), registering a document, recording an interpretation
or a 退文. A unit user sees and records only its own unit's documents."""

from __future__ import annotations

from datetime import datetime, time

import pandas as pd
import streamlit as st

from dashboard.data import (
    SHANGHAI,
    countdown,
    engine,
    local_time,
    now,
    policy_env,
    run_action,
    unit_picker,
)
from dashboard.permissions import may
from ledger.users import Principal

STATUS_ZH = {"running": "计时中", "warning": "临近", "met": "已完成", "missed": "未达标", "breached": "已超限",
             "paused": "暂停", "cancelled": "已取消"}


def _act(label: str, fn, **kwargs) -> bool:
    """One service call in its own transaction (dashboard.data.run_action)."""
    return run_action(label, fn, notice="success", **kwargs)


def _at(day, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=SHANGHAI)


def render(user: Principal) -> None:
    from ledger.db import session_scope
    from ledger.policies import add_policy, interpret_policy, list_policies, return_policy

    st.title("政策解读")
    env = policy_env()
    at = now()
    unit = user.unit if user.is_unit else None
    st.caption("政策文件与解读材料同步起草、同步审签、同步发布；文件公开后3个工作日内发布解读材料。")
    if may(user.role, "policy"):
        with st.expander("登记政策文件"), st.form("policy_add", clear_on_submit=True):
            title = st.text_input("文件标题")
            c = st.columns(3)
            kind = c[0].selectbox("文件类型", list(env.kinds))
            owner = unit if unit else unit_picker(c[1], "发文单位", value=None, key="pol_unit")
            if unit:
                c[1].text_input("发文单位", value=unit, disabled=True)
            number = c[2].text_input("文号")
            c2 = st.columns(2)
            day = c2[0].date_input("发布日期", value=at.astimezone(SHANGHAI).date(), key="pol_day")
            tm = c2[1].time_input("发布时间", value=time(9, 0), key="pol_time")
            if st.form_submit_button("登记", type="primary"):
                _act("登记政策文件", add_policy, title=title, unit=owner or "", published_at=_at(day, tm),
                     now=now(), actor=user.username, env=env, kind=kind, doc_number=number or None)
    with session_scope(engine()) as session:
        docs = list_policies(session, unit=unit, limit=500)
    if not docs:
        st.info("没有政策文件")
        return
    rows = []
    for d in docs:
        clock = d["clocks"][-1] if d["clocks"] else None
        rows.append({
            "id": d["id"], "文件标题": d["title"], "类型": d["kind"], "发文单位": d["unit"],
            "发布时间": local_time(d["published_at"]), "状态": d["status"],
            "解读期限": (local_time(clock["due_at"]) + ("（暂定）" if clock["provisional"] else "")) if clock else "—",
            "时限状态": STATUS_ZH.get(clock["status"], clock["status"]) if clock else "—",
            "剩余": countdown(clock["due_at"], at) if clock and clock["status"] in ("running", "warning") else "—",
            "解读材料": len(d["interpretations"]),
        })
    pending = sum(1 for d in docs if d["status"] == "待解读")
    overdue = sum(1 for d in docs if d["clocks"] and d["clocks"][-1]["status"] in ("missed", "breached"))
    m = st.columns(3)
    m[0].metric("政策文件", len(docs))
    m[1].metric("待解读", pending)
    m[2].metric("解读逾期", overdue)
    st.dataframe(pd.DataFrame(rows).drop(columns=["id"]), hide_index=True, width="stretch")
    labels = {r["id"]: f"{r['文件标题'][:30]}（{r['状态']}）" for r in rows}
    pick = st.selectbox("查看文件", list(labels), format_func=labels.get, key="pol_pick")
    if pick is None:
        return
    d = next(x for x in docs if x["id"] == pick)
    for i in d["interpretations"]:
        st.markdown(f"- {i['form']}：{i['title']}（{local_time(i['published_at'])}）{i['url'] or ''}")
    if d["return_reason"]:
        st.warning(f"已退文（{local_time(d['returned_at'])}）：{d['return_reason']}")
    if not may(user.role, "policy") or d["status"] == "退文":
        return
    with st.form(f"interpret_{pick}", clear_on_submit=True):
        st.markdown("**登记解读材料**")
        c = st.columns(3)
        ititle = c[0].text_input("解读标题", key=f"int_title_{pick}")
        form = c[1].selectbox("解读形式", list(env.forms), key=f"int_form_{pick}")
        url = c[2].text_input("网址")
        c2 = st.columns(2)
        day = c2[0].date_input("发布日期", value=at.astimezone(SHANGHAI).date(), key=f"int_day_{pick}")
        tm = c2[1].time_input("发布时间", value=at.astimezone(SHANGHAI).time().replace(second=0, microsecond=0),
                              key=f"int_time_{pick}")
        if st.form_submit_button("登记解读", type="primary") and _act(
                "登记解读", interpret_policy, policy_id=pick, title=ititle, form=form, url=url or None,
                published_at=_at(day, tm), now=now(), actor=user.username, env=env):
            st.rerun()
    if d["status"] == "待解读":
        with st.form(f"return_{pick}", clear_on_submit=True):
            reason = st.text_input("退文理由", value="未同步报送解读材料")
            if st.form_submit_button("退文") and _act(
                    "退文", return_policy, policy_id=pick, reason=reason, now=now(), actor=user.username, env=env):
                st.rerun()
