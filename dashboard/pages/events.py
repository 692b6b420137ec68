"""Page 事件: hot events with heat and trend, the posts of an event, opening a case from an event."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard.data import SHANGHAI, case_env, engine, local_time, now, unit_picker
from dashboard.permissions import may
from dashboard.reach import brief_button
from ledger.users import Principal


def render(user: Principal) -> None:
    from analysis.pii import mask
    from ledger.db import session_scope
    from ledger.posts.event_views import event_posts, top_events

    st.title("事件")
    top = st.slider("显示热度前 N 个事件", 5, 100, 20, key="ev_top")
    at = now()
    with session_scope(engine()) as session:
        events = top_events(session, limit=int(top), now=at)
    if not events:
        st.info("暂无事件。帖文入库后会自动聚类成事件。")
        return
    rows = [{"id": e["id"], "事件": e["title"], "关键词": "、".join(e["keywords"][:6]), "帖文数": e["posts"],
             "点赞": e["likes"], "热度": e["heat"], "近1小时": e["trend"].get("last_hour"),
             "趋势": e["trend"].get("label") or e["trend"].get("direction") or "",
             "首次出现": local_time(e["first_seen"]), "最近出现": local_time(e["last_seen"])} for e in events]
    df = pd.DataFrame(rows)
    st.dataframe(df.drop(columns=["id"]), hide_index=True, width="stretch")
    st.bar_chart(df.set_index("事件")["热度"].head(15))
    labels = {r["id"]: f"{r['事件'][:40]}（{r['帖文数']} 条）" for r in rows}
    pick = st.selectbox("查看事件", list(labels), format_func=labels.get, key="ev_pick")
    if pick is None:
        return
    from ledger.reports.dashboard import event_case_facts, event_hourly

    with session_scope(engine()) as session:
        hourly = event_hourly(session, event_id=pick, since=at - timedelta(days=7))
        posts = event_posts(session, event_id=pick, limit=100)
        post_rows = [{"时间": local_time(p.published_at or p.fetched_at), "情感": p.sentiment or "—",
                      "点赞": p.likes, "内容": (p.text if user.can_see_pii else mask(p.text))[:200]} for p in posts]
        facts = event_case_facts(session, event_id=pick)
    st.subheader("走势（每小时帖文数，近7天）")
    if hourly:
        trend = pd.DataFrame([(t.astimezone(SHANGHAI).strftime("%m-%d %H:00"), n) for t, n in hourly],
                             columns=["时间", "帖文数"]).set_index("时间")
        st.line_chart(trend)
    else:
        st.caption("近7天没有该事件的帖文")
    st.subheader("事件帖文")
    st.dataframe(pd.DataFrame(post_rows), hide_index=True, width="stretch")
    if may(user.role, "open_case") and facts:
        _open_from_event(user, pick, labels[pick], facts)
    brief_button("event", pick)


def _open_from_event(user: Principal, event_id: int, label: str, facts: dict) -> None:
    from ledger.cases.workflow import CaseError, open_case
    from ledger.db import session_scope

    env = case_env()
    with st.form(f"ev_case_{event_id}"):
        st.markdown("**由此事件立案**")
        title = st.text_input("案件标题", value=label.split("（")[0])
        grades = list(env.policy.grades)
        grade = st.selectbox("等级（系统建议已预选）", grades,
                             index=grades.index(facts["grade"]) if facts["grade"] in grades else 0)
        unit = unit_picker(st, "责任单位（系统建议）", value=facts.get("responsible_unit"), key="ev_case_unit")
        st.caption(f"发现时间：{local_time(facts['discovered_at'])}（该事件帖文首次入库时间）")
        if st.form_submit_button("立案", type="primary"):
            disposal = facts.get("disposal_type")
            try:
                with session_scope(engine()) as session:
                    case = open_case(session, title=title, grade=grade, discovered_at=facts["discovered_at"],
                                     now=now(), actor=user.username, env=env, event_id=event_id,
                                     post_ids=facts["post_ids"], responsible_unit=unit,
                                     category=facts.get("category"), jurisdiction=facts.get("jurisdiction"),
                                     disposal_type=disposal if disposal in env.policy.disposal else None)
                    number = case.number
            except (CaseError, ValueError) as exc:
                st.error(f"立案失败：{exc}")
                return
            st.success(f"已立案：{number}")
