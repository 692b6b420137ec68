"""What is done for a case: releases of 权威信息 with their review steps (初审 → 复审 → 终审 and
保密审查, configurable), publication, press briefings, commitments (承诺) with their own clocks,
and referrals of suspected illegal conduct to 公安机关 / 网信 / 网络监管部门.

Service functions are keyword-only, take the session and do not commit; each appends to the audit
log with before/after and stops or restarts the clocks the act fulfils (see ``clock_links`` in
``cases.toml``). ``now`` is always an argument.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from ledger import audit
from ledger.acttime import local_text
from ledger.alerts import notify
from ledger.cases.review_rules import BACKFILL, backfilled, privacy_problem, reviewer_problems
from ledger.cases.workflow import (
    PUBLISHED,
    CaseEnv,
    CaseError,
    act_time,
    aware,
    get_case,
    opt_text,
    sync_case_clocks,
    text_required,
    writable,
)
from ledger.clocks import service as clockservice
from ledger.models.cases import Briefing, Commitment, Referral, Release, ReleaseReview

PASS = "通过"
REJECT = "驳回"
DRAFT = "待审"
IN_REVIEW = "审核中"
REJECTED = "已驳回"
READY = "待发布"

_DECISIONS = {
    "通过": PASS, "pass": PASS, "passed": PASS, "approve": PASS, "approved": PASS, "ok": PASS,
    "驳回": REJECT, "不通过": REJECT, "reject": REJECT, "rejected": REJECT,
}


def _release_state(r: Release) -> dict[str, Any]:
    return {
        "case_id": r.case_id, "kind": r.kind, "title": r.title, "revision": r.revision,
        "status": r.status, "review_steps": list(r.review_steps), "published_at": r.published_at,
        "channel": r.channel, "url": r.url,
    }


def get_release(session: Session, release_id: int) -> Release:
    release = session.get(Release, int(release_id))
    if release is None:
        raise CaseError(f"发布稿不存在: {release_id}")
    return release


def current_reviews(session: Session, release: Release) -> list[ReleaseReview]:
    """Reviews of the release's current revision, in the order they were recorded."""
    return list(session.exec(
        select(ReleaseReview)
        .where(ReleaseReview.release_id == release.id, ReleaseReview.revision == release.revision)
        .order_by(ReleaseReview.id)
    ))


def review_problems(release: Release, reviews: list[ReleaseReview]) -> list[str]:
    """Why the current revision may not be published yet (empty: every step passed, in order)."""
    steps = list(release.review_steps)
    passed = [r for r in reviews if r.decision == PASS]
    problems: list[str] = []
    if any(r.decision == REJECT for r in reviews):
        problems.append("稿件已被驳回, 须修改后重新送审")
    done = [r.step for r in passed]
    if done != steps[: len(done)]:
        problems.append(f"审核顺序不符: 应依次为 {' → '.join(steps)}, 实为 {' → '.join(done)}")
    times = [r.reviewed_at for r in passed]
    if times != sorted(times):
        problems.append("审核时间先后不符合审核顺序")
    missing = [s for s in steps if s not in done]
    if missing:
        problems.append(f"尚未通过: {'、'.join(missing)}")
    return problems


