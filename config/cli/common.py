"""Helpers shared by the CLI modules: settings, engine, clean failures, time parsing, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.engine import Engine

from config.settings import Settings, get_settings

T = TypeVar("T")

SHANGHAI = ZoneInfo("Asia/Shanghai")


class CliError(Exception):
    """A failure to report to the user as one clear line, with a non-zero exit."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    """Abort the command with a clear message on stderr and exit status ``code``."""
    raise CliError(message, code)


def settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic ValidationError, bad TOML
        fail(f"配置错误 (configuration error): {exc}")


def open_engine(cfg: Settings | None = None, *, migrate: bool = True, service: bool = False) -> Engine:
    """Engine for the configured database, migrated to the latest schema when ``migrate``;
    ``service``: with the long-running service's bounds (``service_db_connections``,
    ``service_sqlite_cache_kib``)."""
    from ledger.db import make_engine
    from ledger.migrate import upgrade

    cfg = cfg or settings()
    url = cfg.effective_database_url
    try:
        if migrate:
            upgrade(url)
        bounds = ({"pool_size": cfg.service_db_connections, "sqlite_cache_kib": cfg.service_sqlite_cache_kib}
                  if service else {})
        return make_engine(url, busy_timeout_ms=cfg.sqlite_busy_timeout_ms, **bounds)
    except Exception as exc:
        fail(f"无法打开数据库 (cannot open database) {_safe_url(url)}: {exc.__class__.__name__}: {exc}")


def in_transaction(load_env: Callable[[Settings], Any], work: Callable[..., T],
                   refusals: tuple[type[Exception], ...]) -> T:
    """Run ``work(session, env, now)`` in one transaction of the configured database.

    ``env = load_env(settings)``: what the command's domain needs from configuration (a broken
    file is a clear 配置错误, exit 1); ``refusals``: the domain's errors, printed as they are with
    exit code 2 (nothing of the transaction is kept)."""
    from ledger.db import session_scope
    from ledger.types import utcnow

    cfg = settings()
    try:
        env = load_env(cfg)
    except ValueError as exc:
        fail(f"配置错误: {exc}")
    engine = open_engine(cfg)
    try:
        with session_scope(engine) as session:
            return work(session, env, utcnow())
    except refusals as exc:
        fail(str(exc), code=2)
    finally:
        engine.dispose()


def write_brief(write: Callable[..., Path], out: Path, now: str | None, **subject: Any) -> None:
    """``yuqing case brief`` / ``events brief``: write the 快报 with ``write(engine, settings,
    out_dir=, now=, **subject)`` (config.briefs) and print its path; an unknown subject is exit 2,
    a directory that cannot be written exit 1."""
    from ledger.reports.brief import BriefError

    cfg = settings()
    engine = open_engine(cfg)
    try:
        path = write(engine, cfg, out_dir=out, now=parse_now(now), **subject)
    except BriefError as exc:
        fail(str(exc), code=2)
    except OSError as exc:
        fail(f"无法写入快报 (cannot write) {out}: {exc}")
    finally:
        engine.dispose()
    typer.echo(str(path))


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid url>"


def parse_now(value: str | None) -> datetime:
    """Parse an ISO instant (naive = Asia/Shanghai); ``None`` means the current time."""
    if value is None:
        return datetime.now(UTC)
    return parse_instant(value, "--now")


def parse_instant(value: str, option: str = "time") -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: 无法解析的时间 (not an ISO 8601 time): {value!r}", code=2)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=SHANGHAI)
    return dt.astimezone(UTC)


def iso_local(dt: datetime | None) -> str | None:
    """ISO 8601 in Asia/Shanghai (``+08:00``), or None."""
    if dt is None:
        return None
    return dt.astimezone(SHANGHAI).isoformat()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=_default) + "\n")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_local(value)
    return str(value)


def echo_err(message: str) -> None:
    typer.echo(message, err=True)
