"""CLI: sources to follow (``yuqing source add | list | enable | disable``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import typer

from config.cli.common import fail, iso_local, open_engine, print_json, settings
from ledger.types import utcnow

source_app = typer.Typer(help="来源管理 (sources to follow).", no_args_is_help=True)


@source_app.command("templates")
def templates_cmd(as_json: bool = typer.Option(False, "--json", help="JSON 输出")) -> None:
    """列出来源模板: 名称、采集内容、参数、是否需要 Cookie 或自建 RSSHub (list source templates)."""
    from config.sourcetemplates import load_catalogue

    try:
        rows = [t.describe() for t in load_catalogue(settings()).values()]
    except ValueError as exc:
        fail(str(exc), code=2)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        needs = []
        if r["rsshub"]:
            needs.append("自建 RSSHub")
        if r["needs"]:
            needs.append(r["needs"])
        params = " ".join(f"{p['name']}={'…' if p['required'] else '(可选)'}" for p in r["params"]) or "无参数"
        typer.echo(f"{r['name']:<16} {r['title']}  [{r['kind']}]" + ("  热榜" if r["hotlist"] else ""))
        typer.echo(f"{'':<17}{r['collects']}")
        typer.echo(f"{'':<17}参数: {params}" + (f"  需要: {'、'.join(needs)}" if needs else ""))


@source_app.command("add")
def add_cmd(
    kind: str | None = typer.Option(None, "--kind", help="rss | atom | html | json | board"),
    name: str | None = typer.Option(None, "--name", help="来源名称 (unique name; 用模板时可省略)"),
    template: str | None = typer.Option(None, "--template", help="来源模板名 (见 yuqing source templates)"),
    params: list[str] = typer.Option([], "--param", help="模板参数 key=value (可重复)"),
    url: str | None = typer.Option(None, "--url", help="订阅源或入口 URL"),
    config_file: Path | None = typer.Option(None, "--config", help="TOML 配置 (html/json 来源的选择器等)"),
    interval: int | None = typer.Option(None, "--interval", help="抓取间隔秒数 (poll interval, seconds)"),
    cron: str | None = typer.Option(None, "--cron", help="cron 表达式 (instead of --interval)"),
    disabled: bool = typer.Option(False, "--disabled", help="先不启用 (add disabled)"),
) -> None:
    """新增来源并打印其 id (add a source; prints the new source's id).

    用模板: ``--template NAME --param key=value …`` (不需要 --kind / --url / --config)."""
    from ledger.db import session_scope
    from ledger.posts.sources import SourceError, add_source

    cfg_data: dict = {}
    if template is not None:
        if kind or url or config_file:
            fail("--template 不能与 --kind / --url / --config 同时使用", code=2)
        from config.sourcetemplates import expand_template

        try:
            spec = expand_template(settings(), template, params, name=name, interval=interval)
        except ValueError as exc:
            fail(str(exc), code=2)
        kind, name, url, interval = spec.kind, spec.name, spec.url, spec.interval
        cfg_data = spec.config
    elif params:
        fail("--param 只能与 --template 一起使用", code=2)
    if not kind or not name:
        fail("需要 --kind 和 --name (或使用 --template)", code=2)
    if config_file is not None:
        try:
            cfg_data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            fail(f"配置文件不存在 (no such file): {config_file}", code=2)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            fail(f"配置文件格式错误 (invalid TOML) {config_file}: {exc}", code=2)
        url = url or cfg_data.get("url") or (cfg_data.get("list_urls") or [None])[0]
        interval = interval or cfg_data.get("interval")
        cron = cron or cfg_data.get("cron")
    if kind in ("rss", "atom", "feed") and not url:
        fail("订阅源需要 --url (a feed source needs --url)", code=2)
    if url and not url.startswith(("http://", "https://")):
        fail(f"URL 必须以 http:// 或 https:// 开头: {url}", code=2)
    if cron:
        try:
            from apscheduler.triggers.cron import CronTrigger

            CronTrigger.from_crontab(cron)
        except ValueError as exc:
            fail(f"cron 表达式无效 (invalid cron) {cron!r}: {exc}", code=2)
    if kind == "board" and template is None:
        fail("留言板来源 (board) 请用 --template 创建 (见 yuqing source templates)", code=2)
    if kind in ("html", "json"):
        from crawlers.web import validate_config

        try:
            cfg_data = validate_config(kind, cfg_data)
        except ValueError as exc:
            fail(f"来源配置错误 (invalid source config): {exc}", code=2)
    engine = open_engine()
    try:
        with session_scope(engine) as session:
            src = add_source(session, name=name, kind=kind, url=url, config=cfg_data,
                             interval_seconds=interval, cron=cron, enabled=not disabled,
                             actor="cli", now=utcnow())
            new_id = src.id
    except SourceError as exc:
        fail(str(exc), code=2)
    typer.echo(str(new_id))


@source_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="JSON 输出")) -> None:
    """列出来源及其健康状况 (list sources with their health)."""
    from ledger.db import session_scope
    from ledger.posts.sources import list_sources
    from ledger.redact import mask_text, mask_url

    engine = open_engine()
    with session_scope(engine) as session:
        rows = [
            {
                "id": s.id, "name": s.name, "kind": s.kind, "url": mask_url(s.url), "enabled": s.enabled,
                "interval_seconds": s.interval_seconds, "cron": s.cron, "status": s.status,
                "last_success_at": iso_local(s.last_success_at), "last_error": mask_text(s.last_error),
                "last_error_at": iso_local(s.last_error_at),
                "consecutive_failures": s.consecutive_failures, "last_items": s.last_items,
                "last_warning": mask_text(s.last_warning),
            }
            for s in list_sources(session)
        ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("(没有来源 / no sources)")
        return
    status_zh = {"new": "未抓取", "ok": "正常", "error": "出错", "down": "已停摆"}
    for r in rows:
        typer.echo(
            f"{r['id']:>4}  {r['name']}  [{r['kind']}]  {status_zh.get(r['status'], r['status'])}"
            f"  最近成功 {r['last_success_at'] or '-'}  连续失败 {r['consecutive_failures']}"
            f"  上次条数 {r['last_items'] if r['last_items'] is not None else '-'}"
            + (f"\n      最近错误: {r['last_error']}" if r["last_error"] and r["status"] != "ok" else "")
            + (f"\n      上次抓取的问题: {r['last_warning']}" if r["last_warning"] and r["status"] == "ok" else "")
        )


def _set_enabled(source_id: int, enabled: bool) -> None:
    from ledger import audit
    from ledger.db import session_scope
    from ledger.posts.sources import SourceError, get_source

    engine = open_engine()
    try:
        with session_scope(engine) as session:
            src = get_source(session, source_id)
            src.enabled = enabled
            session.add(src)
            audit.record(session, actor="cli", action="source.enable" if enabled else "source.disable",
                         entity="source", entity_id=source_id, now=utcnow())
    except SourceError as exc:
        fail(str(exc), code=2)
    typer.echo("已启用 (enabled)" if enabled else "已停用 (disabled)")


@source_app.command("enable")
def enable_cmd(source_id: int = typer.Argument(..., help="来源 id")) -> None:
    """启用来源 (enable a source)."""
    _set_enabled(source_id, True)


@source_app.command("disable")
def disable_cmd(source_id: int = typer.Argument(..., help="来源 id")) -> None:
    """停用来源 (disable a source)."""
    _set_enabled(source_id, False)


@source_app.command("test")
def test_cmd(
    source_id: int = typer.Argument(..., help="来源 id"),
    limit: int = typer.Option(5, "--limit", help="最多显示几条 (items to show)"),
    as_json: bool = typer.Option(False, "--json", help="JSON 输出"),
) -> None:
    """试抓来源但不入库, 打印前几条的提取结果, 用于调整选择器 (fetch without storing; show what would be extracted)."""
    from config.cli.source_test import run_source_test

    run_source_test(source_id, limit=limit, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(source_app, name="source")
