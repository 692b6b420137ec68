"""CLI area 'messages': citizens' messages (留言) with their reply clocks; record replies."""

from __future__ import annotations

import typer

from config.cli.common import (
    fail,
    in_transaction,
    iso_local,
    open_engine,
    parse_instant,
    parse_now,
    print_json,
    settings,
)

messages_app = typer.Typer(help="留言办理: 列出留言及答复时限, 登记答复 (citizens' messages).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(messages_app, name="messages")


@messages_app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="JSON 输出 (一行一个数组)"),
    overdue: bool = typer.Option(False, "--overdue", help="只列超期 (未答复已过期限, 或超期答复)"),
    limit: int | None = typer.Option(None, "--limit", help="最多列出条数"),
    unit: str | None = typer.Option(None, "--unit", help="只列某承办单位"),
    now: str | None = typer.Option(None, "--now", help="按此时刻判断状态 (ISO 8601)"),
) -> None:
    """列出留言: 编号、收到时间、答复期限、答复时间、是否按时、超期工作日数 (标题中的个人号码已遮蔽)。"""
    from ledger.db import session_scope
    from ledger.messages.service import MessageError, list_messages, message_row

    if limit is not None and limit < 0:
        fail(f"--limit 不能为负数: {limit}", code=2)
    from config.clockconfig import load_calendar, load_clock_rules

    at = parse_now(now)
    cfg = settings()
    try:
        calendar, rules = load_calendar(cfg), load_clock_rules(cfg)
    except ValueError as exc:
        fail(f"配置错误: {exc}")
    engine = open_engine(cfg)
    try:
        with session_scope(engine) as session:
            rows = [message_row(m, at, calendar=calendar, rules=rules) for m in list_messages(
                session, now=at, overdue_first=overdue, overdue_only=overdue, unit=unit, limit=limit)]
    except MessageError as exc:
        fail(str(exc), code=2)
    finally:
        engine.dispose()
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("没有留言")
        return
    for r in rows:
        late = "" if not r["late_working_days"] else (
            f" 至今超期{r['late_working_days']}个工作日" if r["overdue_running"] else f" 超期{r['late_working_days']}个工作日")
        prov = " (暂定)" if r["due_provisional"] else ""
        typer.echo(
            f"{r['id']:>6}  {r['external_id']:<12} 收到 {iso_local(r['received_at'])}  "
            f"期限 {iso_local(r['due_at']) or '-'}{prov}  {r['status']}{late}  {r['title'] or ''}"
        )


@messages_app.command("reply")
def reply_cmd(
    message_id: str = typer.Argument(..., help="留言 id (messages list 中的 id), 或留言编号 external_id"),
    text: str = typer.Option(..., "--text", help="答复内容"),
    at: str | None = typer.Option(None, "--at", help="答复时间 ISO 8601 (默认当前时间)"),
    replace: bool = typer.Option(False, "--replace", help="更正已登记的答复 (原答复保留在审计日志)"),
    actor: str = typer.Option("cli", "--actor", help="登记人"),
) -> None:
    """登记留言答复 (内容与时间), 停止答复计时并判断是否按时。"""
    from sqlmodel import select

    from config.clockconfig import load_calendar, load_clock_rules
    from ledger.db import session_scope
    from ledger.messages.service import MessageError, record_reply
    from ledger.models.core import Message
    from ledger.types import utcnow

    now = utcnow()
    replied_at = parse_instant(at, "--at") if at is not None else now
    cfg = settings()
    try:
        calendar, rules = load_calendar(cfg), load_clock_rules(cfg)
    except ValueError as exc:
        fail(f"配置错误: {exc}")
    engine = open_engine(cfg)
    try:
        with session_scope(engine) as session:
            target = session.get(Message, int(message_id)) if message_id.isdigit() else None
            if target is None:
                found = list(session.exec(select(Message).where(Message.external_id == message_id)))
                if len(found) > 1:
                    fail(f"留言编号 {message_id} 对应多条留言, 请使用 id: {[m.id for m in found]}", code=2)
                if not found:
                    fail(f"留言不存在: {message_id}", code=2)
                target = found[0]
            msg = record_reply(session, message_id=target.id, text=text, replied_at=replied_at, actor=actor,
                               now=now, calendar=calendar, rules=rules, replace=replace)
            late, on_time, due = msg.late_working_days, msg.on_time, msg.due_at
    except MessageError as exc:
        fail(str(exc), code=2)
    finally:
        engine.dispose()
    verdict = "按时答复" if on_time else (f"超期答复 {late} 个工作日" if on_time is False else "无答复时限")
    typer.echo(f"已登记答复: 留言 {target.id} ({target.external_id}), 期限 {iso_local(due)}, {verdict}")


def _entry(work):
    """Run ``work(session, channels, calendar, rules, now)`` in one transaction; refusals and bad
    configuration become clear CLI errors."""
    from config.clockconfig import load_calendar, load_clock_rules
    from config.messageconfig import load_channels
    from ledger.messages.service import MessageError

    def load(cfg):
        return load_channels(cfg), load_calendar(cfg), load_clock_rules(cfg)

    return in_transaction(load, lambda session, env, now: work(session, *env, now), (MessageError,))


