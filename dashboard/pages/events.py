"""Page 事件: hot events with heat and trend, the posts of an event, opening a case from an event."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard.data import (
    SHANGHAI,
    case_env,
    clip,
    engine,
    link_to,
    local_time,
    now,
    unit_picker,
    unit_refusal,
)
from dashboard.safe import md_text

SENTIMENT_ZH = {"positive": "正面", "neutral": "中性", "negative": "负面"}
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
    rows = [{"id": e["id"], "事件": clip(e["title"], 60), "关键词": "、".join(e["keywords"][:6]), "帖文数": e["posts"],
             "点赞": e["likes"], "热度": e["heat"], "近1小时": e["trend"].get("last_hour"),
             "趋势": e["trend"].get("label") or e["trend"].get("direction") or "",
             "首次出现": local_time(e["first_seen"]), "最近出现": local_time(e["last_seen"])} for e in events]
    df = pd.DataFrame(rows)
    st.dataframe(df.drop(columns=["id"]), hide_index=True, width="stretch")
    # horizontal bars, hottest on top: event titles stay readable instead of cut vertical labels
    heat = df.assign(事件=df["事件"].map(lambda t: clip(t, 24))).set_index("事件")["热度"].head(15)
    st.bar_chart(heat, horizontal=True, sort="-热度", x_label="", y_label="热度")
    labels = {r["id"]: f"{r['事件'][:40]}（{r['帖文数']} 条）" for r in rows}
    pick = st.selectbox("查看事件", list(labels), format_func=labels.get, key="ev_pick")
    if pick is None:
        return
    from ledger.reports.dashboard import event_case_facts, event_cases, event_hourly

    with session_scope(engine()) as session:
        hourly = event_hourly(session, event_id=pick, since=at - timedelta(days=7))
        posts = event_posts(session, event_id=pick, limit=100)
        post_rows = [{"时间": local_time(p.published_at or p.fetched_at), "情感": SENTIMENT_ZH.get(p.sentiment or "", "—"),
                      "点赞": p.likes, "内容": (p.text if user.can_see_pii else mask(p.text))[:200]} for p in posts]
        facts = event_case_facts(session, event_id=pick)
        opened = event_cases(session, event_id=pick)
    st.subheader("走势（每小时帖文数，近7天）")
    if hourly:
        # a real time axis (not one text label per hour, which the chart cuts and turns vertical)
        trend = pd.DataFrame([(t.astimezone(SHANGHAI).replace(tzinfo=None), n) for t, n in hourly],
                             columns=["时间", "帖文数"]).set_index("时间")
        st.bar_chart(trend, x_label="时间（北京时间）", y_label="每小时帖文数")
    else:
        st.caption("近7天没有该事件的帖文")
    st.subheader("事件帖文")
    st.dataframe(pd.DataFrame(post_rows), hide_index=True, width="stretch")
    note = st.session_state.pop("ev_opened", None)
    if note:
        st.success(note)
    another = False
    if opened:
        st.info(f"该事件已立案 {len(opened)} 件，请在台账中继续办理：")
        for case_id, number, status in opened:
            link_to("cases", f"打开案件 {number}（{status}）", {"case": str(case_id)})
        if may(user.role, "open_case"):
            another = st.checkbox("确需另立新案（例如事件涉及另一责任单位）", key=f"ev_another_{pick}")
    if may(user.role, "open_case") and facts and (another or not opened):
        _open_from_event(user, pick, labels[pick], facts, another=another)
    brief_button("event", pick)


def _open_from_event(user: Principal, event_id: int, label: str, facts: dict, *, another: bool = False) -> None:
    from ledger.cases.workflow import CaseError, open_case
    from ledger.db import session_scope

    env = case_env()
    # every widget is keyed by the event, so the form always shows the suggestions of the event on screen
    with st.form(f"ev_case_{event_id}"):
        st.markdown("**由此事件立案**")
        title = st.text_input("案件标题", value=label.split("（")[0])
        grades = list(env.policy.grades)
        grade = st.selectbox("等级（系统建议已预选）", grades,
                             index=grades.index(facts["grade"]) if facts["grade"] in grades else 0)
        unit = unit_picker(st, "责任单位（系统建议）", value=facts.get("responsible_unit"), key=f"ev_case_unit_{event_id}")
        st.caption(f"发现时间：{local_time(facts['discovered_at'])}（该事件帖文首次入库时间）")
        if st.form_submit_button("立案", type="primary"):
            refusal = unit_refusal(f"ev_case_unit_{event_id}")
            if refusal:
                st.error(md_text(refusal))
                return
            disposal = facts.get("disposal_type")
            try:
                with session_scope(engine()) as session:
                    case = open_case(session, title=title, grade=grade, discovered_at=facts["discovered_at"],
                                     now=now(), actor=user.username, env=env, event_id=event_id,
                                     post_ids=facts["post_ids"], responsible_unit=unit,
                                     category=facts.get("category"), jurisdiction=facts.get("jurisdiction"),
                                     disposal_type=disposal if disposal in env.policy.disposal else None,
                                     another_for_event=another)
                    number = case.number
            except (CaseError, ValueError) as exc:
                st.error(f"立案失败：{exc}")
                return
            from dashboard.data import forget_units

            forget_units()
            st.session_state["ev_opened"] = f"已立案：{number}"
            st.rerun()  # the page now links to the new case instead of offering the form again
