"""Rules on who may pass a review step of a release, and on what a text may hold, kept apart from
the recording functions of :mod:`ledger.cases.items`:

- 三审 by different people: a reviewer who passed one step of a revision may not pass another
  (``[review] distinct_reviewers``);
- 终审 by a leader (seeds/003 (八) 主要负责人 / 分管负责人): a dashboard user with a leader role, or a
  person of the duty roster with a leader role (``leader_steps``, ``leader_user_roles``,
  ``leader_roster_roles``);
- 保密审查 stops personal numbers (phone, ID, bank card, e-mail; :mod:`analysis.pii`) unless the
  reviewer records a reason (``privacy_step``);
- 补录: an act recorded with a time well before it is entered (``backfill_minutes``).

Pure checks over the session: nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, select

from analysis.pii import find_pii, mask
from ledger.cases.policy import CasePolicy
from ledger.models.alerts import Person
from ledger.models.users import User

PII_LABELS = {"mobile": "手机号码", "landline": "固定电话", "id_card": "身份证号", "bank_card": "银行卡号",
              "email": "电子邮箱"}
BACKFILL = "补录"


def is_leader(session: Session, reviewer: str, policy: CasePolicy) -> bool:
    """Whether ``reviewer`` (a name as recorded) is a leader: an active user whose user name or
    display name it is, with a leader role; or an active roster person of a leader role."""
    rv = policy.review
    name = reviewer.strip()
    if rv.leader_user_roles:
        user = session.exec(select(User).where(
            or_(User.username == name, User.display_name == name), User.active == True,
            User.role.in_(list(rv.leader_user_roles)))).first()
        if user is not None:
            return True
    if rv.leader_roster_roles:
        person = session.exec(select(Person).where(
            Person.name == name, Person.active == True,
            Person.role.in_(list(rv.leader_roster_roles)))).first()
        if person is not None:
            return True
    return False


def reviewer_problems(session: Session, *, step: str, reviewer: str, passed: Iterable[Any],
                      policy: CasePolicy) -> list[str]:
    """Why ``reviewer`` may not pass ``step`` given the steps already passed (``ReleaseReview``
    rows of the current revision); each refusal names the rule in ``cases.toml``."""
    rv = policy.review
    problems: list[str] = []
    name = reviewer.strip()
    if rv.distinct_reviewers:
        for r in passed:
            if r.reviewer.strip() == name:
                problems.append(
                    f"“{step}”须由不同于“{r.step}”的人员审核: {name} 已审核“{r.step}” "
                    f"(三审各环节由不同人员负责; cases.toml [review] distinct_reviewers)")
                break
    if step in rv.leader_steps and not is_leader(session, name, policy):
        who = []
        if rv.leader_user_roles:
            who.append(f"角色为{'/'.join(rv.leader_user_roles)}的用户")
        if rv.leader_roster_roles:
            who.append(f"值班表中的{'/'.join(rv.leader_roster_roles)}")
        problems.append(
            f"“{step}”须由{'或'.join(who)}审核, {name} 不是 (主要负责人/分管负责人审签; "
            f"cases.toml [review] leader_steps)")
    return problems


def pii_found(*texts: str | None) -> list[str]:
    """Personal numbers in the texts, each as its kind and masked value (e.g. 手机号码 139****5678)."""
    out: list[str] = []
    for text in texts:
        if not text:
            continue
        for m in find_pii(text):
            item = f"{PII_LABELS.get(m.kind, m.kind)} {mask(text[m.start:m.end])}"
            if item not in out:
                out.append(item)
    return out


def privacy_problem(*, step: str, passing: bool, title: str, text: str, reason: str | None,
                    policy: CasePolicy) -> tuple[str | None, list[str]]:
    """(refusal or None, what was found) for passing the privacy step over ``title`` / ``text``."""
    if not passing or step != policy.review.privacy_step:
        return None, []
    found = pii_found(title, text)
    if found and not (reason and reason.strip()):
        return (f"“{step}”不能通过: 稿件含个人信息 ({'、'.join(found)}); 请删除或遮蔽后重新送审, "
                f"确需公开的须记录理由 (--pii-ok 理由)"), found
    return None, found


def backfilled(at: datetime, now: datetime, policy: CasePolicy) -> bool:
    """Whether an act dated ``at`` and entered at ``now`` is an entry after the fact (补录)."""
    return now - at > timedelta(minutes=policy.backfill_minutes)
