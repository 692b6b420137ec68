"""The policy register: record a published policy document (starts its interpretation clock),
record interpretation materials (the first one meets the clock), record a 退文, and read the
register back with interpretations and clocks.

Service functions are keyword-only, take the session and do not commit; every change appends
to the audit log. ``now`` is always an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from ledger import audit
from ledger.alerts import notify
from ledger.alerts.escalation import resolve_group
from ledger.clocks import service as clockservice
from ledger.clocks.calendar import WorkCalendar
from ledger.clocks.rules import ClockRule
from ledger.models.core import AuditLog
from ledger.models.policies import PolicyDoc, PolicyInterpretation

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUBJECT = "policy"
PENDING, INTERPRETED, RETURNED = "待解读", "已解读", "退文"


class PolicyError(ValueError):
    """A policy-register operation refused; the message (Chinese) says why."""


@dataclass(frozen=True)
class PolicyEnv:
    """What the policy services need: document kinds and interpretation forms (``policies.toml``),
    the working-day calendar and the clock rules (``clocks.toml``)."""

    kinds: tuple[str, ...]
    forms: tuple[str, ...]
    calendar: WorkCalendar
    rules: list[ClockRule]
    default_kind: str = "规范性文件"

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The clock rules an interpretation fulfils (every ``policy`` rule)."""
        return tuple(r.id for r in self.rules if r.subject == SUBJECT)


