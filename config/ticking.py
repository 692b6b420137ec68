"""Run one pass of time (``tick``) with the configured calendar and clock rules, in one transaction
together with the alert hooks of :mod:`config.alerting`, then the after-commit hooks (delivery).

The service calls :func:`run_tick` every minute; ``yuqing tick`` calls it once.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from config import alerting
from config.caseconfig import load_case_policy
from config.clockconfig import load_calendar, load_clock_rules
from config.settings import Settings
from ledger.clocks import tick
from ledger.db import session_scope

log = logging.getLogger(__name__)


class _DryRun(Exception):
    """Raised inside the transaction to roll a rehearsal back."""


def _hook_name(hook: Any) -> str:
    return getattr(hook, "__qualname__", None) or repr(hook)


def _begin(session) -> None:
    """Make sure the database transaction has begun, as a writer, before the hooks' savepoints.

    The sqlite3 driver only opens a transaction before a write; a SAVEPOINT issued outside one
    would start (and its RELEASE commit) a transaction of its own, escaping a later rollback.
    It is begun IMMEDIATE (the write lock taken now, waiting for another writer up to the busy
    timeout): a deferred transaction that first reads and then writes fails at once with
    "database is locked" when a crawl committed in between (its snapshot is stale), which
    dropped that tick's alerts under load."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def run_tick(engine: Engine, settings: Settings, now: datetime, *, dry_run: bool = False,
             actor: str = "system") -> dict[str, Any]:
    """One pass of time as of ``now``; returns a summary dict (counts, changes, hook errors).

    The clock pass and every tick hook run in one transaction; a hook that fails is rolled back
    to its savepoint and reported, so one broken alert step cannot stop the clocks. With
    ``dry_run`` everything is rolled back and the after-commit hooks are not called.
    ``took_s`` in the summary: the seconds the pass took (configuration, transaction, delivery).
    """
    started = time.monotonic()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now 缺少时区: {now!r}")
    calendar = load_calendar(settings)
    rules = load_clock_rules(settings)
    policy = load_case_policy(settings)
    statuses = list(policy.commitment_statuses)
    open_statuses = tuple(statuses[: statuses.index(policy.commitment_fulfilled)])
    hook_errors: list[dict[str, str]] = []
    summary: dict[str, Any] = {}
    try:
        with session_scope(engine) as session:
            report = tick.run_tick(session, now=now, calendar=calendar, rules=rules, actor=actor,
                                   open_commitment_statuses=open_statuses)
            _begin(session)
            for hook in list(alerting.TICK_HOOKS):
                try:
                    with session.begin_nested():
                        hook(session, report, now, settings)
                except Exception as exc:  # keep the clocks moving; report the failure
                    log.exception("tick hook %s failed", _hook_name(hook))
                    hook_errors.append({"hook": _hook_name(hook), "error": f"{exc.__class__.__name__}: {exc}"})
            summary = report.as_dict()
            summary["lines"] = report.summary_lines()
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    summary["dry_run"] = dry_run
    if not dry_run:
        for after in list(alerting.AFTER_COMMIT_HOOKS):
            try:
                after(engine, settings, now)
            except Exception as exc:
                log.exception("after-commit hook %s failed", _hook_name(after))
                hook_errors.append({"hook": _hook_name(after), "error": f"{exc.__class__.__name__}: {exc}"})
    summary["hook_errors"] = hook_errors
    summary["took_s"] = round(time.monotonic() - started, 3)
    return summary
