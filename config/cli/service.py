"""CLI: the long-running parts — ``yuqing run`` (scheduler), ``yuqing dashboard``, ``yuqing demo``."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import typer

from config.cli.common import fail, open_engine, settings

DASHBOARD_APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def _logging(cfg) -> Path | None:
    from config.health import setup_logging

    try:
        return setup_logging(cfg)
    except OSError as exc:
        fail(f"无法写入日志文件 (cannot open the log file) {cfg.effective_log_file}: {exc}", code=2)


def status_cmd(
    as_json: bool = typer.Option(False, "--json", help="JSON 输出"),
) -> None:
    """服务状态: 各定时任务上次运行时间、用时、下次运行、是否迟滞 (退出码 0 = 正常, 1 = 停止/迟滞/出错).

    Service health from its status file: when each job last ran, whether any is late.
    """
    import json
    from zoneinfo import ZoneInfo

    from config.health import read_status

    cfg = settings()
    tz = ZoneInfo(cfg.timezone)
    verdict = read_status(cfg.effective_status_file, datetime.now(UTC), tz)

    def local(value):
        return value.astimezone(tz).strftime("%m-%d %H:%M:%S") if value else "—"

    if as_json:
        typer.echo(json.dumps({
            "healthy": verdict.healthy, "running": verdict.running, "problem": verdict.problem,
            "heartbeat": verdict.heartbeat.isoformat() if verdict.heartbeat else None,
            "jobs": [{"id": j.job_id, "name": j.name, "state": j.state, "last_duration_s": j.last_duration_s,
                      "last_start": j.last_start.isoformat() if j.last_start else None,
                      "next_run": j.next_run.isoformat() if j.next_run else None, "error": j.error}
                     for j in verdict.jobs], "memory": verdict.memory}, ensure_ascii=False))
    else:
        head = "服务运行中" if verdict.running else "服务未运行"
        typer.echo(f"{head}；最近心跳 {local(verdict.heartbeat)}" + (f"；{verdict.problem}" if verdict.problem else ""))
        for j in verdict.jobs:
            took = "—" if j.last_duration_s is None else f"{j.last_duration_s:.2f} 秒"
            line = f"  [{j.state}] {j.name} ({j.job_id})：上次 {local(j.last_start)}，用时 {took}，下次 {local(j.next_run)}"
            typer.echo(line + (f"；错误：{j.error}" if j.error else ""))
        if verdict.memory:
            typer.echo(_memory_line(verdict.memory))
    raise typer.Exit(0 if verdict.healthy else 1)


def _memory_line(mem: dict) -> str:
    """The status's memory report as one line (parts the platform could not measure left out)."""
    parts = [("malloc 使用", "malloc_used", "MB"), ("malloc 空闲未还", "malloc_free", "MB"), ("SQLite", "sqlite", "MB"),
             ("Python 内存块", "python_blocks", "千"), ("语句缓存", "compiled_cache", "条")]
    known = "，".join(f"{label} {mem[key]} {unit}" for label, key, unit in parts if mem.get(key) is not None)
    return f"  内存：常驻 {mem.get('rss', '—')} MB" + (f"（{known}）" if known else "")


def run_cmd(
    duration: float | None = typer.Option(None, "--duration", help="运行若干秒后自动停止 (stop after N seconds)"),
) -> None:
    """启动服务：按间隔抓取各来源并每分钟推进时钟；Ctrl-C / SIGTERM 干净退出.

    Start the service: one scheduler polls every enabled source at its interval and runs tick.
    """
    from config.service import Service

    cfg = settings()
    log_file = _logging(cfg)
    engine = open_engine(cfg, service=True)
    service = Service(engine, cfg, child_env=_child_env(cfg))
    if duration is not None:
        threading.Timer(duration, service.stopped.set).start()
    typer.echo("服务已启动，按 Ctrl-C 停止 (service started; Ctrl-C to stop)")
    typer.echo(f"日志 (log): {log_file or '仅控制台 (console only)'}；状态: yuqing status ({cfg.effective_status_file})")
    service.run_forever()
    typer.echo("服务已停止 (service stopped)")


