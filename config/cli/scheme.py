"""CLI area 'scheme': monitoring schemes (监测方案) — add, list, hits, disable / enable."""

from __future__ import annotations

import typer

from config.cli.common import fail, iso_local, open_engine, parse_instant, print_json

scheme_app = typer.Typer(help="监测方案: 地域词 + 事件词 - 排除词, 新帖命中即预警 (monitoring schemes).",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(scheme_app, name="scheme")


def _row(r) -> dict:
    from ledger.posts.schemes import SchemeSpec

    return {"id": r.id, "name": r.name, "all": list(r.all_terms or []), "any": list(r.any_terms or []),
            "none": list(r.none_terms or []), "unit": r.unit, "grade": r.grade, "enabled": r.enabled,
            "expression": SchemeSpec.of(r).expression(), "hit_total": r.hit_total,
            "last_hit_at": iso_local(r.last_hit_at), "created_at": iso_local(r.created_at)}


@scheme_app.command("add")
def add_cmd(
    name: str = typer.Option(..., "--name", help="方案名称 (唯一)"),
    all_terms: str | None = typer.Option(None, "--all", help="必含词, 逗号分隔, 须全部出现"),
    any_terms: str | None = typer.Option(None, "--any", help="任含词, 逗号分隔, 至少出现一个"),
    none_terms: str | None = typer.Option(None, "--none", help="排除词, 逗号分隔, 出现任一即不算命中"),
    unit: str | None = typer.Option(None, "--unit", help="接收预警的责任单位"),
    grade: str | None = typer.Option(None, "--grade", help="预警等级: 一般 / 较大 / 重大 / 特别重大"),
    actor: str = typer.Option("cli", "--actor", help="操作人"),
) -> None:
    """新增监测方案并输出其 id; 之后每条新帖都按方案检查, 命中即按升级链预警 (每方案每时段一条)。"""
    from ledger.db import session_scope
    from ledger.posts.schemes import SchemeError, SchemeSpec, add_scheme
    from ledger.types import utcnow

    try:
        spec = SchemeSpec.build(name=name, all_terms=all_terms, any_terms=any_terms, none_terms=none_terms,
                                unit=unit, grade=grade)
    except SchemeError as exc:
        fail(str(exc), code=2)
    engine = open_engine()
    try:
        with session_scope(engine) as session:
            row = add_scheme(session, spec=spec, actor=actor, now=utcnow())
            scheme_id = row.id
    except SchemeError as exc:
        fail(str(exc), code=2)
    finally:
        engine.dispose()
    typer.echo(str(scheme_id))


@scheme_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="JSON 数组输出")) -> None:
    """列出监测方案: id、名称、表达式、责任单位、等级、是否启用、入库以来命中数。"""
    from ledger.db import session_scope
    from ledger.posts.schemes import list_schemes

    engine = open_engine()
    try:
        with session_scope(engine) as session:
            rows = [_row(r) for r in list_schemes(session)]
    finally:
        engine.dispose()
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("没有监测方案")
        return
    for r in rows:
        state = "启用" if r["enabled"] else "停用"
        typer.echo(f"{r['id']:>4}  {r['name']}  [{state}]  {r['expression']}  单位 {r['unit'] or '-'}  "
                   f"等级 {r['grade'] or '-'}  新帖命中 {r['hit_total']}")


@scheme_app.command("hits")
def hits_cmd(
    scheme_id: int = typer.Argument(..., help="方案 id"),
    since: str | None = typer.Option(None, "--since", help="只看此时刻之后的帖文 (ISO 8601, 不带时区按北京时间)"),
    limit: int = typer.Option(50, "--limit", help="最多列出条数"),
    count: bool = typer.Option(False, "--count", help="只输出命中条数"),
    as_json: bool = typer.Option(False, "--json", help="JSON 数组输出"),
) -> None:
    """列出方案在已入库帖文中的命中 (最新的在前; 个人号码已脱敏)。"""
    from ledger.db import session_scope
    from ledger.posts.queries import post_view
    from ledger.posts.schemes import SchemeError, SchemeSpec, get_scheme, scheme_hits
    from ledger.posts.search import SearchError

    if limit < 1 or limit > 100000:
        fail("--limit 须在 1 到 100000 之间", code=2)
    start = parse_instant(since, "--since") if since else None
    engine = open_engine()
    try:
        with session_scope(engine) as session:
            spec = SchemeSpec.of(get_scheme(session, scheme_id))
            total, posts = scheme_hits(session, spec=spec, since=start, limit=limit)
            rows = [post_view(p) for p in posts]
    except (SchemeError, SearchError) as exc:
        fail(str(exc), code=2)
    finally:
        engine.dispose()
    if count:
        typer.echo(str(total))
        return
    if as_json:
        print_json(rows)
        return
    typer.echo(f"方案「{spec.name}」命中 {total} 条" + (f", 显示最新 {len(rows)} 条" if total > len(rows) else ""))
    for r in rows:
        when = iso_local(r["published_at"] or r["fetched_at"]) or "-"
        typer.echo(f"[{r['id']}] {when[:16]} {(r['title'] or r['text'])[:60]}")


def _set_enabled(scheme_id: int, enabled: bool, actor: str) -> None:
    from ledger.db import session_scope
    from ledger.posts.schemes import SchemeError, set_enabled
    from ledger.types import utcnow

    engine = open_engine()
    try:
        with session_scope(engine) as session:
            row = set_enabled(session, scheme_id=scheme_id, enabled=enabled, actor=actor, now=utcnow())
            name = row.name
    except SchemeError as exc:
        fail(str(exc), code=2)
    finally:
        engine.dispose()
    typer.echo(f"已{'启用' if enabled else '停用'}监测方案 {scheme_id}「{name}」")


@scheme_app.command("disable")
def disable_cmd(scheme_id: int = typer.Argument(..., help="方案 id"),
                actor: str = typer.Option("cli", "--actor", help="操作人")) -> None:
    """停用监测方案 (不再检查新帖, 已有预警不受影响)。"""
    _set_enabled(scheme_id, False, actor)


@scheme_app.command("enable")
def enable_cmd(scheme_id: int = typer.Argument(..., help="方案 id"),
               actor: str = typer.Option("cli", "--actor", help="操作人")) -> None:
    """重新启用监测方案。"""
    _set_enabled(scheme_id, True, actor)
