"""CLI area 'export': the weekly ledger export for leadership (台账 xlsx + 周报 docx)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from config.cli.common import fail, open_engine, parse_now, print_json, settings

export_app = typer.Typer(help="导出: 每周台账与周报 (weekly ledger export).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(export_app, name="export")


@export_app.command("weekly")
def weekly_cmd(
    week: str | None = typer.Option(None, "--week", help="周次 YYYY-Www (北京时间的 ISO 周; 默认上一周)"),
    out: Annotated[Path | None, typer.Option("--out", help="输出目录 (默认 data_dir/exports)")] = None,
    send: bool = typer.Option(False, "--send", help="同时把两个文件作为附件发给领导 (写入发件箱并投递)"),
    now: str | None = typer.Option(None, "--now", help="生成时刻 ISO 8601 (默认当前时间)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """生成 台账_YYYY-Www.xlsx (案件及各时限与结果、信息发布、承诺、留言及答复时间、统计) 和
    周报_YYYY-Www.docx (本周概况、各时限及各单位按时率、逾期事项、到期承诺、重点事件及图表)。个人号码已脱敏。

    Write the weekly ledger workbook and report for one ISO week (Asia/Shanghai)."""
    from zoneinfo import ZoneInfo

    from config.jobs import run_weekly_export
    from ledger.reports.weekly import ExportError, parse_week, previous_week

    cfg = settings()
    when = parse_now(now)
    tz = ZoneInfo(cfg.timezone)
    try:
        span = parse_week(week, tz) if week else previous_week(when, tz)
    except ExportError as exc:
        fail(str(exc), code=2)
    engine = open_engine(cfg)
    try:
        result = run_weekly_export(engine, cfg, now=when, week=span, out_dir=out, send=send)
    except OSError as exc:
        fail(f"无法写入导出文件: {exc}")
    finally:
        engine.dispose()
    if as_json:
        print_json(result.as_dict())
        return
    typer.echo(str(result.xlsx))
    typer.echo(str(result.docx))
    f = result.figures
    typer.echo(f"{result.week}: 新立案件 {f['new_cases']}，留言 {f['messages']}，逾期事项 {f['overdue_items']}", err=True)
