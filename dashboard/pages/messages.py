"""Page 留言办理: citizens' messages with their reply clocks, overdue first; a search box over
their title and text; entering a message received on any configured channel (登记留言); marking
one simple or assigning its unit; recording a reply, with the most similar answered messages and
their replies beside the reply box (ledger.messages.suggest) to start from."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard.data import (
    SHANGHAI,
    URGENCY_STYLE,
    act_time_input,
    case_env,
    channels,
    countdown,
    engine,
    local_time,
    now,
    run_action,
    unit_picker,
    urgency,
)
from dashboard.permissions import may
from dashboard.safe import md_text
from ledger.users import Principal

SEARCH_LIMIT = 5000


@st.cache_resource(show_spinner=False)
def _reply_index(url: str):
    """One reply-suggestion index per database for this dashboard process (grown as messages
    are answered), with the lock that serialises its refreshes."""
    from ledger.messages.suggest import ReplyIndex

    return ReplyIndex(), threading.Lock()


def _use_reply(key: str, reply: str) -> None:
    st.session_state[key] = reply


def _suggestions(container, user: Principal, pick: int, text: str, reply_key: str) -> None:
    from dashboard.data import database_url
    from ledger.db import session_scope
    from ledger.messages.suggest import SuggestError, suggest

    index, lock = _reply_index(database_url())
    try:
        with lock, session_scope(engine()) as session:
            found = suggest(session, text=text, index=index, top=3, exclude_id=pick, unmasked=user.can_see_pii)
    except SuggestError:
        found = []
    container.markdown("**答复参考**（相似的已答复留言）")
    if not found:
        container.caption("没有相似的已答复留言")
        return
    for n, r in enumerate(found, 1):
        unit = r["unit"] or "—"
        if r["unit_from"] == "reply_text":
            unit += "（据答复推断）"
        box = container.container(border=True)
        box.caption(f"{n}. 相似度 {r['similarity']:.2f} · 单位 {unit} · 答复于 {local_time(r['replied_at'])}")
        asked = f"留言：{r['title'] or ''} {r['text'][:120]}"
        answered = f"答复：{r['reply'][:600]}"
        box.text(asked)
        box.text(answered)
        box.button("以此答复为起点", key=f"use_{pick}_{r['message_id']}", on_click=_use_reply,
                   args=(reply_key, r["reply"]))


def render(user: Principal) -> None:
    from analysis.pii import mask
    from ledger.db import session_scope
    from ledger.messages.service import list_messages, message_row
    from ledger.reports.dashboard import message_counts

    st.title("留言办理")
    at = now()
    if may(user.role, "add_message"):
        _add_form(user)
    unit = user.unit if user.is_unit else None
    c = st.columns([2, 1])
    only_overdue = c[0].toggle("只看超期", value=False, key="msg_overdue")
    limit = c[1].number_input("显示条数", 10, 5000, 200, step=50, key="msg_limit")
    query = st.text_input("检索留言", key="msg_query", placeholder="任意两个字以上的词语，多个词以空格分隔",
                          help="在留言标题和内容中查找，不分词").strip()
    from ledger.posts.search import SearchError, SearchFilters, search_message_ids

    with session_scope(engine()) as session:
        counts = message_counts(session, unit=unit, now=at)
        ids = None
        if query:
            try:
                ids = search_message_ids(session, query=query, filters=SearchFilters(unit=unit), limit=SEARCH_LIMIT)
            except SearchError as exc:
                st.error(f"无法检索：{exc}")
                return
        msgs = list_messages(session, now=at, overdue_first=True, overdue_only=only_overdue, unit=unit,
                             limit=int(limit), ids=ids)
        rows = []
        env = case_env()
        for m in msgs:
            r = message_row(m, at, calendar=env.calendar, rules=env.rules)
            rows.append({
                "id": m.id, "编号": r["external_id"], "渠道": r["channel"],
                "主题": r["title"] if not user.can_see_pii else (m.title or ""),
                "收到时间": local_time(r["received_at"]),
                "答复期限": local_time(r["due_at"]) + ("（暂定）" if r["due_provisional"] else ""),
                "剩余": countdown(r["due_at"], at) if r["replied_at"] is None else "—",
                "答复时间": local_time(r["replied_at"]),
                "状态": r["status"],  # already Chinese (按时答复 / 已超期未答复 …)
                # unanswered and overdue: the running count so far (至今), answered late: the final count
                "逾期工作日": (f"{r['late_working_days']}（至今）" if r["overdue_running"] else r["late_working_days"])
                if r["late_working_days"] else "",
                "_text": m.text if user.can_see_pii else mask(m.text),
                "_simple": m.simple, "_unit": m.unit, "承办单位": m.unit or "—",
                "_u": ("" if r["replied_at"] is not None or r["due_at"] is None
                       else urgency(r["due_at"], r["due_at"] - timedelta(days=1), "running", at)),
                "_doc": ((m.title or "") + "\n" + (m.text or "")),
            })
    m1, m2, m3 = st.columns(3)
    m1.metric("留言总数", counts["total"])
    m2.metric("未答复", counts["unanswered"])
    m3.metric("超期未答复", counts["overdue"])
    if not rows:
        st.info(f"没有包含「{query}」的留言" if query else "没有留言")
        return
    if query:
        st.caption(f"包含「{query}」的留言 {len(ids or [])} 条" + ("（仅显示最新的部分）" if len(ids or []) >= SEARCH_LIMIT else ""))
    df = pd.DataFrame(rows)
    styles = [URGENCY_STYLE.get(u, "") for u in df["_u"]]  # red: overdue; yellow: due within a day
    shown = df.drop(columns=["id", "_text", "_u", "_simple", "_unit", "_doc"])
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
    left, right = st.columns([3, 2])
    reply_key = f"reply_text_{pick}"
    _suggestions(right, user, pick, row["_doc"], reply_key)
    with left.form(f"reply_{pick}", clear_on_submit=True):
        text = st.text_area("答复意见", key=reply_key, height=240)
        replied_at = act_time_input("答复", key=f"reply_at_{pick}")
        if st.form_submit_button("记录答复", type="primary"):
            if not text.strip():
                st.error("请填写答复内容")
                return
            when = replied_at
            if when is None:
                st.error("请填写答复日期和时间（北京时间）")
                return
            from ledger.messages.service import MessageError, record_reply

            request_now = now()  # one clock reading per request
            try:
                with session_scope(engine()) as session:
                    record_reply(session, message_id=pick, text=text, replied_at=when, actor=user.username,
                                 now=request_now, calendar=env.calendar, rules=env.rules)
            except (MessageError, ValueError) as exc:
                st.error(f"记录失败：{md_text(exc)}")
                return
            st.toast("已记录答复")
            st.rerun()
    _mark_form(user, pick, row)


def _save(label: str, fn, **kwargs) -> bool:
    """One service call in its own transaction (dashboard.data.run_action)."""
    return run_action(label, fn, notice="toast", **kwargs)


def _add_form(user: Principal) -> None:
    """登记留言: a message received on any configured channel, with its reply clock."""
    from ledger.messages.entry import add_message

    chans = channels()
    with st.expander("登记留言"), st.form("msg_add", clear_on_submit=True):
        c = st.columns(3)
        channel = c[0].selectbox("渠道", list(chans.names), key="msg_add_channel")
        author = c[1].text_input("留言人", key="msg_add_author")
        unit = unit_picker(c[2], "承办单位", value=None, key="msg_add_unit")
        title = st.text_input("主题", key="msg_add_title")
        text = st.text_area("留言内容", key="msg_add_text")
        c2 = st.columns(3)
        day = c2[0].date_input("收到日期", value=now().astimezone(SHANGHAI).date(), key="msg_add_day")
        tm = c2[1].time_input("收到时间", value=now().astimezone(SHANGHAI).time().replace(second=0, microsecond=0),
                              key="msg_add_time")
        simple = c2[2].checkbox("简单问题（3个工作日内答复）", key="msg_add_simple")
        env = case_env()
        if st.form_submit_button("登记", type="primary") and _save(
                "登记留言", add_message, channel=channel, title=title or None, text=text,
                received_at=datetime.combine(day, tm, tzinfo=SHANGHAI), now=now(), actor=user.username,
                calendar=env.calendar, rules=env.rules, source_name=chans.manual_source, simple=simple,
                author=author or None, unit=unit):
            st.rerun()


def _mark_form(user: Principal, pick: int, row: dict) -> None:
    """Mark the picked message simple (or not) and assign its unit; both audited."""
    from ledger.messages.entry import assign_unit, mark_simple

    env = case_env()
    c = st.columns([2, 1, 2, 1])
    simple = c[0].checkbox("简单问题（3个工作日内答复）", value=bool(row.get("_simple")), key=f"msg_simple_{pick}")
    if c[1].button("保存标记", key=f"msg_simple_go_{pick}") and _save(
            "标记", mark_simple, message_id=pick, simple=simple, now=now(), actor=user.username,
            calendar=env.calendar, rules=env.rules):
        st.rerun()
    if user.is_unit:
        return
    unit = unit_picker(c[2], "承办单位", value=row.get("_unit"), key=f"msg_unit_{pick}")
    if c[3].button("指定单位", key=f"msg_unit_go_{pick}") and _save(
            "指定承办单位", assign_unit, message_id=pick, unit=unit or "", now=now(), actor=user.username,
            calendar=env.calendar, rules=env.rules):
        st.rerun()
