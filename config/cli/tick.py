"""CLI area 'tick': one pass of time over the ledger (clocks, message clocks, commitments, alerts)."""

from __future__ import annotations

import typer

from config.cli.common import fail, iso_local, open_engine, parse_now, print_json, settings


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("tick")(tick_cmd)


def tick_cmd(
    now: str | None = typer.Option(None, "--now", help="按此时刻推进 (ISO 8601; 默认当前时间), 可用于演练"),
    as_json: bool = typer.Option(False, "--json", help="JSON 输出"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只演练: 显示将发生的变化, 不写入、不发送通知"),
) -> None:
    """推进一次时间: 各时限转入即将到期 / 未达目标 / 已超时限, 并打印变化。"""
    from config.ticking import run_tick

    at = parse_now(now)
    cfg = settings()
    engine = open_engine(cfg)
    try:
        summary = run_tick(engine, cfg, at, dry_run=dry_run)
    except ValueError as exc:  # configuration errors (calendar, rules, cases.toml)
        fail(f"配置错误: {exc}")
    finally:
        engine.dispose()
    if as_json:
        print_json({k: v for k, v in summary.items() if k != "lines"})
        return
    head = "演练 (未写入)" if dry_run else "已推进"
    typer.echo(f"{head}: {iso_local(at)}  时限变化 {summary['clocks_changed']} 项 (即将到期 "
               f"{summary['clocks_warning']}, 未达目标 {summary['clocks_missed']}, 已超时限 "
               f"{summary['clocks_breached']}), 留言时限更新 {summary['messages_changed']} 条, "
               f"承诺逾期 {summary['commitments_overdue']} 项")
    for line in summary["lines"]:
        typer.echo(f"  {line}")
    for err in summary["hook_errors"]:
        typer.echo(f"  告警步骤出错: {err['hook']}: {err['error']}", err=True)