def _aware(value: Any, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise PolicyError(f"{what}应为时间, 得到 {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise PolicyError(f"{what}缺少时区: {value!r}")
    return value


def _local(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(SHANGHAI).isoformat()


def _text(value: str | None, what: str) -> str:
    if value is None or not str(value).strip():
        raise PolicyError(f"{what}不能为空")
    return str(value).strip()


def _opt(value: str | None) -> str | None:
    value = None if value is None else str(value).strip()
    return value or None


def _state(p: PolicyDoc) -> dict[str, Any]:
    return {"title": p.title, "unit": p.unit, "kind": p.kind, "doc_number": p.doc_number, "url": p.url,
            "published_at": p.published_at, "status": p.status, "returned_at": p.returned_at,
            "return_reason": p.return_reason}


def _facts(p: PolicyDoc) -> dict[str, Any]:
    return {"published_at": p.published_at, "kind": p.kind, "unit": p.unit, "status": p.status}


def get_policy(session: Session, policy_id: int | str) -> PolicyDoc:
    try:
        pid = int(str(policy_id).strip())
    except ValueError:
        raise PolicyError(f"政策文件 id 应为数字: {policy_id!r}") from None
    doc = session.get(PolicyDoc, pid)
    if doc is None:
        raise PolicyError(f"政策文件不存在: {policy_id}")
    return doc


def add_policy(session: Session, *, title: str, unit: str, published_at: datetime, now: datetime, actor: str,
               env: PolicyEnv, kind: str | None = None, doc_number: str | None = None,
               url: str | None = None) -> PolicyDoc:
    """Register a published policy document and start its interpretation clock (due at the end of
    the 3rd working day after publication by default; provisional in a year without a calendar).
    A document registered after its interpretation was already due alerts its unit at once."""
    now = _aware(now, "当前时间")
    published_at = _aware(published_at, "发布时间")
    if published_at > now:
        raise PolicyError(f"发布时间 ({_local(published_at)}) 晚于当前时间 ({_local(now)})")
    kind = _opt(kind) or env.default_kind
    if kind not in env.kinds:
        raise PolicyError(f"未知的文件类型 {kind!r}; 可选: {'、'.join(env.kinds)}")
    doc = PolicyDoc(title=_text(title, "文件标题"), unit=_text(unit, "发文单位"), kind=kind,
                    doc_number=_opt(doc_number), url=_opt(url), published_at=published_at, status=PENDING,
                    created_by=actor, created_at=now, updated_at=now)
    session.add(doc)
    session.flush()
    audit.record(session, actor=actor, action="policy.add", entity="policy", entity_id=doc.id, now=now,
                 after=_state(doc))
    changes: list[Any] = []
    clockservice.start_clocks(session, subject=SUBJECT, subject_id=doc.id, facts=_facts(doc), now=now,
                              calendar=env.calendar, rules=env.rules, actor=actor, changes=changes)
    if changes:
        notify.clock_event(session, changes=changes, now=now, actor=actor)
    return doc


def interpret_policy(session: Session, *, policy_id: int | str, title: str, form: str, published_at: datetime,
                     now: datetime, actor: str, env: PolicyEnv, url: str | None = None) -> PolicyInterpretation:
    """Record an interpretation material released at ``published_at``; the first one meets the
    interpretation clock (late when after its due time)."""
    now = _aware(now, "当前时间")
    doc = get_policy(session, policy_id)
    if doc.status == RETURNED:
        raise PolicyError(f"政策文件 {doc.id} 已退文, 不能登记解读")
    form = _text(form, "解读形式")
    if form not in env.forms:
        raise PolicyError(f"未知的解读形式 {form!r}; 可选: {'、'.join(env.forms)}")
    published_at = _aware(published_at, "解读发布时间")
    if published_at > now:
        raise PolicyError(f"解读发布时间 ({_local(published_at)}) 晚于当前时间 ({_local(now)})")
    if published_at < doc.published_at:
        raise PolicyError(f"解读发布时间 ({_local(published_at)}) 早于文件发布时间 ({_local(doc.published_at)})")
    item = PolicyInterpretation(policy_id=doc.id, title=_text(title, "解读标题"), url=_opt(url), form=form,
                                published_at=published_at, recorded_by=actor, recorded_at=now)
    session.add(item)
    session.flush()
    audit.record(session, actor=actor, action="policy.interpret", entity="policy", entity_id=doc.id, now=now,
                 after={"interpretation_id": item.id, "title": item.title, "form": form, "url": item.url,
                        "published_at": published_at})
    if doc.status != INTERPRETED:
        before = _state(doc)
        doc.status = INTERPRETED
        doc.updated_at = now
        session.add(doc)
        audit.record(session, actor=actor, action="policy.status", entity="policy", entity_id=doc.id, now=now,
                     before=before, after=_state(doc))
    first = session.exec(select(PolicyInterpretation.published_at).where(
        PolicyInterpretation.policy_id == doc.id).order_by(PolicyInterpretation.published_at)).first()
    clockservice.mark_met(session, subject=SUBJECT, subject_id=doc.id, rule_ids=env.rule_ids,
                          at=first or published_at, actor=actor, now=now)
    resolve_group(session, f"{SUBJECT}:{doc.id}", now=now, reason="解读材料已发布", actor=actor)
    return item


def return_policy(session: Session, *, policy_id: int | str, reason: str, now: datetime, actor: str,
                  env: PolicyEnv, at: datetime | None = None) -> PolicyDoc:
    """Record a 退文: the document was submitted without its interpretation material and sent
    back to its unit. Its interpretation clock is cancelled (the rule no longer applies)."""
    now = _aware(now, "当前时间")
    doc = get_policy(session, policy_id)
    if doc.status == RETURNED:
        raise PolicyError(f"政策文件 {doc.id} 已退文")
    if doc.status == INTERPRETED:
        raise PolicyError(f"政策文件 {doc.id} 已有解读材料, 不能退文")
    at = now if at is None else _aware(at, "退文时间")
    before = _state(doc)
    doc.status = RETURNED
    doc.returned_at = at
    doc.return_reason = _text(reason, "退文理由")
    doc.updated_at = now
    session.add(doc)
    audit.record(session, actor=actor, action="policy.return", entity="policy", entity_id=doc.id, now=now,
                 before=before, after=_state(doc), note=doc.return_reason)
    clockservice.start_clocks(session, subject=SUBJECT, subject_id=doc.id, facts=_facts(doc), now=now,
                              calendar=env.calendar, rules=env.rules, actor=actor)
    resolve_group(session, f"{SUBJECT}:{doc.id}", now=now, reason="已退文", actor=actor)
    return doc


def policy_row(session: Session, doc: PolicyDoc) -> dict[str, Any]:
    """JSON-ready view of a document with its interpretations and clocks."""
    items = session.exec(select(PolicyInterpretation).where(PolicyInterpretation.policy_id == doc.id)
                         .order_by(PolicyInterpretation.published_at, PolicyInterpretation.id)).all()
    clocks = clockservice.clocks_for(session, subject=SUBJECT, subject_id=doc.id)
    return {
        "id": doc.id, **_state(doc), "created_by": doc.created_by, "created_at": doc.created_at,
        "interpretations": [{"id": i.id, "title": i.title, "form": i.form, "url": i.url,
                             "published_at": i.published_at, "recorded_by": i.recorded_by} for i in items],
        "clocks": [clockservice.clock_to_dict(c) for c in clocks],
    }


def policy_detail(session: Session, *, policy_id: int | str) -> dict[str, Any]:
    doc = get_policy(session, policy_id)
    data = policy_row(session, doc)
    data["timeline"] = [
        {"at": a.at, "actor": a.actor, "action": a.action, "before": a.before, "after": a.after, "note": a.note}
        for a in audit_entries(session, doc.id)
    ]
    return data


def audit_entries(session: Session, policy_id: int) -> list[Any]:
    clock_ids = [str(c.id) for c in clockservice.clocks_for(session, subject=SUBJECT, subject_id=policy_id)]
    conds = [and_(AuditLog.entity == "policy", AuditLog.entity_id == str(policy_id))]
    if clock_ids:
        conds.append(and_(AuditLog.entity == "clock", AuditLog.entity_id.in_(clock_ids)))
    return list(session.exec(select(AuditLog).where(or_(*conds)).order_by(AuditLog.at, AuditLog.id)))


def list_policies(session: Session, *, unit: str | None = None, status: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
    """Documents, newest publication first, each with interpretations and clocks."""
    stmt = select(PolicyDoc)
    if unit:
        stmt = stmt.where(PolicyDoc.unit == unit)
    if status:
        stmt = stmt.where(PolicyDoc.status == status)
    stmt = stmt.order_by(PolicyDoc.published_at.desc(), PolicyDoc.id.desc())
    if limit is not None:
        stmt = stmt.limit(max(0, int(limit)))
    return [policy_row(session, d) for d in session.exec(stmt)]