def add_release(session: Session, *, case_id: int | str, kind: str, title: str, text: str, now: datetime,
                actor: str, env: CaseEnv, drafted_at: datetime | None = None) -> Release:
    """Draft a release of ``kind`` for the case; it must pass the review steps before publication.
    ``drafted_at``: when it was drafted, if before now (an entry after the fact is marked 补录)."""
    now = aware(now, "当前时间")
    case = get_case(session, case_id)
    writable(case, env.policy)
    drafted_at = now if drafted_at is None else act_time(drafted_at, what="起草时间", now=now,
                                                         after=case.discovered_at, after_what="案件发现时间")
    kind = text_required(kind, "发布类型")
    if kind not in env.policy.release_kinds:
        raise CaseError(f"未知的发布类型 {kind!r}; 可选: {'、'.join(env.policy.release_kinds)}")
    release = Release(
        case_id=case.id, kind=kind, title=text_required(title, "发布标题"), text=text_required(text, "发布内容"),
        revision=1, review_steps=list(env.policy.review_steps), status=DRAFT, drafted_by=actor,
        created_at=drafted_at, updated_at=now,
    )
    session.add(release)
    session.flush()
    late = backfilled(drafted_at, now, env.policy)
    audit.record(session, actor=actor, action="release.add", entity="release", entity_id=release.id, now=now,
                 after={**_release_state(release), "created_at": drafted_at, **_backfill(late)},
                 note=BACKFILL if late else None)
    return release


def _backfill(late: bool) -> dict[str, Any]:
    return {BACKFILL: True} if late else {}


def review_release(session: Session, *, release_id: int, step: str, reviewer: str, decision: str,
                   reviewed_at: datetime, now: datetime, actor: str, env: CaseEnv,
                   comment: str | None = None, pii_ok_reason: str | None = None) -> ReleaseReview:
    """Record one review step (who, when, pass or reject). Steps go in the configured order, each
    by a different reviewer, 终审 by a leader; 保密审查 does not pass a text holding personal
    numbers without ``pii_ok_reason``. A rejection sends the text back for revision
    (:func:`revise_release`)."""
    now = aware(now, "当前时间")
    release = get_release(session, release_id)
    writable(get_case(session, release.case_id), env.policy)
    if release.status == PUBLISHED:
        raise CaseError(f"发布稿 {release.id} 已发布, 不能再审核")
    if release.status == REJECTED:
        raise CaseError(f"发布稿 {release.id} 已被驳回, 须先修改稿件再送审")
    step = text_required(step, "审核步骤")
    steps = list(release.review_steps)
    if step not in steps:
        raise CaseError(f"未知的审核步骤 {step!r}; 本稿须依次经过: {' → '.join(steps)}")
    reviewer = text_required(reviewer, "审核人")
    dec = _DECISIONS.get(str(decision).strip().lower()) if decision else None
    if dec is None:
        raise CaseError(f"审核结论应为“{PASS}”或“{REJECT}”, 得到 {decision!r}")
    reviewed_at = act_time(reviewed_at, what="审核时间", now=now, after=release.created_at,
                           after_what="稿件起草时间")
    reviews = current_reviews(session, release)
    passed = [r.step for r in reviews if r.decision == PASS]
    if step in passed:
        raise CaseError(f"“{step}”已通过")
    expected = steps[len(passed)]
    if step != expected:
        raise CaseError(f"须先完成“{expected}”, 才能进行“{step}” (顺序: {' → '.join(steps)})")
    if reviews:
        act_time(reviewed_at, what="审核时间", now=now, after=reviews[-1].reviewed_at, after_what="上一步审核时间")
    who = reviewer_problems(session, step=step, reviewer=reviewer,
                            passed=[r for r in reviews if r.decision == PASS], policy=env.policy)
    if who:
        raise CaseError(f"发布稿 {release.id} 的“{step}”不能由 {reviewer} 登记: " + "；".join(who))
    refusal, pii = privacy_problem(step=step, passing=dec == PASS, title=release.title, text=release.text,
                                   reason=pii_ok_reason, policy=env.policy)
    if refusal:
        raise CaseError(f"发布稿 {release.id} {refusal}")
    pii_reason = opt_text(pii_ok_reason) if pii else None
    late = backfilled(reviewed_at, now, env.policy)
    before = _release_state(release)
    review = ReleaseReview(
        release_id=release.id, revision=release.revision, step=step, step_index=steps.index(step),
        reviewer=reviewer, reviewed_at=reviewed_at, decision=dec, comment=opt_text(comment),
        pii_ok_reason=pii_reason, recorded_by=actor, recorded_at=now,
    )
    session.add(review)
    if dec == REJECT:
        release.status = REJECTED
    else:
        release.status = READY if len(passed) + 1 == len(steps) else IN_REVIEW
    release.updated_at = now
    session.add(release)
    session.flush()
    audit.record(session, actor=actor, action="release.review", entity="release", entity_id=release.id,
                 now=now, before=before, after={**_release_state(release), **_backfill(late), "review": {
                     "step": step, "reviewer": reviewer, "reviewed_at": reviewed_at, "decision": dec,
                     "comment": opt_text(comment), **({"pii_found": pii, "pii_ok_reason": pii_reason} if pii else {})}},
                 note="；".join(n for n in (BACKFILL if late else "",
                                            f"含个人信息仍通过, 理由: {pii_reason}" if pii else "") if n) or None)
    return review


