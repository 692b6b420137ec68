"""Scheduled jobs of the alerting area: the weekly ledger export, generated every Monday 08:00
(``weekly_export_cron``, local time zone) and sent to leadership with the files attached."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from config.settings import Settings

if TYPE_CHECKING:
    from ledger.reports.export import ExportResult
    from ledger.reports.weekly import Week

log = logging.getLogger("yuqing.jobs")
WEEKLY_JOB_ID = "weekly-export"


def export_dir(settings: Settings) -> Path:
    return Path(settings.export_dir) if settings.export_dir else Path(settings.data_dir) / "exports"


def run_weekly_export(engine: Engine, settings: Settings, *, now: datetime, week: Week | None = None,
                      out_dir: Path | None = None, send: bool = True) -> ExportResult:
    """Write the two files for ``week`` (default: the week before ``now``); with ``send`` put one
    notification per leadership destination, files attached, into the outbox (idempotency key
    ``weekly:<week>``: a re-run never sends twice) and deliver it."""
    from config.alerting import alert_context, deliver_outbox
    from ledger.alerts.escalation import notify_direct
    from ledger.db import session_scope
    from ledger.reports.export import export_weekly
    from ledger.reports.weekly import previous_week

    tz = ZoneInfo(settings.timezone)
    week = week or previous_week(now, tz)
    out = Path(out_dir) if out_dir else export_dir(settings) / week.label
    from config.clockconfig import load_calendar

    calendar = load_calendar(settings)
    with session_scope(engine) as session:
        result = export_weekly(session, week=week, out_dir=out, now=now, calendar=calendar)
    if send:
        ctx = alert_context(settings)
        f = result.figures
        body = (f"{week.title()}舆情台账与周报见附件。\n本周新立案件 {f['new_cases']} 件，在办 {f['active_cases']} 件；"
                f"收到留言 {f['messages']} 件，按时答复率 "
                f"{'—' if f['message_on_time_rate'] is None else format(f['message_on_time_rate'], '.1%')}；"
                f"逾期未办事项 {f['overdue_items']} 项（其中往周逾期 {f['overdue_earlier']} 项），"
                f"逾期承诺 {f['commitments_overdue']} 项。")
        with session_scope(engine) as session:
            rows = notify_direct(session, key=f"weekly:{week.label}", targets=ctx.policy.weekly_export_to,
                                 subject=f"【周报】舆情台账 {week.label}", body=body, now=now, ctx=ctx,
                                 kind="weekly_export", attachments=[str(result.xlsx), str(result.docx)])
        if not rows:
            log.info("weekly export %s: no new notification (already queued or no destination)", week.label)
        deliver_outbox(engine, settings, now)
    return result


def install_jobs(scheduler: Any, settings: Settings, run: Callable[[], None]) -> None:
    """Add the weekly export job (explicit id, replace_existing, coalesce, misfire grace); ``run``
    does the work (the service's runs :func:`run_weekly_export` in a child process)."""
    from apscheduler.triggers.cron import CronTrigger

    tz = ZoneInfo(settings.timezone)
    scheduler.add_job(
        run, trigger=CronTrigger.from_crontab(settings.weekly_export_cron, timezone=tz),
        id=WEEKLY_JOB_ID, name="每周台账导出", replace_existing=True, coalesce=True,
        max_instances=1, misfire_grace_time=max(settings.misfire_grace_seconds, 3600),
    )
