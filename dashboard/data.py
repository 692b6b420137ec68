"""Cached resources and queries for the dashboard pages (engine via st.cache_resource)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st
from sqlalchemy.engine import Engine

SHANGHAI = ZoneInfo("Asia/Shanghai")


def database_url() -> str:
    """The configured database URL (read per run, so a changed environment is honoured)."""
    from config.settings import get_settings

    return get_settings().effective_database_url


@st.cache_resource
def _engine_for(url: str) -> Engine:
    from config.settings import get_settings
    from ledger.db import make_engine

    return make_engine(url, busy_timeout_ms=get_settings().sqlite_busy_timeout_ms)


def engine() -> Engine:
    """The engine of the configured database (one per URL per dashboard process)."""
    return _engine_for(database_url())


def local_time(dt: datetime | None) -> str:
    """A time as shown in the UI: Asia/Shanghai, minutes precision."""
    if dt is None:
        return "—"
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