def _child_env(cfg) -> dict[str, str]:
    env = dict(os.environ)
    env["YUQING_DATABASE_URL"] = cfg.effective_database_url
    return env


def _stop_child(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Ask a child process to stop (SIGTERM), kill it if it has not within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def dashboard_process(cfg, port: int, *, address: str = "127.0.0.1") -> subprocess.Popen:
    """Start the Streamlit dashboard as a child process."""
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP),
        "--server.port", str(port), "--server.address", address, "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--global.developmentMode", "false", "--client.toolbarMode", "viewer",
        # no built-in CSV download under tables (unaudited, for every role, formulas unneutralised):
        # pages offer dashboard.safe.audited_download to roles with the export right instead
        "--client.disableDataExport", "true",
    ]
    return subprocess.Popen(cmd, env=_child_env(cfg))


def dashboard_cmd(
    port: int | None = typer.Option(None, "--port", help="端口 (default YUQING_DASHBOARD_PORT)"),
    address: str = typer.Option("127.0.0.1", "--address", help="监听地址"),
) -> None:
    """启动值班看板 (start the Streamlit dashboard)."""
    cfg = settings()
    port = port or cfg.dashboard_port
    if not 0 < port < 65536:
        fail(f"端口无效 (invalid port): {port}", code=2)
    open_engine(cfg)  # migrate first so the pages find their tables
    proc = dashboard_process(cfg, port, address=address)
    typer.echo(f"看板地址 (dashboard): http://{address}:{port}")

    def _on_term(_signum, _frame):  # SIGTERM (kill, systemd stop): stop Streamlit as well
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_term)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        _stop_child(proc)
        code = 0
    sys.exit(code)


def demo_cmd(
    duration: float | None = typer.Option(None, "--duration", help="运行若干秒后自动停止"),
    step: float = typer.Option(20.0, "--step", help="演示平台每隔多少秒发布一条新帖"),
    interval: int = typer.Option(15, "--interval", help="演示来源的抓取间隔（秒）"),
    no_dashboard: bool = typer.Option(False, "--no-dashboard", help="不启动看板"),
    port: int | None = typer.Option(None, "--port", help="看板端口"),
) -> None:
    """演示：在本机启动模拟平台，接入来源，运行服务并打开看板（无需联网）.

    Demo: a simulated public platform on 127.0.0.1 publishes demo posts over time as a feed; a
    source points at it; the service crawls it and the dashboard shows the result. No internet.
    """
    from config.demo import DemoRefused, check_demo_database, prepare_demo
    from config.service import Service
    from crawlers.demo import DemoPlatform

    cfg = settings()
    _logging(cfg)
    engine = open_engine(cfg, service=True)
    try:
        check_demo_database(engine)  # before anything starts: a real ledger gets no demo accounts
    except DemoRefused as exc:
        fail(str(exc), code=2)
    platform = DemoPlatform(step_seconds=step).start()
    info = prepare_demo(engine, cfg, feed_url=f"{platform.url}/feed.xml", interval=interval)
    from config.demo_day import seed_day

    info += seed_day(engine, cfg, datetime.now(UTC))
    # the scheduler's per-job INFO lines would scroll the accounts printed below out of sight
    for name in ("apscheduler", "scrapy", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    typer.echo(f"演示平台 (demo platform): {platform.url}/feed.xml")
    typer.echo(f"数据库 (database): {cfg.effective_database_url}")
    for line in info:
        typer.echo(line)
    proc = None
    if not no_dashboard:
        port = port or cfg.dashboard_port
        proc = dashboard_process(cfg, port)
        typer.echo(f"看板 (dashboard): http://127.0.0.1:{port}")
    service = Service(engine, cfg, child_env=_child_env(cfg))
    if duration is not None:
        threading.Timer(duration, service.stopped.set).start()
    try:
        service.run_forever()
    finally:
        platform.stop()
        if proc is not None:
            _stop_child(proc)
        time.sleep(0.1)
    typer.echo("演示已结束 (demo stopped)")


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
    app.command("status")(status_cmd)
    app.command("dashboard")(dashboard_cmd)
    app.command("demo")(demo_cmd)
