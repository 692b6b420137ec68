"""Cached resources for the dashboard: settings, engine (st.cache_resource, one per URL), formatting."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import streamlit as st
from sqlalchemy.engine import Engine

SHANGHAI = ZoneInfo("Asia/Shanghai")


def settings():
    """Settings as configured now (environment and TOML)."""
    from config.settings import get_settings

    return get_settings()


def database_url() -> str:
    """The configured database URL (read per run, so a changed environment is honoured)."""
    return settings().effective_database_url


@st.cache_resource
def _engine_for(url: str) -> Engine:
    from ledger.db import make_engine

    return make_engine(url, busy_timeout_ms=settings().sqlite_busy_timeout_ms)


def engine() -> Engine:
    """The engine of the configured database (one per URL per dashboard process)."""
    return _engine_for(database_url())


@st.cache_resource
def _case_env_for(config_dir: str | None):
    import config.alerting  # noqa: F401  (registers alert routing for case events)
    from config.caseconfig import load_case_env

    return load_case_env(settings())


def case_env():
    """Case workflow policy, calendar and clock rules (cached per config dir)."""
    cfg = settings()
    return _case_env_for(str(cfg.config_dir) if cfg.config_dir else None)


@st.cache_resource
def _policy_env_for(config_dir: str | None):
    import config.alerting  # noqa: F401  (registers alert routing for policy clocks)
    from config.policyconfig import load_policy_env

    return load_policy_env(settings())


def policy_env():
    """Policy register kinds, forms, calendar and clock rules (cached per config dir)."""
    cfg = settings()
    return _policy_env_for(str(cfg.config_dir) if cfg.config_dir else None)


@st.cache_resource
def _channels_for(config_dir: str | None):
    from config.messageconfig import load_channels

    return load_channels(settings())


def channels():
    """The configured message channels (``messages.toml``, cached per config dir)."""
    cfg = settings()
    return _channels_for(str(cfg.config_dir) if cfg.config_dir else None)


@st.cache_resource
def _configured_units_for(config_dir: str | None) -> list[str]:
    from config.wiring import known_units

    return known_units(settings())


@st.cache_data(ttl=60, show_spinner=False)
def _units_in_use_at(url: str) -> list[str]:
    from ledger.db import session_scope
    from ledger.reports.dashboard import units_in_use

    with session_scope(_engine_for(url)) as session:
        return units_in_use(session)


def forget_units() -> None:
    """Read the units in use again on the next run (after an action that may have added one)."""
    _units_in_use_at.clear()


def unit_options() -> list[str]:
    """Units to pick from: those the configuration names (governments and lead departments of
    the gazetteer, cached per config dir; saving a config file clears the cache), then the
    others already used in the ledger (cases, commitments, messages, roster, users; read at most
    once a minute), in that order."""
    cfg = settings()
    configured = _configured_units_for(str(cfg.config_dir) if cfg.config_dir else None)
    return list(dict.fromkeys([*configured, *_units_in_use_at(database_url())]))


def unit_picker(container, label: str, *, value: str | None, key: str) -> str | None:
    """A unit field: pick a known unit (typing filters the list: the governments and departments of
    every level of the gazetteer, then units already used). A unit that is not in the list needs
    its name typed in full and an explicit confirmation, so that a half-typed name never becomes a
    new unit and one unit is not split into several spellings across cases and statistics."""
    options = unit_options()
    value = (value or "").strip() or None
    if value is not None and value not in options:
        options = [value, *options]
    picked = container.selectbox(label, options, index=options.index(value) if value else None, key=key,
                                 placeholder="选择单位（可输入关键字筛选）")
    typed = container.text_input("清单中没有时：新单位全称", key=f"{key}__new",
                                 placeholder="如：示例市青山区应急管理局").strip()
    confirmed = container.checkbox("确认新增此单位", key=f"{key}__confirm")
    if typed and (confirmed or typed in options):
        return typed
    return (picked or "").strip() or None


def unit_refusal(key: str) -> str | None:
    """Why the unit field ``key`` cannot be used as submitted: a new unit name typed but not
    confirmed (the action is refused and the form keeps what was typed), else None."""
    typed = str(st.session_state.get(f"{key}__new") or "").strip()
    if typed and not st.session_state.get(f"{key}__confirm") and typed not in unit_options():
        return f"新单位「{typed[:40]}」尚未确认：请勾选「确认新增此单位」，或清空新单位名称后从清单中选择"
    return None


def run_action(label: str, fn, *, notice: str = "toast", **kwargs) -> bool:
    """Run one service call ``fn(session, **kwargs)`` in its own transaction; show the refusal
    (a ``ValueError`` of the ledger) in red and keep nothing, or the success as a toast (or a
    green box with ``notice="success"``). Returns whether it succeeded."""
    from ledger.db import session_scope

    try:
        with session_scope(engine()) as session:
            fn(session, **kwargs)
    except ValueError as exc:
        st.error(f"{label}失败：{exc}")
        return False
    (st.success if notice == "success" else st.toast)(f"{label}成功")
    return True


def short_time(dt: datetime | None) -> str:
    """A time as people read it on the duty console: ``12月3日 21:12`` (Asia/Shanghai)."""
    if dt is None:
        return "—"
    local = dt.astimezone(SHANGHAI)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def clip(text: str | None, limit: int = 60) -> str:
    """Text cut to ``limit`` characters with an ellipsis, for table cells."""
    text = (text or "").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def link_to(key: str, label: str, query: dict[str, str] | None = None) -> None:
    """A link to another page of the signed-in user's menu (``key`` as in ``dashboard.app.ROLE_PAGES``),
    e.g. to one case; plain text when that page is not in the user's menu."""
    page = st.session_state.get("_pages", {}).get(key)
    if page is None:
        st.caption(label)
    else:
        st.page_link(page, label=label, query_params=query)


