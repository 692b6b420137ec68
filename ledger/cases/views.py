"""Reading the ledger: lists of cases and one case with everything about it — fields, clocks,
releases with their reviews, briefings, commitments with their clocks, referrals, and the audit
timeline. JSON-ready dicts (times stay aware datetimes; the CLI renders them with ``+08:00``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, or_
from sqlmodel import Session, select

from ledger.cases.items import commitment_dict
from ledger.cases.policy import CasePolicy
from ledger.cases.workflow import case_state, closing_problems, get_case
from ledger.clocks import service as clockservice
from ledger.models.cases import (
    Briefing,
    Case,
    CasePost,
    Commitment,
    Referral,
    Release,
    ReleaseReview,
)
from ledger.models.core import AuditLog


def of_unit(unit: str):
    """SQL condition: the case is ``unit``'s, as responsible, lead or co-operating unit (协办单位,
    an element of the JSON list ``co_units``: matched as its JSON text, which both databases
    keep as SQLAlchemy wrote it)."""
    listed = cast(Case.co_units, String).contains(json.dumps(unit), autoescape=True)
    return or_(Case.responsible_unit == unit, Case.lead_unit == unit, listed)


def list_cases(session: Session, *, status: str | None = None, grade: str | None = None,
               unit: str | None = None, limit: int | None = None) -> list[Case]:
    """Cases, newest discovery first, optionally filtered."""
    stmt = select(Case)
    if status:
        stmt = stmt.where(Case.status == status)
    if grade:
        stmt = stmt.where(Case.grade == grade)
    if unit:
        stmt = stmt.where(of_unit(unit))
    stmt = stmt.order_by(Case.discovered_at.desc(), Case.id.desc())
    if limit is not None:
        stmt = stmt.limit(max(0, int(limit)))
    return list(session.exec(stmt))


def _release_dict(release: Release, reviews: list[ReleaseReview]) -> dict[str, Any]:
    return {
        "id": release.id, "kind": release.kind, "title": release.title, "text": release.text,
        "revision": release.revision, "status": release.status, "review_steps": list(release.review_steps),
        "drafted_by": release.drafted_by, "created_at": release.created_at,
        "published_at": release.published_at, "channel": release.channel, "url": release.url,
        "published_by": release.published_by,
        "reviews": [
            {"id": r.id, "revision": r.revision, "step": r.step, "reviewer": r.reviewer,
             "reviewed_at": r.reviewed_at, "decision": r.decision, "comment": r.comment}
            for r in reviews
        ],
    }


def case_detail(session: Session, *, case_id: int | str, policy: CasePolicy,
                now: datetime | None = None) -> dict[str, Any]:
    """Everything about one case, JSON-ready except that times stay aware datetimes. Each clock
    carries its ``outcome`` (按时 / 超时 / 办理中 / 不计) as of ``now``."""
    case = get_case(session, case_id)
    data = case_state(case)
    data["created_by"] = case.created_by
    data["created_at"] = case.created_at
    data["updated_at"] = case.updated_at
    data["allowed_next"] = list(policy.transitions.get(case.status, ()))
    data["close_blockers"] = (
        closing_problems(session, case=case, policy=policy)
        if case.status not in (policy.closed_status, policy.archived_status) else []
    )
    rule = policy.disposal.get(case.disposal_type or "")
    data["must_publish"] = rule.must if rule else None
    clocks = clockservice.clocks_for(session, subject="case", subject_id=case.id)
    data["clocks"] = [clockservice.clock_to_dict(c, now=now) for c in clocks]
    data["post_ids"] = list(session.exec(
        select(CasePost.post_id).where(CasePost.case_id == case.id).order_by(CasePost.id)))
    releases = list(session.exec(select(Release).where(Release.case_id == case.id).order_by(Release.id)))
    reviews: dict[int, list[ReleaseReview]] = {r.id: [] for r in releases}
    if releases:
        for rv in session.exec(select(ReleaseReview).where(
                ReleaseReview.release_id.in_(list(reviews))).order_by(ReleaseReview.id)):
            reviews[rv.release_id].append(rv)
    data["releases"] = [_release_dict(r, reviews[r.id]) for r in releases]
    briefings = list(session.exec(select(Briefing).where(Briefing.case_id == case.id).order_by(Briefing.id)))
    data["briefings"] = [
        {"id": b.id, "held_at": b.held_at, "place": b.place, "spokesperson": b.spokesperson, "note": b.note}
        for b in briefings
    ]
    commitments = list(session.exec(
        select(Commitment).where(Commitment.case_id == case.id).order_by(Commitment.id)))
    data["commitments"] = []
    commitment_clock_ids: list[int] = []
    for c in commitments:
        row = commitment_dict(c)
        cclocks = clockservice.clocks_for(session, subject="commitment", subject_id=c.id)
        row["clocks"] = [clockservice.clock_to_dict(k, now=now) for k in cclocks]
        commitment_clock_ids.extend(k.id for k in cclocks)
        data["commitments"].append(row)
    referrals = list(session.exec(select(Referral).where(Referral.case_id == case.id).order_by(Referral.id)))
    data["referrals"] = [
        {"id": r.id, "target": r.target, "referred_at": r.referred_at, "reference": r.reference, "note": r.note}
        for r in referrals
    ]
    data["timeline"] = timeline(
        session, case_id=case.id,
        related={
            "release": [r.id for r in releases], "briefing": [b.id for b in briefings],
            "commitment": [c.id for c in commitments], "referral": [r.id for r in referrals],
            "clock": [c.id for c in clocks] + commitment_clock_ids,
        },
    )
    return data


def timeline(session: Session, *, case_id: int, related: Mapping[str, list[int]]) -> list[dict[str, Any]]:
    """Audit entries of the case and of its releases, briefings, commitments, referrals, clocks."""
    conds = [and_(AuditLog.entity == "case", AuditLog.entity_id == str(case_id))]
    for entity, ids in related.items():
        if ids:
            conds.append(and_(AuditLog.entity == entity, AuditLog.entity_id.in_([str(i) for i in ids])))
    rows = session.exec(select(AuditLog).where(or_(*conds)).order_by(AuditLog.at, AuditLog.id))
    return [
        {"at": a.at, "actor": a.actor, "action": a.action, "entity": a.entity, "entity_id": a.entity_id,
         "before": a.before, "after": a.after, "note": a.note}
        for a in rows
    ]
