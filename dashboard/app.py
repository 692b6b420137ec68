"""Streamlit entry point of the dashboard: page router (st.navigation)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` from a source checkout
    sys.path.insert(0, str(ROOT))

st.set_page_config(page_title="舆情台账", page_icon="📋", layout="wide")

PAGES = [
    st.Page(str(ROOT / "dashboard" / "pages" / "posts.py"), title="最新帖文", icon="📰", url_path="posts", default=True),
]

st.navigation(PAGES).run()
