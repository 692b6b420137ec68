"""CLI area 'case': the response ledger (台账) — open, grade, assign and move cases, record
releases with their reviews, briefings, commitments, referrals and the leadership report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import typer

from config.cli.common import (
    echo_err,
    fail,
    in_transaction,
    iso_local,
    parse_instant,
    print_json,
    settings,
)

T = TypeVar("T")

case_app = typer.Typer(help="舆情台账: 案件立案、分级、交办、处置、回应、办结 (response ledger cases).",
                       no_args_is_help=True)
release_app = typer.Typer(help="权威信息发布稿: 起草、三审及保密审查、发布。", no_args_is_help=True)
briefing_app = typer.Typer(help="新闻发布会登记。", no_args_is_help=True)
commitment_app = typer.Typer(help="承诺登记与落实情况。", no_args_is_help=True)
referral_app = typer.Typer(help="涉嫌违法线索移交登记。", no_args_is_help=True)
case_app.add_typer(release_app, name="release")
case_app.add_typer(briefing_app, name="briefing")
case_app.add_typer(commitment_app, name="commitment")
case_app.add_typer(referral_app, name="referral")

ACTOR = typer.Option("cli", "--actor", help="操作人 (记入审计日志)")
CO_UNITS = typer.Option([], "--co-unit", help="配合单位 (可重复; 修改时给出即替换原列表)")
POSTS = typer.Option([], "--post", help="关联帖文 id (可重复)")
POSTS_REQUIRED = typer.Option(..., "--post", help="帖文 id (可重复)")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(case_app, name="case")


def _run(work: Callable[[Any, Any, Any], T]) -> T:
    """Run ``work(session, env, now)`` in one transaction; refusals become clear CLI errors."""
    import config.alerting  # noqa: F401  (registers the alert context used by ledger.alerts.notify)
    from config.caseconfig import load_case_env
    from ledger.cases.workflow import CaseError
    from ledger.clocks.service import ClockError

    return in_transaction(load_case_env, work, (CaseError, ClockError))


def _unit_notices(session: Any, names: list[str | None]) -> list[str]:
    """A notice for each unit name that neither the configuration (``known_units``) nor the
    ledger knows, with the closest known names: one unit spelt several ways splits its cases,
    statistics and on-time rates. Nothing is refused; the name is stored as given."""
    import difflib

    from config.wiring import known_units
    from ledger.reports.dashboard import units_in_use

    given = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if not given:
        return []
    try:
        configured = known_units(settings())
    except ValueError:  # a broken units.toml / rules.toml: reported by the commands that need them
        configured = []
    pool = list(dict.fromkeys([*configured, *units_in_use(session)]))
    out = []
    for name in given:
        if name in pool:
            continue
        close = difflib.get_close_matches(name, pool, n=3, cutoff=0.5)
        out.append(f"注意: 单位「{name}」不在单位清单和已有记录中"
                   + (f", 是否应为: {'、'.join(close)}" if close else " (按新单位记录)"))
    return out


def _when(value: str | None, option: str, default: Any) -> Any:
    return parse_instant(value, option) if value is not None else default


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option}: 无法解析的日期 (应为 YYYY-MM-DD): {value!r}", code=2)


# ---------------------------------------------------------------------------- cases
@case_app.command("open")
def open_cmd(
    title: str = typer.Option(..., "--title", help="案件标题"),
    grade: str = typer.Option(..., "--grade", help="事件分级: 一般 / 较大 / 重大 / 特别重大"),
    discovered_at: str = typer.Option(..., "--discovered-at", help="舆情发现时间 ISO 8601 (无时区按北京时间)"),
    occurred_at: str | None = typer.Option(None, "--occurred-at", help="事件发生时间 ISO 8601"),
    category: str | None = typer.Option(None, "--category", help="监测类别"),
    topic: str | None = typer.Option(None, "--topic", help="重点领域 (如 食品药品安全)"),
    unit: str | None = typer.Option(None, "--unit", help="责任单位"),
    lead_unit: str | None = typer.Option(None, "--lead-unit", help="牵头单位"),
    co_unit: list[str] = CO_UNITS,
    jurisdiction: str | None = typer.Option(None, "--jurisdiction", help="属地"),
    disposal_type: str | None = typer.Option(None, "--disposal-type", help="处置类型 (六类之一)"),
    event: int | None = typer.Option(None, "--event", help="关联事件 id"),
    post: list[int] = POSTS,
    summary: str | None = typer.Option(None, "--summary", help="案情摘要"),
    illegal: bool = typer.Option(False, "--illegal", help="标记涉嫌违法 (办结前须登记线索移交)"),
    as_json: bool = typer.Option(False, "--json", help="JSON 输出 (id 与案件编号)"),
    actor: str = ACTOR,
) -> None:
    """立案: 打印新案件的 id, 并按分级启动时限 (重大/特别重大: 3小时/5小时发布、24小时发布会、第一时间报告)。"""
    from ledger.cases.workflow import open_case

    disc = parse_instant(discovered_at, "--discovered-at")
    occ = _when(occurred_at, "--occurred-at", None)

    def work(session, env, now):
        notices = _unit_notices(session, [unit, lead_unit, *co_unit])
        case = open_case(
            session, title=title, grade=grade, discovered_at=disc, occurred_at=occ, now=now, actor=actor,
            env=env, summary=summary, category=category, topic=topic, disposal_type=disposal_type,
            jurisdiction=jurisdiction, responsible_unit=unit, lead_unit=lead_unit, co_units=co_unit,
            event_id=event, post_ids=post, suspected_illegal=illegal,
        )
        return case.id, case.number, notices

    case_id, number, notices = _run(work)
    if as_json:
        print_json({"id": case_id, "number": number})
    else:
        typer.echo(case_id)
        echo_err(f"已立案: {number} (id {case_id})")
    for notice in notices:
        echo_err(notice)


@case_app.command("show")
def show_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号 (如 2026-0001)"),
    as_json: bool = typer.Option(False, "--json", help="JSON 输出"),
) -> None:
    """显示案件: 字段、时限 (规则、期限、状态)、发布稿及审核、发布会、承诺、移交、审计记录。"""
    from ledger.cases.views import case_detail

    data = _masked(_run(lambda session, env, now: case_detail(session, case_id=case_ref, policy=env.policy,
                                                              now=now)))
    if as_json:
        print_json(data)
        return
    _print_detail(data)


def _masked(value: Any) -> Any:
    """Personal numbers (phone, ID, bank card, e-mail) masked in every text of a case view, as in
    every other view of the ledger; times, ids and numbers are left as they are."""
    from datetime import datetime

    from analysis.pii import mask

    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: v if isinstance(v, datetime) or k in _UNMASKED else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


#: keys whose values are identifiers or machine fields, never personal text
_UNMASKED = frozenset({"number", "url", "entity_id", "rule", "id"})


@case_app.command("brief")
def brief_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号 (如 2026-0001)"),
    out: Path = typer.Option(Path("."), "--out", help="输出目录"),
    now: str | None = typer.Option(None, "--now", help="生成时刻 ISO 8601 (默认当前时间)"),
) -> None:
    """生成案件的舆情快报 (docx): 基本情况、传播态势、网民观点、情感、研判、处置进展、下一步建议。"""
    from config.briefs import write_case_brief
    from config.cli.common import write_brief

    write_brief(write_case_brief, out, now, case_ref=case_ref)


def _print_detail(d: dict[str, Any]) -> None:
    out = typer.echo
    out(f"{d['number']}  {d['title']}  [{d['status']}]  分级 {d['grade']}")
    out(f"  发现 {iso_local(d['discovered_at'])}  发生 {iso_local(d['occurred_at']) or '-'}")
    out(f"  类别 {d['category'] or '-'}  领域 {d['topic'] or '-'}  处置类型 {d['disposal_type'] or '-'}"
        + (f" (须公开: {d['must_publish']})" if d["must_publish"] else ""))
    co = "、".join(d["co_units"]) or "-"
    out(f"  属地 {d['jurisdiction'] or '-'}  责任单位 {d['responsible_unit'] or '-'}  "
        f"牵头 {d['lead_unit'] or '-'}  配合 {co}")
    if d.get("suspected_illegal"):
        out("  已标记涉嫌违法 (办结前须登记线索移交)")
    out(f"  可转为: {'、'.join(d['allowed_next']) or '无'}")
    for p in d["close_blockers"]:
        out(f"  办结条件未满足: {p}")
    out("时限:")
    for c in d["clocks"]:
        prov = " (暂定)" if c["provisional"] else ""
        met = f" 完成于 {iso_local(c['met_at'])}" if c["met_at"] else ""
        grade = f"  适用等级 {c['grade']}" if c.get("grade") else ""
        out(f"  {c['rule_name']:<20} 期限 {iso_local(c['due_at'])}{prov}  {c['status_label']}"
            f" ({c['outcome_label']}){met}{grade}")
    for r in d["releases"]:
        out(f"发布稿 {r['id']} [{r['kind']}] {r['title']}  {r['status']}"
            + (f"  {iso_local(r['published_at'])} {r['channel']} {r['url'] or ''}" if r["published_at"] else ""))
        for v in r["reviews"]:
            out(f"    {v['step']} {v['decision']}  {v['reviewer']} {iso_local(v['reviewed_at'])} {v['comment'] or ''}")
    for b in d["briefings"]:
        out(f"发布会 {iso_local(b['held_at'])} {b['place']} 发言人 {b['spokesperson']}")
    for c in d["commitments"]:
        out(f"承诺 {c['id']} [{c['status']}] {c['text']}  {c['owner_unit']} 期限 {c['due_date']}")
    for r in d["referrals"]:
        out(f"移交 {r['target']} {iso_local(r['referred_at'])} {r['reference'] or ''}")
    out(f"审计记录 {len(d['timeline'])} 条")


@case_app.command("list")
def list_cmd(
    status: str | None = typer.Option(None, "--status", help="只列此状态"),
    grade: str | None = typer.Option(None, "--grade", help="只列此分级"),
    unit: str | None = typer.Option(None, "--unit", help="只列此责任/牵头单位"),
    limit: int | None = typer.Option(None, "--limit", help="最多列出条数"),
    as_json: bool = typer.Option(False, "--json", help="JSON 输出"),
) -> None:
    """列出案件 (发现时间从新到旧)。"""
    from ledger.cases.views import list_cases
    from ledger.cases.workflow import case_state

    if limit is not None and limit < 0:
        fail(f"--limit 不能为负数: {limit}", code=2)
    def work(session, env, now):
        if status and status not in env.policy.statuses:
            fail(f"未知状态 {status!r}; 可选: {'、'.join(env.policy.statuses)}", code=2)
        if grade and grade not in env.policy.grades:
            fail(f"未知的事件分级 {grade!r}; 可选: {'、'.join(env.policy.grades)}", code=2)
        return [case_state(c) for c in list_cases(session, status=status, grade=grade, unit=unit, limit=limit)]

    rows = _masked(_run(work))
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("没有案件")
    for r in rows:
        typer.echo(f"{r['id']:>6}  {r['number']}  [{r['status']}] {r['grade']}  {iso_local(r['discovered_at'])}  "
                   f"{r['responsible_unit'] or '-'}  {r['title']}")


@case_app.command("grade")
def grade_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号"),
    grade: str = typer.Option(..., "--grade", help="新的分级"),
    reason: str | None = typer.Option(None, "--reason", help="调整理由"),
    actor: str = ACTOR,
) -> None:
    """调整分级; 升为重大/特别重大时各时限自发现时间起算 (可能已超期)。"""
    from ledger.cases.workflow import regrade_case

    number = _run(lambda session, env, now: regrade_case(
        session, case_id=case_ref, grade=grade, now=now, actor=actor, env=env, reason=reason).number)
    typer.echo(f"已调整分级: {number} → {grade}")


@case_app.command("status")
def status_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号"),
    to: str = typer.Option(..., "--to", help="目标状态: 研判 / 交办 / 处置 / 已回应 / 办结 / 归档"),
    note: str | None = typer.Option(None, "--note", help="说明"),
    actor: str = ACTOR,
) -> None:
    """变更案件状态 (只允许规定的流转; 办结须已公开处置类型要求的内容)。"""
    from ledger.cases.workflow import change_status

    number = _run(lambda session, env, now: change_status(
        session, case_id=case_ref, to=to, now=now, actor=actor, env=env, note=note).number)
    typer.echo(f"{number} 已转为“{to}”")


@case_app.command("edit")
def edit_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号"),
    title: str | None = typer.Option(None, "--title"),
    summary: str | None = typer.Option(None, "--summary"),
    category: str | None = typer.Option(None, "--category"),
    topic: str | None = typer.Option(None, "--topic"),
    disposal_type: str | None = typer.Option(None, "--disposal-type"),
    jurisdiction: str | None = typer.Option(None, "--jurisdiction"),
    unit: str | None = typer.Option(None, "--unit", help="责任单位"),
    lead_unit: str | None = typer.Option(None, "--lead-unit", help="牵头单位"),
    co_unit: list[str] = CO_UNITS,
    occurred_at: str | None = typer.Option(None, "--occurred-at"),
    event: int | None = typer.Option(None, "--event"),
    illegal: bool | None = typer.Option(None, "--illegal/--not-illegal",
                                        help="标记 / 取消标记涉嫌违法 (标记后办结前须登记线索移交)"),
    actor: str = ACTOR,
) -> None:
    """修改案件信息、处置类型与回应主体 (责任单位、牵头单位、配合单位)。"""
    from ledger.cases.workflow import update_case

    changes: dict[str, Any] = {k: v for k, v in {
        "title": title, "summary": summary, "category": category, "topic": topic,
        "disposal_type": disposal_type, "jurisdiction": jurisdiction, "responsible_unit": unit,
        "lead_unit": lead_unit, "event_id": event,
    }.items() if v is not None}
    if co_unit:
        changes["co_units"] = co_unit
    if illegal is not None:
        changes["suspected_illegal"] = illegal
    if occurred_at is not None:
        changes["occurred_at"] = parse_instant(occurred_at, "--occurred-at")
    def work(session, env, now):
        notices = _unit_notices(session, [unit, lead_unit, *co_unit])
        return update_case(session, case_id=case_ref, now=now, actor=actor, env=env, changes=changes).number, notices

    number, notices = _run(work)
    typer.echo(f"已修改: {number}")
    for notice in notices:
        echo_err(notice)


@case_app.command("report")
def report_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号"),
    at: str | None = typer.Option(None, "--at", help="报告时间 ISO 8601 (默认当前时间)"),
    note: str | None = typer.Option(None, "--note", help="报告对象、方式等"),
    actor: str = ACTOR,
) -> None:
    """登记已向本级党委政府报告 (第一时间报告), 停止该时限。"""
    from ledger.acttime import local_text
    from ledger.cases.workflow import report_to_leadership

    def work(session, env, now):
        case = report_to_leadership(session, case_id=case_ref, reported_at=_when(at, "--at", now), now=now,
                                    actor=actor, env=env, note=note)
        return case.number, case.leadership_reported_at

    number, when = _run(work)
    typer.echo(f"已登记报告: {number} {local_text(when)}")


@case_app.command("link")
def link_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号"),
    post: list[int] = POSTS_REQUIRED,
    actor: str = ACTOR,
) -> None:
    """关联帖文。"""
    from ledger.cases.workflow import link_posts

    added = _run(lambda session, env, now: len(link_posts(
        session, case_id=case_ref, post_ids=post, now=now, actor=actor, env=env)))
    typer.echo(f"已关联 {added} 条帖文")


# ---------------------------------------------------------------------------- releases
@release_app.command("add")
def release_add_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号"),
    kind: str = typer.Option(..., "--kind", help="发布类型 (如 权威信息、研究解决情况、澄清回应)"),
    title: str = typer.Option(..., "--title", help="标题"),
    text: str = typer.Option(..., "--text", help="正文"),
    at: str | None = typer.Option(None, "--at", help="起草时间 ISO 8601 (默认当前时间; 早于登记时间即为补录)"),
    actor: str = ACTOR,
) -> None:
    """起草发布稿; 打印其 id。发布前须依次通过初审、复审、终审和保密审查 (各由不同人员, 终审由领导)。"""
    from ledger.cases.items import add_release

    drafted = _when(at, "--at", None)
    rid = _run(lambda session, env, now: add_release(
        session, case_id=case_ref, kind=kind, title=title, text=text, now=now, actor=actor, env=env,
        drafted_at=drafted).id)
    typer.echo(rid)


@release_app.command("review")
def release_review_cmd(
    release_id: int = typer.Argument(..., help="发布稿 id"),
    step: str = typer.Option(..., "--step", help="审核步骤: 初审 / 复审 / 终审 / 保密审查"),
    reviewer: str = typer.Option(..., "--reviewer", help="审核人"),
    decision: str = typer.Option("通过", "--decision", help="通过 / 驳回"),
    at: str | None = typer.Option(None, "--at", help="审核时间 ISO 8601 (默认当前时间; 早于登记时间即为补录)"),
    comment: str | None = typer.Option(None, "--comment", help="审核意见"),
    pii_ok: str | None = typer.Option(None, "--pii-ok", help="保密审查: 稿件含个人号码仍予通过的理由 (记入审计)"),
    actor: str = ACTOR,
) -> None:
    """登记一步审核 (审核人、时间、结论)。各步须由不同人员审核, 终审须由领导;
    保密审查不通过含个人号码 (手机、身份证、银行卡) 的稿件, 除非以 --pii-ok 记录理由。"""
    from ledger.cases.items import get_release, review_release

    def work(session, env, now):
        review_release(session, release_id=release_id, step=step, reviewer=reviewer, decision=decision,
                       reviewed_at=_when(at, "--at", now), now=now, actor=actor, env=env, comment=comment,
                       pii_ok_reason=pii_ok)
        return get_release(session, release_id).status

    status = _run(work)
    typer.echo(f"发布稿 {release_id}: {step} 已登记, 当前 {status}")


@release_app.command("revise")
def release_revise_cmd(
    release_id: int = typer.Argument(..., help="发布稿 id"),
    text: str = typer.Option(..., "--text", help="修改后的正文"),
    title: str | None = typer.Option(None, "--title", help="修改后的标题"),
    actor: str = ACTOR,
) -> None:
    """修改发布稿 (新版本须重新审核)。"""
    from ledger.cases.items import revise_release

    rev = _run(lambda session, env, now: revise_release(
        session, release_id=release_id, text=text, title=title, now=now, actor=actor, env=env).revision)
    typer.echo(f"发布稿 {release_id} 已修改为第 {rev} 版, 须重新审核")


@release_app.command("publish")
def release_publish_cmd(
    release_id: int = typer.Argument(..., help="发布稿 id"),
    channel: str = typer.Option(..., "--channel", help="发布渠道 (如 政府网站、政务微博)"),
    url: str | None = typer.Option(None, "--url", help="发布网址"),
    at: str | None = typer.Option(None, "--at", help="发布时间 ISO 8601 (默认当前时间; 早于登记时间即为补录)"),
    actor: str = ACTOR,
) -> None:
    """登记发布 (须已通过全部审核步骤); 停止发布权威信息时限, 持续发布时限重新起算。"""
    from ledger.acttime import local_text
    from ledger.cases.items import publish_release

    when = _run(lambda session, env, now: publish_release(
        session, release_id=release_id, published_at=_when(at, "--at", now), channel=channel, url=url,
        now=now, actor=actor, env=env).published_at)
    typer.echo(f"发布稿 {release_id} 已登记发布: {local_text(when)}")


# ---------------------------------------------------------------------------- others
@briefing_app.command("add")
def briefing_add_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号"),
    at: str = typer.Option(..., "--at", help="发布会时间 ISO 8601"),
    place: str = typer.Option(..., "--place", help="地点"),
    spokesperson: str = typer.Option(..., "--spokesperson", help="发言人"),
    note: str | None = typer.Option(None, "--note"),
    actor: str = ACTOR,
) -> None:
    """登记新闻发布会 (时间、地点、发言人), 停止24小时发布会时限。"""
    from ledger.cases.items import add_briefing

    held = parse_instant(at, "--at")
    bid = _run(lambda session, env, now: add_briefing(
        session, case_id=case_ref, held_at=held, place=place, spokesperson=spokesperson, now=now,
        actor=actor, env=env, note=note).id)
    typer.echo(bid)


@commitment_app.command("add")
def commitment_add_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号"),
    text: str = typer.Option(..., "--text", help="承诺内容"),
    owner_unit: str = typer.Option(..., "--owner-unit", help="责任单位"),
    due: str = typer.Option(..., "--due", help="承诺期限 YYYY-MM-DD (当日结束前)"),
    actor: str = ACTOR,
) -> None:
    """登记承诺; 打印其 id。承诺有自己的时限。"""
    from ledger.cases.items import add_commitment

    due_date = _date(due, "--due")
    def work(session, env, now):
        notices = _unit_notices(session, [owner_unit])
        return add_commitment(session, case_id=case_ref, text=text, owner_unit=owner_unit, due_date=due_date,
                              now=now, actor=actor, env=env).id, notices

    cid, notices = _run(work)
    typer.echo(cid)
    for notice in notices:
        echo_err(notice)


@commitment_app.command("update")
def commitment_update_cmd(
    commitment_id: int = typer.Argument(..., help="承诺 id"),
    status: str | None = typer.Option(None, "--status", help="未落实 / 落实中 / 已落实 / 已公开"),
    evidence: str | None = typer.Option(None, "--evidence", help="落实证据"),
    public_where: str | None = typer.Option(None, "--public-where", help="公开位置 (网址或栏目)"),
    at: str | None = typer.Option(None, "--at", help="落实/公开时间 ISO 8601 (默认当前时间)"),
    actor: str = ACTOR,
) -> None:
    """更新承诺落实情况 (只能向前推进)。"""
    from ledger.cases.items import update_commitment

    when = _when(at, "--at", None)
    new = _run(lambda session, env, now: update_commitment(
        session, commitment_id=commitment_id, now=now, actor=actor, env=env, status=status,
        evidence=evidence, public_where=public_where, at=when).status)
    typer.echo(f"承诺 {commitment_id}: {new}")


@referral_app.command("add")
def referral_add_cmd(
    case_ref: str = typer.Argument(..., help="案件 id 或编号"),
    to: str = typer.Option(..., "--to", help="移交对象: 公安机关 / 网信部门 / 网络监管部门"),
    at: str | None = typer.Option(None, "--at", help="移交时间 ISO 8601 (默认当前时间)"),
    reference: str | None = typer.Option(None, "--reference", help="移交文号"),
    note: str | None = typer.Option(None, "--note"),
    actor: str = ACTOR,
) -> None:
    """登记涉嫌违法线索移交; 打印其 id。"""
    from ledger.cases.items import add_referral

    rid = _run(lambda session, env, now: add_referral(
        session, case_id=case_ref, target=to, referred_at=_when(at, "--at", now), now=now, actor=actor,
        env=env, reference=reference, note=note).id)
    typer.echo(rid)
