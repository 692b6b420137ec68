"""Extra sheets of the weekly ledger export for the seeds' remaining duties:

- 政策解读: policy documents published in the week, and older ones still without an
  interpretation at the week's end, with their interpretation clock and materials;
- 承诺待公开: commitments fulfilled (已落实) but not yet made public (已公开) at the week's end, of
  any week, until they are published — with their 公开 clock.

Read-only; personal numbers in free text are masked. Times are naive local (as the other
sheets). Returned as (title, header, rows) for :func:`ledger.reports.weekly_xlsx.write_xlsx`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from analysis.pii import mask
from ledger.models.cases import Case, Commitment
from ledger.models.clocks import Clock
from ledger.models.policies import PolicyDoc, PolicyInterpretation
from ledger.reports.weekly import Week, local

STATUS_LABELS = {"running": "计时中", "warning": "临近", "met": "已完成", "missed": "未达标", "breached": "已超限",
                 "paused": "暂停", "cancelled": "已取消", "restarted": "已重新起算"}

Sheet = tuple[str, list[str], list[list[Any]]]


def _latest_clocks(session: Session, subject: str, ids: list[int]) -> dict[int, list[Clock]]:
    out: dict[int, list[Clock]] = {}
    for i in range(0, len(ids), 500):
        for c in session.exec(select(Clock).where(Clock.subject == subject, Clock.subject_id.in_(ids[i:i + 500]))
                              .order_by(Clock.id)):
            out.setdefault(c.subject_id, []).append(c)
    return out


def _clock_cells(clock: Clock | None, week: Week) -> list[Any]:
    if clock is None:
        return [None, None, None]
    status = STATUS_LABELS.get(clock.status, clock.status) + ("（暂定）" if clock.provisional else "")
    if clock.met_at is not None and clock.late:
        status += "（超时完成）"
    return [local(clock.due_at, week.tz), status, local(clock.met_at, week.tz)]


def policy_sheet(session: Session, week: Week) -> Sheet:
    """Documents published in the week, or published before its end and not interpreted by then."""
    first = (select(PolicyInterpretation.policy_id, PolicyInterpretation.published_at)
             .order_by(PolicyInterpretation.published_at))
    interpreted: dict[int, Any] = {}
    for pid, at in session.exec(first):
        interpreted.setdefault(pid, at)
    docs = session.exec(select(PolicyDoc).where(PolicyDoc.published_at < week.end)
                        .order_by(PolicyDoc.published_at, PolicyDoc.id)).all()
    chosen = [d for d in docs if d.published_at >= week.start
              or (d.status != "退文" and (interpreted.get(d.id) is None or interpreted[d.id] >= week.end))]
    clocks = _latest_clocks(session, "policy", [d.id for d in chosen])
    items: dict[int, list[PolicyInterpretation]] = {}
    if chosen:
        for it in session.exec(select(PolicyInterpretation).where(
                PolicyInterpretation.policy_id.in_([d.id for d in chosen])).order_by(PolicyInterpretation.id)):
            items.setdefault(it.policy_id, []).append(it)
    rows = []
    for d in chosen:
        clock = (clocks.get(d.id) or [None])[-1]
        mats = items.get(d.id, [])
        rows.append([d.id, mask(d.title), d.kind, d.doc_number, d.unit, local(d.published_at, week.tz), d.status,
                     *_clock_cells(clock, week), len(mats),
                     "；".join(f"{m.form}《{mask(m.title)}》{m.url or ''}" for m in mats) or None,
                     mask(d.return_reason) if d.return_reason else None])
    header = ["文件 id", "文件标题", "类型", "文号", "发文单位", "发布时间", "状态", "解读期限", "解读时限状态",
              "解读发布时间", "解读材料数", "解读材料", "退文理由"]
    return "政策解读", header, rows


def unpublished_commitments_sheet(session: Session, week: Week) -> Sheet:
    """Commitments fulfilled before the week's end and not made public by then (of any week)."""
    stmt = (select(Commitment, Case.number).join(Case, Case.id == Commitment.case_id)
            .where(Commitment.fulfilled_at.is_not(None), Commitment.fulfilled_at < week.end,
                   or_(Commitment.public_at.is_(None), and_(Commitment.public_at >= week.end)))
            .order_by(Commitment.fulfilled_at, Commitment.id))
    found = session.exec(stmt).all()
    clocks = _latest_clocks(session, "commitment", [c.id for c, _ in found])
    rows = []
    for c, number in found:
        publish = next((k for k in reversed(clocks.get(c.id, [])) if (k.rule_snapshot or {}).get("anchor") == "fulfilled_at"),
                       None)
        rows.append([number, c.id, mask(c.text), c.owner_unit, c.due_date, local(c.fulfilled_at, week.tz),
                     mask(c.evidence) if c.evidence else None, *_clock_cells(publish, week)])
    header = ["案件编号", "承诺 id", "承诺内容", "责任单位", "承诺期限", "落实时间", "落实证据", "公开期限", "公开时限状态",
              "公开时间"]
    return "承诺待公开", header, rows


def seed_sheets(session: Session, week: Week) -> list[Sheet]:
    """The extra sheets of the week, in workbook order."""
    return [policy_sheet(session, week), unpublished_commitments_sheet(session, week)]
