"""Page 统计: posts per day, sentiment, categories and topics, on-time rates per clock and unit."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard.data import _engine_for, database_url, now
from ledger.users import Principal

SENTIMENT_ZH = {"positive": "正面", "neutral": "中性", "negative": "负面"}


@st.cache_data(ttl=60, show_spinner=False)
def _load(url: str, days: int, unit: str | None) -> dict:
    from ledger.db import session_scope
    from ledger.reports.dashboard import (
        flag_counts,
        on_time_rates,
        posts_per_day_sql,
        posts_per_district,
        posts_per_source,
        sentiment_counts,
        sentiment_per_day,
    )

    since = now() - timedelta(days=days)
    with session_scope(_engine_for(url)) as session:
        out = {"on_time": on_time_rates(session, since=since, unit=unit)}
        if unit is None:
            out["per_day"] = posts_per_day_sql(session, since=since)
            out["sentiment"] = sentiment_counts(session, since=since)
            out["sentiment_days"] = sentiment_per_day(session, since=since)
            out["categories"] = flag_counts(session, since=since, field="categories")
            out["topics"] = flag_counts(session, since=since, field="topics")
            out["sources"] = dict(posts_per_source(session, since=since))
            out["districts"] = dict(posts_per_district(session, since=since))
    return out


def render(user: Principal) -> None:
    st.title("统计")
    days = st.select_slider("统计范围（天）", options=[7, 14, 30, 90, 365], value=30, key="stats_days")
    data = _load(database_url(), int(days), user.unit if user.is_unit else None)
    if "per_day" in data:
        st.subheader("每日帖文量")
        if data["per_day"]:
            st.bar_chart(pd.DataFrame(data["per_day"], columns=["日期", "帖文数"]).set_index("日期"),
                         x_label="日期（北京时间）", y_label="帖文数")
        else:
            st.caption("暂无数据")
        st.subheader("情感走势")
        _sentiment_over_time(data["sentiment_days"])
        c1, c2, c3 = st.columns(3)
        with c1:
            st.subheader("情感分布")
            sent = {SENTIMENT_ZH.get(k, k): v for k, v in data["sentiment"].items()}
            st.bar_chart(pd.Series(sent, name="帖文数"), horizontal=True) if sent else st.caption("暂无数据")
        with c2:
            st.subheader("监测类别")
            _ranked(data["categories"])
        with c3:
            st.subheader("关注领域")
            _ranked(data["topics"])
        d1, d2 = st.columns(2)
        with d1:
            st.subheader("各来源帖文量")
            _ranked(data["sources"])
        with d2:
            st.subheader("各属地帖文量")
            _ranked(data["districts"])
    st.subheader("按时办结率（按时钟、适用等级与责任单位）")
    st.caption("口径：统计期内开始且已结束（完成、未达目标或超过时限）的时限；在期限内完成为按时。"
               "适用等级为时限开始时案件的等级，案件降级后，原等级下未按时完成的时限仍按原等级计入。")
    rates = pd.DataFrame(data["on_time"])
    if rates.empty:
        st.caption("统计范围内没有已结束的时钟")
        return
    rates["按时率"] = rates["按时率"].map(lambda r: None if r is None else round(r * 100, 1))
    st.dataframe(rates, hide_index=True, width="stretch",
                 column_config={"按时率": st.column_config.NumberColumn("按时率", format="%.1f%%")})
    by_rule = rates.groupby("时钟")[["按时", "总数"]].sum()
    by_rule["按时率（%）"] = (by_rule["按时"] / by_rule["总数"] * 100).round(1)
    # horizontal bars: long Chinese clock names stay readable instead of turning into cut vertical labels
    st.bar_chart(by_rule["按时率（%）"], horizontal=True, x_label="", y_label="按时率（%）")


def _ranked(counts: dict) -> None:
    """Counts as horizontal bars, largest first (labels read left to right, never cut)."""
    if not counts:
        st.caption("暂无数据")
        return
    series = pd.Series(counts, name="帖文数").sort_values(ascending=False).head(12)
    st.bar_chart(series, horizontal=True, sort="-帖文数", x_label="", y_label="帖文数")


SENTIMENT_COLOURS = {"负面": "#d62728", "中性": "#9e9e9e", "正面": "#2ca02c", "未知": "#c7c7c7"}


def _sentiment_over_time(rows: list) -> None:
    """Posts per day by sentiment, stacked (negative at the bottom, in red)."""
    if not rows:
        st.caption("暂无数据")
        return
    frame = pd.DataFrame(rows, columns=["日期", "情感", "帖文数"])
    frame["情感"] = frame["情感"].map(lambda k: SENTIMENT_ZH.get(k, k))
    table = frame.pivot_table(index="日期", columns="情感", values="帖文数", aggfunc="sum", fill_value=0)
    order = [c for c in SENTIMENT_COLOURS if c in table.columns]
    table = table[order]
    st.bar_chart(table, x_label="日期（北京时间）", y_label="帖文数", stack=True,
                 color=[SENTIMENT_COLOURS[c] for c in order])