@messages_app.command("add")
def add_cmd(
    channel: str = typer.Option(..., "--channel", help="渠道 (messages.toml): 12345热线 / 政府信息公开咨询电话 / 领导信箱 / …"),
    title: str = typer.Option(..., "--title", help="留言主题"),
    text: str = typer.Option(..., "--text", help="留言内容"),
    received_at: str = typer.Option(..., "--received-at", help="收到时间 ISO 8601 (无时区按北京时间)"),
    simple: bool = typer.Option(False, "--simple", help="简单问题: 3个工作日内答复 (否则5个工作日)"),
    author: str | None = typer.Option(None, "--author", help="留言人"),
    unit: str | None = typer.Option(None, "--unit", help="承办单位"),
    as_json: bool = typer.Option(False, "--json", help="JSON 输出 (id、编号、答复期限)"),
    actor: str = typer.Option("cli", "--actor", help="登记人"),
) -> None:
    """登记一条留言 (任一配置的渠道); 打印其 id, 答复期限按收到时间计算 (收到当日不计)。"""
    from ledger.messages.entry import add_message

    when = parse_instant(received_at, "--received-at")

    def work(session, channels, calendar, rules, now):
        try:
            name = channels.canonical(channel)
        except ValueError as exc:
            fail(str(exc), code=2)
        m = add_message(session, channel=name, title=title, text=text, received_at=when, now=now, actor=actor,
                        calendar=calendar, rules=rules, source_name=channels.manual_source, simple=simple,
                        author=author, unit=unit)
        return {"id": m.id, "external_id": m.external_id, "channel": m.channel, "simple": m.simple,
                "due_at": m.due_at, "due_provisional": m.due_provisional}

    row = _entry(work)
    if as_json:
        print_json(row)
        return
    typer.echo(row["id"])
    prov = "（暂定）" if row["due_provisional"] else ""
    typer.echo(f"已登记留言 {row['external_id']} ({row['channel']}), 答复期限 {iso_local(row['due_at']) or '无'}{prov}",
               err=True)


@messages_app.command("mark")
def mark_cmd(
    message_id: int = typer.Argument(..., help="留言 id"),
    simple: bool = typer.Option(..., "--simple/--not-simple", help="标记为简单问题 (3个工作日) 或取消"),
    reason: str | None = typer.Option(None, "--reason", help="说明 (记入审计)"),
    actor: str = typer.Option("cli", "--actor", help="操作人"),
) -> None:
    """标记 (或取消) 简单问题; 答复期限随之重算。"""
    from ledger.messages.entry import mark_simple

    due = _entry(lambda session, channels, calendar, rules, now: mark_simple(
        session, message_id=message_id, simple=simple, now=now, actor=actor, calendar=calendar, rules=rules,
        reason=reason).due_at)
    typer.echo(f"留言 {message_id}: {'简单问题' if simple else '一般问题'}, 答复期限 {iso_local(due) or '无'}")


@messages_app.command("assign")
def assign_cmd(
    message_id: int = typer.Argument(..., help="留言 id"),
    unit: str = typer.Option(..., "--unit", help="承办单位"),
    actor: str = typer.Option("cli", "--actor", help="操作人"),
) -> None:
    """指定 (或改变) 留言的承办单位 (记入审计)。"""
    from ledger.messages.entry import assign_unit

    _entry(lambda session, channels, calendar, rules, now: assign_unit(
        session, message_id=message_id, unit=unit, now=now, actor=actor, calendar=calendar, rules=rules))
    typer.echo(f"留言 {message_id}: 承办单位 {unit}")


@messages_app.command("suggest")
def suggest_cmd(
    text: str = typer.Option(..., "--text", help="新留言内容 (标题和/或正文)"),
    top: int = typer.Option(3, "--top", help="返回条数 (1-50)"),
    as_json: bool = typer.Option(False, "--json", help="JSON 数组输出"),
) -> None:
    """答复参考: 找出与新留言最相似的已答复留言, 附其答复、承办单位与相似度 (个人号码已遮蔽)。"""
    from ledger.db import session_scope
    from ledger.messages.suggest import SuggestError, suggest

    if top < 1 or top > 50:
        fail(f"--top 须在 1 到 50 之间: {top}", code=2)
    engine = open_engine()
    try:
        with session_scope(engine) as session:
            rows = suggest(session, text=text, top=top)
    except SuggestError as exc:
        fail(str(exc), code=2)
    finally:
        engine.dispose()
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("没有相似的已答复留言")
        return
    for n, r in enumerate(rows, 1):
        unit = r["unit"] or "-"
        if r["unit_from"] == "reply_text":
            unit += " (据答复推断)"
        typer.echo(f"{n}. 相似度 {r['similarity']:.3f}  留言 {r['message_id']} ({r['external_id']})  单位 {unit}")
        typer.echo(f"   留言: {(r['title'] or '')} {r['text'][:80]}")
        typer.echo(f"   答复: {r['reply'][:200]}")
