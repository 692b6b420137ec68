"""Cached resources and queries for the dashboard pages (engine via st.cache_resource)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st
from sqlalchemy.engine import Engine

SHANGHAI = ZoneInfo("Asia/Shanghai")


@st.cache_resource
def engine() -> Engine:
    """The configured database engine (one per dashboard process)."""
    from config.settings import get_settings
    from ledger.db import make_engine

    cfg = get_settings()
    return make_engine(cfg.effective_database_url, busy_timeout_ms=cfg.sqlite_busy_timeout_ms)


def local_time(dt: datetime | None) -> str:
    """A time as shown in the UI: Asia/Shanghai, minutes precision."""
    if dt is None:
        return "—"
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