def revise_release(session: Session, *, release_id: int, text: str, now: datetime, actor: str, env: CaseEnv,
                   title: str | None = None) -> Release:
    """Replace the text (a new revision); its review starts again from the first step."""
    now = aware(now, "当前时间")
    release = get_release(session, release_id)
    writable(get_case(session, release.case_id), env.policy)
    if release.status == PUBLISHED:
        raise CaseError(f"发布稿 {release.id} 已发布, 不能修改; 请另起一稿")
    before = {**_release_state(release), "text": release.text}
    release.text = text_required(text, "发布内容")
    if title is not None:
        release.title = text_required(title, "发布标题")
    release.revision += 1
    release.review_steps = list(env.policy.review_steps)
    release.status = DRAFT
    release.updated_at = now
    session.add(release)
    audit.record(session, actor=actor, action="release.revise", entity="release", entity_id=release.id,
                 now=now, before=before, after={**_release_state(release), "text": release.text})
    return release


def publish_release(session: Session, *, release_id: int, published_at: datetime, channel: str,
                    now: datetime, actor: str, env: CaseEnv, url: str | None = None) -> Release:
    """Mark a release published (time, channel, URL) — refused unless every review step of its
    current revision passed, in order. Stops the authoritative-release clocks and starts a new
    period of the continued-release clock."""
    now = aware(now, "当前时间")
    release = get_release(session, release_id)
    case = get_case(session, release.case_id)
    writable(case, env.policy)
    if release.status == PUBLISHED:
        raise CaseError(f"发布稿 {release.id} 已于 {local_text(release.published_at)} 发布")
    problems = review_problems(release, current_reviews(session, release))
    if problems:
        raise CaseError(f"发布稿 {release.id} 未完成审核, 不能发布: " + "；".join(problems))
    channel = text_required(channel, "发布渠道")
    last_review = current_reviews(session, release)[-1].reviewed_at
    published_at = act_time(published_at, what="发布时间", now=now, after=last_review,
                            after_what="最后一步审核时间")
    before = _release_state(release)
    release.status = PUBLISHED
    release.published_at = published_at
    release.channel = channel
    release.url = opt_text(url)
    release.published_by = actor
    release.updated_at = now
    session.add(release)
    late = backfilled(published_at, now, env.policy)
    audit.record(session, actor=actor, action="release.publish", entity="release", entity_id=release.id,
                 now=now, before=before, after={**_release_state(release), **_backfill(late)},
                 note=BACKFILL if late else None)
    if case.last_release_at is None or published_at > case.last_release_at:
        case_before = {"last_release_at": case.last_release_at}
        case.last_release_at = published_at
        case.updated_at = now
        session.add(case)
        audit.record(session, actor=actor, action="case.release_published", entity="case", entity_id=case.id,
                     now=now, before=case_before, after={"last_release_at": published_at, "release_id": release.id})
    sync_case_clocks(session, case=case, now=now, actor=actor, env=env)
    return release