def now() -> datetime:
    """The current instant (the dashboard is a composition root: it reads the clock here)."""
    return datetime.now(UTC)


def local_time(dt: datetime | None) -> str:
    """A time as shown in the UI: Asia/Shanghai, minutes precision."""
    if dt is None:
        return "—"
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def countdown(due: datetime | None, at: datetime) -> str:
    """Remaining time as 剩 2小时05分 / 超时 1小时10分."""
    if due is None:
        return "—"
    seconds = int((due - at).total_seconds())
    prefix = "剩 " if seconds >= 0 else "超时 "
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{prefix}{days}天{hours}小时"
    return f"{prefix}{hours}小时{minutes:02d}分"


def urgency(due: datetime | None, warn: datetime | None, status: str, at: datetime) -> str:
    """Colour class of a running clock: red (overdue), orange (in warning), green (running)."""
    if status in ("missed", "breached") or (due is not None and due <= at):
        return "overdue"
    if status == "warning" or (warn is not None and warn <= at):
        return "warning"
    return "ok"


URGENCY_STYLE = {
    "overdue": "background-color: #f8d7da; color: #842029; font-weight: bold",
    "warning": "background-color: #fff3cd; color: #664d03",
    "ok": "background-color: #d1e7dd; color: #0f5132",
}


def act_time_input(what: str, *, key: str, container=None) -> datetime | None:
    """Date and time inputs (Beijing time) for when an act was done, empty until the person fills
    them in: a recorded time is never a silent default. None while either is empty."""
    from datetime import time as _time

    box = container if container is not None else st
    cols = box.columns(2)
    day = cols[0].date_input(f"{what}日期", value=None, key=f"{key}_day", format="YYYY-MM-DD")
    clock = cols[1].time_input(f"{what}时间（北京时间）", value=None, key=f"{key}_time", step=60)
    if day is None or clock is None or not isinstance(clock, _time):
        return None
    return datetime.combine(day, clock, tzinfo=SHANGHAI)
