"""Streamlit entry point of the dashboard: sign-in, then the pages the user's role may see (st.navigation)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` from a source checkout
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard.auth import current_user, login_page, sign_out  # noqa: E402
from dashboard.permissions import PAGES  # noqa: E402
from dashboard.safe import md_text  # noqa: E402

st.set_page_config(page_title="舆情台账", page_icon=":material/assignment:", layout="wide")

ROLE_PAGES = {
    "onduty": ("dashboard.pages.onduty", "值班台", ":material/emergency:"),
    "events": ("dashboard.pages.events", "事件", ":material/local_fire_department:"),
    "cases": ("dashboard.pages.cases", "台账", ":material/menu_book:"),
    "messages": ("dashboard.pages.messages", "留言办理", ":material/mail:"),
    "policies": ("dashboard.pages.policies", "政策解读", ":material/policy:"),
    "stats": ("dashboard.pages.stats", "统计", ":material/bar_chart:"),
    "export": ("dashboard.pages.export", "导出", ":material/download:"),
    "posts": ("dashboard.pages.posts", "最新帖文", ":material/article:"),
    "schemes": ("dashboard.pages.schemes", "监测方案", ":material/manage_search:"),
    "settings": ("dashboard.pages.admin", "设置", ":material/settings:"),
}


def _page(key: str, user, default: bool):
    import importlib

    module, title, icon = ROLE_PAGES[key]

    def run() -> None:
        importlib.import_module(module).render(user)

    run.__name__ = f"page_{key}"
    return st.Page(run, title=title, icon=icon, url_path=key, default=default)


def _login_at(key: str):
    def run() -> None:
        login_page()

    run.__name__ = f"login_{key}"
    return st.Page(run, title="登录", url_path=key)


def _ack_page():
    def run() -> None:
        import importlib

        importlib.import_module("dashboard.pages.ack").render()

    run.__name__ = "page_ack"
    return st.Page(run, title="确认预警", icon=":material/check_circle:", url_path="ack")


user = current_user()
if user is None:
    pages = [st.Page(login_page, title="登录", icon=":material/login:", url_path="login", default=True)]
    # a page address left over from an expired session shows the sign-in form, not an empty page
    pages += [_login_at(key) for key in ROLE_PAGES]
    if "token" in st.query_params:
        pages.append(_ack_page())
    st.navigation(pages, position="hidden").run()
else:
    keys = PAGES.get(user.role, ())
    pages = [_page(k, user, i == 0) for i, k in enumerate(keys)]
    st.session_state["_pages"] = dict(zip(keys, pages, strict=True))  # for links between pages
    with st.sidebar:
        st.markdown(f"**{md_text(user.display_name)}**（{md_text(user.role)}{' · ' + md_text(user.unit) if user.unit else ''}）")
        if st.button("退出登录", key="logout"):
            sign_out()
            st.rerun()
    if "token" in st.query_params:  # 确认预警 is reached only from an alert link, never from the menu
        pages.append(_ack_page())
    st.navigation(pages).run()