def add_briefing(session: Session, *, case_id: int | str, held_at: datetime, place: str, spokesperson: str,
                 now: datetime, actor: str, env: CaseEnv, note: str | None = None) -> Briefing:
    """Record a press briefing (time, place, spokesperson); stops the briefing clock."""
    now = aware(now, "当前时间")
    case = get_case(session, case_id)
    writable(case, env.policy)
    briefing = Briefing(
        case_id=case.id, place=text_required(place, "地点"),
        held_at=act_time(held_at, what="发布会时间", now=now, after=case.discovered_at, after_what="舆情发现时间"),
        spokesperson=text_required(spokesperson, "发言人"), note=opt_text(note), recorded_by=actor, recorded_at=now,
    )
    session.add(briefing)
    session.flush()
    audit.record(session, actor=actor, action="briefing.add", entity="briefing", entity_id=briefing.id, now=now,
                 after={"case_id": case.id, "held_at": briefing.held_at, "place": briefing.place,
                        "spokesperson": briefing.spokesperson, "note": briefing.note})
    sync_case_clocks(session, case=case, now=now, actor=actor, env=env)
    return briefing


def add_referral(session: Session, *, case_id: int | str, target: str, referred_at: datetime, now: datetime,
                 actor: str, env: CaseEnv, reference: str | None = None, note: str | None = None) -> Referral:
    """Record a referral of suspected illegal conduct (涉嫌违法线索移交)."""
    now = aware(now, "当前时间")
    case = get_case(session, case_id)
    writable(case, env.policy)
    target = text_required(target, "移交对象")
    if target not in env.policy.referral_targets:
        raise CaseError(f"未知的移交对象 {target!r}; 可选: {'、'.join(env.policy.referral_targets)}")
    referral = Referral(
        case_id=case.id, target=target,
        referred_at=act_time(referred_at, what="移交时间", now=now, after=case.discovered_at, after_what="舆情发现时间"),
        reference=opt_text(reference), note=opt_text(note), recorded_by=actor, recorded_at=now,
    )
    session.add(referral)
    session.flush()
    audit.record(session, actor=actor, action="referral.add", entity="referral", entity_id=referral.id, now=now,
                 after={"case_id": case.id, "target": target, "referred_at": referral.referred_at,
                        "reference": referral.reference, "note": referral.note})
    return referral


# ---------------------------------------------------------------------------- commitments
def commitment_dict(c: Commitment) -> dict[str, Any]:
    return {
        "id": c.id, "case_id": c.case_id, "text": c.text, "owner_unit": c.owner_unit,
        "due_date": c.due_date.isoformat(), "due_at": c.due_at, "status": c.status,
        "evidence": c.evidence, "fulfilled_at": c.fulfilled_at, "public_where": c.public_where,
        "public_at": c.public_at, "overdue_at": c.overdue_at,
    }


def commitment_facts(c: Commitment) -> dict[str, Any]:
    return {"due_date": c.due_at, "owner_unit": c.owner_unit, "status": c.status, "case_id": c.case_id,
            "fulfilled_at": c.fulfilled_at}


def add_commitment(session: Session, *, case_id: int | str, text: str, owner_unit: str, due_date: date,
                   now: datetime, actor: str, env: CaseEnv) -> Commitment:
    """Record a commitment made in a response; its clock runs to the end of ``due_date``."""
    now = aware(now, "当前时间")
    case = get_case(session, case_id)
    writable(case, env.policy)
    if not isinstance(due_date, date) or isinstance(due_date, datetime):
        raise CaseError(f"承诺期限应为日期 (YYYY-MM-DD), 得到 {due_date!r}")
    if due_date < env.calendar.local_date(case.discovered_at):
        raise CaseError("承诺期限早于案件发现日期")
    c = Commitment(
        case_id=case.id, text=text_required(text, "承诺内容"), owner_unit=text_required(owner_unit, "责任单位"),
        due_date=due_date, due_at=env.calendar.end_of_day(due_date), status=env.policy.commitment_statuses[0],
        created_by=actor, created_at=now, updated_at=now,
    )
    session.add(c)
    session.flush()
    audit.record(session, actor=actor, action="commitment.add", entity="commitment", entity_id=c.id, now=now,
                 after=commitment_dict(c))
    clockservice.start_clocks(session, subject="commitment", subject_id=c.id, facts=commitment_facts(c),
                              now=now, calendar=env.calendar, rules=env.rules, actor=actor)
    return c


