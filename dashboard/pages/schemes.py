"""Page 监测方案: monitoring schemes (place words AND event words, NOT exclusions) — list, edit
with a live preview of what the scheme would have hit in the last 7 days, enable / disable."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard.data import engine, local_time, now, unit_picker
from dashboard.permissions import may
from ledger.users import Principal

PREVIEW_DAYS = 7
PREVIEW_ROWS = 20
NEW = 0


def _terms(value) -> str:
    return "，".join(value or [])


def render(user: Principal) -> None:
    from analysis.pii import mask
    from ledger.db import session_scope
    from ledger.posts.schemes import GRADES, SchemeError, SchemeSpec, list_schemes, scheme_hits
    from ledger.posts.search import SearchError

    st.title("监测方案")
    st.caption("必含词全部出现、任含词至少出现一个、排除词都不出现的新帖文即命中；命中后按升级链向方案的责任单位预警，"
               "同一方案每个时段只发一条预警。词语按简体、半角比较，不分词。")
    with session_scope(engine()) as session:
        schemes = list_schemes(session)
        specs = {r.id: SchemeSpec.of(r) for r in schemes}
        table = [{"id": r.id, "名称": r.name, "表达式": specs[r.id].expression(), "责任单位": r.unit or "—",
                  "等级": r.grade or "—", "状态": "启用" if r.enabled else "停用", "新帖命中": r.hit_total,
                  "最近命中": local_time(r.last_hit_at)} for r in schemes]
        enabled = {r.id: r.enabled for r in schemes}
    if table:
        st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
    else:
        st.info("还没有监测方案。")
    editable = may(user.role, "manage_schemes")
    labels = {NEW: "＋ 新建方案", **{i: f"{i} {s.name}" for i, s in specs.items()}}
    if st.session_state.get("scheme_pick_next") in labels:
        st.session_state["scheme_pick"] = st.session_state.pop("scheme_pick_next")
    pick = st.selectbox("编辑方案" if editable else "查看方案", list(labels), format_func=labels.get, key="scheme_pick")
    base = specs.get(pick)
    k = f"scheme_{pick}_"
    name = st.text_input("方案名称", value=base.name if base else "", key=k + "name")
    c1, c2, c3 = st.columns(3)
    all_terms = c1.text_input("必含词（全部出现，逗号分隔）", value=_terms(base.all_terms if base else ()), key=k + "all",
                              help="如地域词：长沙，岳麓区")
    any_terms = c2.text_input("任含词（至少一个，逗号分隔）", value=_terms(base.any_terms if base else ()), key=k + "any",
                              help="如事件词：噪音，扰民，施工")
    none_terms = c3.text_input("排除词（逗号分隔）", value=_terms(base.none_terms if base else ()), key=k + "none")
    c4, c5 = st.columns(2)
    unit = unit_picker(c4, "接收预警的责任单位", value=base.unit if base else None, key=k + "unit")
    grades = ["（不定级）", *GRADES]
    grade = c5.selectbox("预警等级", grades, index=grades.index(base.grade) if base and base.grade else 0,
                         key=k + "grade")
    try:
        spec = SchemeSpec.build(name=name or "预览", all_terms=all_terms, any_terms=any_terms, none_terms=none_terms,
                                unit=unit, grade=None if grade == grades[0] else grade)
    except SchemeError as exc:
        if all_terms or any_terms or none_terms:
            st.warning(str(exc))
        return
    at = now()
    st.subheader(f"预览：最近 {PREVIEW_DAYS} 天会命中的帖文")
    st.caption(f"表达式：{spec.expression()}")
    try:
        with session_scope(engine()) as session:
            total, posts = scheme_hits(session, spec=spec, since=at - timedelta(days=PREVIEW_DAYS), limit=PREVIEW_ROWS)
            show = (lambda s: s) if user.can_see_pii else mask
            rows = [{"时间": local_time(p.published_at or p.fetched_at), "标题": show(p.title or ""),
                     "正文": show(p.text or "")[:200]} for p in posts]
    except SearchError as exc:
        st.warning(f"无法预览：{exc}")
        return
    st.metric("最近 7 天命中", total)
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if not editable:
        return
    b1, b2 = st.columns(2)
    if b1.button("保存方案" if pick == NEW else "保存修改", type="primary", key=k + "save"):
        _save(user, pick, name, spec)
    if pick != NEW and b2.button("停用" if enabled.get(pick) else "启用", key=k + "toggle"):
        _toggle(user, pick, not enabled.get(pick))


def _save(user: Principal, pick: int, name: str, spec) -> None:
    from dataclasses import replace

    from ledger.db import session_scope
    from ledger.posts.schemes import SchemeError, add_scheme, update_scheme

    if not name.strip():
        st.error("请填写方案名称")
        return
    spec = replace(spec, name=name.strip())
    try:
        with session_scope(engine()) as session:
            if pick == NEW:
                row = add_scheme(session, spec=spec, actor=user.username, now=now())
            else:
                row = update_scheme(session, scheme_id=pick, spec=spec, actor=user.username, now=now())
            saved = row.id
    except SchemeError as exc:
        st.error(f"保存失败：{exc}")
        return
    st.session_state["scheme_pick_next"] = saved  # the picker is already drawn: select it on the rerun
    st.toast(f"已保存监测方案 {saved}")
    st.rerun()


def _toggle(user: Principal, pick: int, enable: bool) -> None:
    from ledger.db import session_scope
    from ledger.posts.schemes import SchemeError, set_enabled

    try:
        with session_scope(engine()) as session:
            set_enabled(session, scheme_id=pick, enabled=enable, actor=user.username, now=now())
    except SchemeError as exc:
        st.error(f"操作失败：{exc}")
        return
    st.toast("已启用" if enable else "已停用")
    st.rerun()
