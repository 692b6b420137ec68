"""CLI area 'policy': the policy interpretation register (政策解读) — register a published
document, record its interpretation materials or a 退文, list and show documents with their
interpretation clocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer

from config.cli.common import (
    fail,
    in_transaction,
    iso_local,
    parse_instant,
    print_json,
)

T = TypeVar("T")

policy_app = typer.Typer(help="政策解读: 政策文件登记、解读材料登记、退文; 解读时限 (3个工作日)。",
                         no_args_is_help=True)
ACTOR = typer.Option("cli", "--actor", help="操作人 (记入审计日志)")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(policy_app, name="policy")


def _run(work: Callable[[Any, Any, Any], T]) -> T:
    """Run ``work(session, env, now)`` in one transaction; refusals become clear CLI errors."""
    import config.alerting  # noqa: F401  (registers the alert context used by ledger.alerts.notify)
    from config.policyconfig import load_policy_env
    from ledger.clocks.service import ClockError
    from ledger.policies import PolicyError

    return in_transaction(load_policy_env, work, (PolicyError, ClockError))


@policy_app.command("add")
def add_cmd(
    title: str = typer.Option(..., "--title", help="文件标题"),
    unit: str = typer.Option(..., "--unit", help="发文 (起草) 单位, 负责解读"),
    published_at: str = typer.Option(..., "--published-at", help="文件发布时间 ISO 8601 (无时区按北京时间)"),
    kind: str | None = typer.Option(None, "--kind", help="文件类型: 规范性文件 / 规章 / 政策措施 / … (policies.toml)"),
    doc_number: str | None = typer.Option(None, "--doc-number", help="文号"),
    url: str | None = typer.Option(None, "--url", help="文件网址"),
    actor: str = ACTOR,
) -> None:
    """登记已发布的政策文件; 打印其 id, 并启动解读时限 (发布后第3个工作日结束前)。"""
    from ledger.policies import add_policy

    at = parse_instant(published_at, "--published-at")
    pid, due = _run(lambda session, env, now: _added(add_policy(
        session, title=title, unit=unit, published_at=at, now=now, actor=actor, env=env, kind=kind,
        doc_number=doc_number, url=url), session))
    typer.echo(pid)
    if due:
        typer.echo(f"解读材料应于 {iso_local(due['due_at'])} 前发布" + ("（暂定）" if due["provisional"] else ""),
                   err=True)


def _added(doc: Any, session: Any) -> tuple[int, dict[str, Any] | None]:
    from ledger.clocks.service import clock_to_dict, clocks_for

    clocks = clocks_for(session, subject="policy", subject_id=doc.id)
    return doc.id, (clock_to_dict(clocks[0]) if clocks else None)


@policy_app.command("interpret")
def interpret_cmd(
    policy_id: str = typer.Argument(..., help="政策文件 id"),
    title: str = typer.Option(..., "--title", help="解读材料标题"),
    url: str | None = typer.Option(None, "--url", help="解读材料网址"),
    form: str = typer.Option("文字", "--form", help="解读形式: 文字 / 图解 / 视频 / 发布会 / … (policies.toml)"),
    at: str | None = typer.Option(None, "--at", help="解读发布时间 ISO 8601 (默认当前时间)"),
    actor: str = ACTOR,
) -> None:
    """登记解读材料; 第一份解读材料停止解读时限 (逾期则记为超时完成)。打印解读材料 id。"""
    from ledger.policies import interpret_policy

    when = parse_instant(at, "--at") if at is not None else None
    iid = _run(lambda session, env, now: interpret_policy(
        session, policy_id=policy_id, title=title, form=form, published_at=when or now, now=now, actor=actor,
        env=env, url=url).id)
    typer.echo(iid)


@policy_app.command("return")
def return_cmd(
    policy_id: str = typer.Argument(..., help="政策文件 id"),
    reason: str = typer.Option(..., "--reason", help="退文理由 (如 未同步报送解读材料)"),
    at: str | None = typer.Option(None, "--at", help="退文时间 ISO 8601 (默认当前时间)"),
    actor: str = ACTOR,
) -> None:
    """登记退文 (未同步报送解读材料的文件退回起草单位); 解读时限随之取消。"""
    from ledger.policies import return_policy

    when = parse_instant(at, "--at") if at is not None else None
    _run(lambda session, env, now: return_policy(session, policy_id=policy_id, reason=reason, now=now,
                                                 actor=actor, env=env, at=when))
    typer.echo(f"政策文件 {policy_id} 已退文")


@policy_app.command("list")
def list_cmd(
    unit: str | None = typer.Option(None, "--unit", help="只列此单位的文件"),
    status: str | None = typer.Option(None, "--status", help="只列此状态: 待解读 / 已解读 / 退文"),
    limit: int | None = typer.Option(None, "--limit", help="最多列出条数"),
    as_json: bool = typer.Option(False, "--json", help="JSON 输出"),
) -> None:
    """列出政策文件及解读时限 (发布时间从新到旧)。"""
    from ledger.policies import list_policies

    if limit is not None and limit < 0:
        fail(f"--limit 不能为负数: {limit}", code=2)
    if status is not None and status not in ("待解读", "已解读", "退文"):
        fail(f"未知状态 {status!r}; 可选: 待解读、已解读、退文", code=2)
    rows = _run(lambda session, env, now: list_policies(session, unit=unit, status=status, limit=limit))
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("没有政策文件")
    for r in rows:
        clock = r["clocks"][0] if r["clocks"] else None
        due = (f"解读期限 {iso_local(clock['due_at'])}{'（暂定）' if clock['provisional'] else ''} "
               f"{clock['status_label']}") if clock else "无解读时限"
        typer.echo(f"{r['id']:>6}  [{r['status']}] {r['kind']}  {r['unit']}  发布 {iso_local(r['published_at'])}  "
                   f"{due}  解读 {len(r['interpretations'])} 份  {r['title']}")


@policy_app.command("show")
def show_cmd(
    policy_id: str = typer.Argument(..., help="政策文件 id"),
    as_json: bool = typer.Option(False, "--json", help="JSON 输出 (字段、interpretations、clocks、timeline)"),
) -> None:
    """显示政策文件: 字段、解读材料、解读时限 (规则、期限、状态) 与审计记录。"""
    from ledger.policies import policy_detail

    d = _run(lambda session, env, now: policy_detail(session, policy_id=policy_id))
    if as_json:
        print_json(d)
        return
    out = typer.echo
    out(f"{d['id']}  {d['title']}  [{d['status']}]  {d['kind']}  {d['doc_number'] or ''}")
    out(f"  发文单位 {d['unit']}  发布 {iso_local(d['published_at'])}  {d['url'] or ''}")
    if d["return_reason"]:
        out(f"  退文 {iso_local(d['returned_at'])}: {d['return_reason']}")
    out("时限:")
    for c in d["clocks"]:
        prov = " (暂定)" if c["provisional"] else ""
        met = f" 完成于 {iso_local(c['met_at'])}" if c["met_at"] else ""
        out(f"  {c['name']:<20} 期限 {iso_local(c['due_at'])}{prov}  {c['status_label']}{met}")
    for i in d["interpretations"]:
        out(f"解读 {i['id']} [{i['form']}] {i['title']}  {iso_local(i['published_at'])}  {i['url'] or ''}")
    out(f"审计记录 {len(d['timeline'])} 条")