def update_commitment(session: Session, *, commitment_id: int, now: datetime, actor: str, env: CaseEnv,
                      status: str | None = None, evidence: str | None = None,
                      public_where: str | None = None, at: datetime | None = None) -> Commitment:
    """Move a commitment forward (未落实 → 落实中 → 已落实 → 已公开), adding evidence and where the
    result was made public. Reaching 已落实 stops its clock at ``at`` (default ``now``)."""
    now = aware(now, "当前时间")
    policy = env.policy
    c = session.get(Commitment, int(commitment_id))
    if c is None:
        raise CaseError(f"承诺不存在: {commitment_id}")
    writable(get_case(session, c.case_id), policy)
    at = act_time(now if at is None else at, what="落实或公开时间", now=now, after=c.created_at,
                  after_what="承诺登记时间")
    order = list(policy.commitment_statuses)
    before = commitment_dict(c)
    if evidence is not None:
        c.evidence = text_required(evidence, "落实证据")
    if public_where is not None:
        c.public_where = text_required(public_where, "公开位置")
    if status is not None:
        status = text_required(status, "承诺状态")
        if status not in order:
            raise CaseError(f"未知的承诺状态 {status!r}; 可选: {'、'.join(order)}")
        if order.index(status) < order.index(c.status):
            raise CaseError(f"承诺状态不能从“{c.status}”退回“{status}”")
        if status == c.status and evidence is None and public_where is None:
            raise CaseError(f"承诺已是“{status}”")
        if order.index(status) >= order.index(policy.commitment_fulfilled):
            if not c.evidence:
                raise CaseError(f"承诺标记为“{status}”须提供落实证据")
            if c.fulfilled_at is None:
                c.fulfilled_at = at
        if status == policy.commitment_public:
            if not c.public_where:
                raise CaseError(f"承诺标记为“{status}”须说明公开位置 (网址或栏目)")
            if c.public_at is None:
                c.public_at = at
        c.status = status
    elif evidence is None and public_where is None:
        raise CaseError("没有要更新的内容")
    after = commitment_dict(c)
    if after == before:
        return c
    c.updated_at = now
    session.add(c)
    audit.record(session, actor=actor, action="commitment.update", entity="commitment", entity_id=c.id, now=now,
                 before=before, after=after)
    if c.fulfilled_at is not None:
        clockservice.mark_met(session, subject="commitment", subject_id=c.id,
                              rule_ids=policy.links("commitment_fulfilled"), at=c.fulfilled_at, actor=actor, now=now)
        _publish_clock(session, c, now=now, actor=actor, env=env)
    return c


def _publish_clock(session: Session, c: Commitment, *, now: datetime, actor: str, env: CaseEnv) -> None:
    """Once fulfilled, the result must be made public (公开): start that clock from the fulfilment
    (alerting at once if already overdue) and meet it when the commitment is 已公开."""
    changes: list[Any] = []
    clockservice.start_clocks(session, subject="commitment", subject_id=c.id, facts=commitment_facts(c), now=now,
                              calendar=env.calendar, rules=env.rules, actor=actor, changes=changes)
    if c.public_at is not None:
        clockservice.mark_met(session, subject="commitment", subject_id=c.id,
                              rule_ids=env.policy.links("commitment_public"), at=c.public_at, actor=actor, now=now)
    elif changes:
        notify.clock_event(session, changes=changes, now=now, actor=actor)
