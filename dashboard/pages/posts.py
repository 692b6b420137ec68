"""Page: the newest posts with source, time (Asia/Shanghai), sentiment and masked text; a search box
finds posts by any phrase in their title or text (ledger.posts.search)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.data import _engine_for, database_url, local_time
from dashboard.safe import audited_download, http_url

SENTIMENT_ZH = {"positive": "正面", "neutral": "中性", "negative": "负面"}


@st.cache_data(ttl=10, show_spinner=False)
def load_posts(url: str, limit: int, only_negative: bool, unmasked: bool = False, query: str = "") -> pd.DataFrame:
    from ledger.db import session_scope
    from ledger.posts.queries import post_view, recent_posts, source_names
    from ledger.posts.search import SearchFilters, search_posts

    with session_scope(_engine_for(url)) as session:
        names = source_names(session)
        rows = []
        if query:  # SearchError (a one-character term...) reaches the caller
            found = search_posts(session, query=query, limit=limit,
                                 filters=SearchFilters(sentiment="negative" if only_negative else None))
        else:
            found = recent_posts(session, limit=limit * (3 if only_negative else 1))
        for post in found:
            v = post_view(post, unmasked=unmasked)
            if only_negative and v["sentiment"] != "negative":
                continue
            rows.append({
                "入库时间": local_time(v["fetched_at"]),  # the order of the list: newest first
                "发布时间": local_time(v["published_at"]),
                "来源": names.get(v["source_id"], str(v["source_id"])),
                "情感": SENTIMENT_ZH.get(v["sentiment"] or "", "—"),
                "情感分": round(v["sentiment_score"] or 0.0, 3),
                "标题": v["title"] or "",
                "正文": (v["text"] or "")[:300],
                "链接": http_url(v["url"]) or "",  # a link column opens only http(s) addresses
            })
    return pd.DataFrame(rows[:limit])


def render(user=None) -> None:
    st.title("最新帖文")
    from ledger.posts.search import SearchError

    query = st.text_input("检索帖文", key="posts_query", placeholder="任意两个字以上的词语，多个词以空格分隔",
                          help="在标题和正文中查找，不分词：输入的词语出现在任何位置都能找到").strip()
    col1, col2 = st.columns([1, 1])
    limit = col1.number_input("显示条数", min_value=10, max_value=1000, value=100, step=10, key="posts_limit")
    only_negative = col2.toggle("只看负面", value=False, key="posts_only_negative")
    try:
        df = load_posts(database_url(), int(limit), bool(only_negative), bool(user and user.can_see_pii), query)
    except SearchError as exc:
        st.error(f"无法检索：{exc}")
        return
    if df.empty:
        st.info(f"没有包含「{query}」的帖文。" if query else "暂无帖文。添加来源并抓取后，这里会显示最新帖文。")
        return
    st.caption(f"共 {len(df)} 条，按入库时间从新到旧（时间为北京时间" + ("）" if user and user.can_see_pii else "，个人号码已脱敏）"))
    # st.dataframe renders cell values as text, never as HTML
    st.dataframe(df, hide_index=True, width="stretch",
                 column_config={"链接": st.column_config.LinkColumn("链接")})
    audited_download("下载帖文 (CSV)", df, file_name="最新帖文.csv", user=user, what="post", key="posts_csv")

