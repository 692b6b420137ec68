"""The 热榜 panel of 值班台: hot-list items (微博热搜, 百度热搜, 知乎热榜 …) of the last day; those
naming a place of the office's gazetteer come first, highlighted, with a button to open a case
(the item linked, its event attached) or the case already opened on it."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard.data import case_env, engine, local_time, now, settings
from dashboard.permissions import may
from ledger.users import Principal


@st.cache_resource
def _places_for(config_dir: str | None) -> list[str]:
    from config.wiring import load_gazetteer

    gaz = load_gazetteer(settings())
    return sorted({gaz.city, *gaz.display.values()} - {""})


def hotlist_panel(user: Principal) -> None:
    """Render the panel (called from dashboard.pages.onduty)."""
    from dashboard.safe import escape_md
    from ledger.db import session_scope
    from ledger.reports.hotlist import hotlist

    cfg = settings()
    places = _places_for(str(cfg.config_dir) if cfg.config_dir else None)
    with session_scope(engine()) as session:
        items = hotlist(session, since=now() - timedelta(days=1), places=places)
    st.subheader("热榜")
    if not items:
        st.caption("暂无热榜（可在 设置 · 来源 用“微博热搜 / 百度热搜 / 知乎热榜”模板添加）")
        return
    local = [i for i in items if i["places"]]
    if local:
        st.warning(f"热榜上有 {len(local)} 条涉及本地：" + "；".join(f"{i['title']}（{i['source']}）" for i in local[:5]))
    for item in sorted(items, key=lambda i: (not i["places"], i["source"], i["rank"])):
        title = escape_md(item["title"])
        cols = st.columns([7, 2])
        where = f"{escape_md(item['source'])} 第 {item['rank']} 位 · {local_time(item['seen_at'])}"
        if item["event_id"]:
            where += f" · 事件 {item['event_id']}（见 事件 页）"
        if item["places"]:
            cols[0].markdown(f":red[**{title}**]  \n涉及 {escape_md('、'.join(item['places']))} · {where}")
        else:
            cols[0].markdown(f"{title}  \n{where}")
        if item["case"]:
            cols[1].caption(f"已立案 {item['case']}")
        elif item["places"] and may(user.role, "open_case") and cols[1].button("立案", key=f"hot_case_{item['post_id']}"):
            _open_case(user, item)


def _open_case(user: Principal, item: dict) -> None:
    from ledger.cases.workflow import CaseError, open_case
    from ledger.db import session_scope

    env = case_env()
    grade = env.policy.grades[0]  # the mildest (grades run mild → grave); graded on the case page
    try:
        with session_scope(engine()) as session:
            case = open_case(session, title=item["title"][:200], grade=grade, discovered_at=item["seen_at"],
                             now=now(), actor=user.username, env=env, event_id=item["event_id"],
                             post_ids=[item["post_id"]], jurisdiction=item["places"][0],
                             summary=f"热榜（{item['source']} 第 {item['rank']} 位）")
            number = case.number
    except (CaseError, ValueError) as exc:
        st.error(f"立案失败：{exc}")
        return
    st.success(f"已立案：{number}（等级暂定为{grade}，请在案件页研判定级）")
