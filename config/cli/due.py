"""CLI area 'due': compute a deadline on the working-day calendar or in calendar hours."""

from __future__ import annotations

import math

import typer

from config.cli.common import fail, iso_local, parse_instant, print_json, settings


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("due")(due)


def due(
    start: str = typer.Option(..., "--start", help="起算时间 ISO 8601 (无时区按 Asia/Shanghai)"),
    working_days: int | None = typer.Option(None, "--working-days", help="工作日数 (收到当日不计)"),
    hours: float | None = typer.Option(None, "--hours", help="自然小时数"),
    as_json: bool = typer.Option(False, "--json", help='输出 {"due": …, "provisional": …}'),
) -> None:
    """计算期限: N 个工作日 (按法定节假日与调休, 收到当日不计, 截止为第 N 个工作日 23:59:59) 或 N 小时后。

    Compute a due instant: N working days (China's holidays and 调休; the day of receipt not
    counted) or N calendar hours after --start. A deadline in a year without calendar data is
    provisional (暂定)."""
    from config.clockconfig import load_calendar

    if (working_days is None) == (hours is None):
        fail("请且只能给出 --working-days 或 --hours 之一 (give exactly one of --working-days / --hours)", code=2)
    if working_days is not None and working_days < 0:
        fail(f"--working-days 不能为负数: {working_days}", code=2)
    if hours is not None and (hours < 0 or not math.isfinite(hours)):
        fail(f"--hours 应为非负有限数: {hours}", code=2)
    instant = parse_instant(start, "--start")
    try:
        calendar = load_calendar(settings())
    except ValueError as exc:
        fail(f"日历配置错误 (calendar configuration error): {exc}")
    try:
        result = (
            calendar.add_working_days(instant, working_days)
            if working_days is not None
            else calendar.add_hours(instant, hours or 0.0)
        )
    except (ValueError, OverflowError) as exc:
        fail(f"无法计算期限: {exc}", code=2)
    if as_json:
        print_json({"due": iso_local(result.at), "provisional": result.provisional})
        return
    typer.echo(iso_local(result.at))
    if result.provisional:
        typer.echo("注意: 期限涉及尚无官方节假日安排的年份, 为暂定期限 (provisional)", err=True)
