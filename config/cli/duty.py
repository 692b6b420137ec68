"""CLI area 'duty': the duty roster (值班表) — import from xlsx, add shifts and people, who is on duty."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from config.cli.common import (
    fail,
    iso_local,
    open_engine,
    parse_instant,
    parse_now,
    print_json,
    settings,
)

duty_app = typer.Typer(help="值班表: 导入、添加班次与人员、查看当前值班 (duty roster).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(duty_app, name="duty")


@duty_app.command("import")
def import_cmd(path: Annotated[Path, typer.Argument(help="值班表 xlsx 文件")]) -> None:
    """从 xlsx 导入值班表 (工作表“值班表”: 开始时间/结束时间 或 日期/班次, 值班人员, 带班领导, 单位, 备注;
    可选工作表“人员”: 姓名/角色/单位/电话/通知地址)。一行有误则整个文件不导入。

    Import the roster from xlsx; one bad row rejects the whole file."""
    from zoneinfo import ZoneInfo

    from ledger.alerts.duty import DutyError, import_roster_xlsx
    from ledger.db import session_scope

    if not path.is_file():
        fail(f"文件不存在: {path}", code=2)
    cfg = settings()
    engine = open_engine(cfg)
    now = parse_now(None)
    try:
        with session_scope(engine) as session:
            result = import_roster_xlsx(session, path=path, now=now, tz=ZoneInfo(cfg.timezone), actor="cli")
    except DutyError as exc:
        fail(str(exc))
    typer.echo(f"已导入 人员 {result.people} 人，班次 {result.shifts} 个")


@duty_app.command("add")
def add_cmd(
    start: Annotated[str, typer.Option("--start", help="开始时间 ISO 8601 (无时区按 Asia/Shanghai)")],
    end: Annotated[str, typer.Option("--end", help="结束时间")],
    on_duty: Annotated[list[str], typer.Option("--person", "-p", help="值班人员 (可重复)")],
    leader: str | None = typer.Option(None, "--leader", help="带班领导"),
    unit: str | None = typer.Option(None, "--unit"),
    note: str | None = typer.Option(None, "--note"),
) -> None:
    """添加一个班次。Add a shift."""
    from ledger.alerts.duty import DutyError, add_shift
    from ledger.db import session_scope

    start_at, end_at = parse_instant(start, "--start"), parse_instant(end, "--end")
    engine = open_engine(settings())
    try:
        with session_scope(engine) as session:
            shift = add_shift(session, start_at=start_at, end_at=end_at, on_duty=on_duty, leader=leader, unit=unit,
                              note=note, now=parse_now(None), actor="cli")
            typer.echo(f"班次 #{shift.id}: {iso_local(shift.start_at)} — {iso_local(shift.end_at)}  "
                       f"{'、'.join(shift.on_duty)}  带班 {shift.leader or '—'}")
    except DutyError as exc:
        fail(str(exc))


@duty_app.command("add-person")
def add_person_cmd(
    name: str = typer.Argument(..., help="姓名"),
    role: str | None = typer.Option(None, "--role", help="角色，如 值班人员 / 带班领导 / 分管领导 / 管理员"),
    unit: str | None = typer.Option(None, "--unit", help="单位"),
    url: Annotated[list[str] | None, typer.Option("--url", help="apprise 通知地址 (可重复; 给出则替换原有地址)")] = None,
) -> None:
    """添加或修改人员及其通知地址。Add or update a person and their apprise URLs."""
    from ledger.alerts.duty import DutyError, upsert_person
    from ledger.db import session_scope

    engine = open_engine(settings())
    try:
        with session_scope(engine) as session:
            person = upsert_person(session, name=name, role=role, unit=unit, urls=url or None, now=parse_now(None),
                                   actor="cli")
            typer.echo(f"人员 #{person.id} {person.name} ({person.role or '—'}, {person.unit or '—'})，"
                       f"通知地址 {len(person.urls or [])} 个")
    except DutyError as exc:
        fail(str(exc))


@duty_app.command("now")
def now_cmd(
    now: str | None = typer.Option(None, "--now", help="查询时刻 ISO 8601 (default: now)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """当前值班人员与带班领导。Who is on duty (and the duty leader) at --now."""
    from ledger.alerts.duty import on_duty_at
    from ledger.db import session_scope

    at = parse_now(now)
    engine = open_engine(settings())
    with session_scope(engine) as session:
        result = on_duty_at(session, at=at).as_dict()
    if as_json:
        print_json(result)
        return
    if not result["shifts"]:
        fail(f"{iso_local(at)} 无人值班 (no shift covers this time)")
    typer.echo(f"值班人员: {'、'.join(result['on_duty'])}")
    typer.echo(f"带班领导: {'、'.join(result['leaders']) or '—'}")


@duty_app.command("list")
def list_cmd(
    start: str | None = typer.Option(None, "--from", help="起 ISO 8601"),
    end: str | None = typer.Option(None, "--to", help="止 ISO 8601"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """列出班次。List shifts."""
    from ledger.alerts.duty import list_shifts, shift_to_dict
    from ledger.db import session_scope

    engine = open_engine(settings())
    with session_scope(engine) as session:
        rows = [shift_to_dict(s) for s in list_shifts(
            session, start=parse_instant(start, "--from") if start else None,
            end=parse_instant(end, "--to") if end else None)]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"#{r['id']} {iso_local(r['start_at'])} — {iso_local(r['end_at'])}  {'、'.join(r['on_duty'])}  "
                   f"带班 {r['leader'] or '—'}")
