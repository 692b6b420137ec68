"""Case workflow on real databases: numbering, clocks on opening and regrading, 三审 before
publication, closing rules per disposal type, referrals, commitments, status moves and audit."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from config.caseconfig import load_case_env
from config.settings import get_settings
from ledger.cases import items as caseitems
from ledger.cases import views as caseviews
from ledger.cases import workflow as cases
from ledger.cases.workflow import CaseError
from ledger.db import session_scope
from ledger.models.cases import Case, Release
from ledger.models.clocks import Clock
from ledger.models.core import AuditLog

H = timedelta(hours=1)
STEPS = ("初审", "复审", "终审", "保密审查")


@pytest.fixture
def env(monkeypatch):
    """The shipped workflow, without the leader requirement of 终审 (these tests are about order,
    times and clocks; who may review is tested in test_seed_workflows.py)."""
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    shipped = load_case_env(get_settings())
    review = dataclasses.replace(shipped.policy.review, leader_steps=())
    return dataclasses.replace(shipped, policy=dataclasses.replace(shipped.policy, review=review))


def clocks_by_rule(session, case_id: int, subject: str = "case") -> dict[str, Clock]:
    out: dict[str, Clock] = {}
    for c in session.exec(select(Clock).where(Clock.subject == subject, Clock.subject_id == case_id).order_by(Clock.id)):
        out[c.rule_id] = c  # latest per rule
    return out


def audit_actions(session, entity: str | None = None) -> list[str]:
    stmt = select(AuditLog).order_by(AuditLog.id)
    if entity:
        stmt = stmt.where(AuditLog.entity == entity)
    return [a.action for a in session.exec(stmt)]


def reviewed_release(session, env, case_id, *, kind: str, at: datetime) -> Release:
    """A release drafted at ``at`` whose four review steps passed at 10-minute intervals."""
    rel = caseitems.add_release(session, case_id=case_id, kind=kind, title=f"{kind}", text="正文", now=at,
                                actor="编辑", env=env)
    for i, step in enumerate(STEPS, 1):
        t = at + timedelta(minutes=10 * i)
        caseitems.review_release(session, release_id=rel.id, step=step, reviewer=f"审核人{i}", decision="通过",
                                 reviewed_at=t, now=t, actor="编辑", env=env)
    return rel


def test_numbering_follows_the_shanghai_year_of_discovery(sqlite_engine, env, fixed_now) -> None:
    with session_scope(sqlite_engine) as s:
        a = cases.open_case(s, title="甲", grade="一般", discovered_at=fixed_now - H, now=fixed_now, actor="值班", env=env)
        b = cases.open_case(s, title="乙", grade="较大", discovered_at=fixed_now - H, now=fixed_now, actor="值班", env=env)
        # 2025-12-31 16:30 UTC is already 2026-01-01 00:30 in Shanghai
        c = cases.open_case(s, title="丙", grade="一般", discovered_at=datetime(2025, 12, 31, 16, 30, tzinfo=UTC),
                            now=fixed_now, actor="值班", env=env)
        d = cases.open_case(s, title="丁", grade="一般", discovered_at=datetime(2025, 12, 31, 15, 30, tzinfo=UTC),
                            now=fixed_now, actor="值班", env=env)
        assert (a.number, b.number, c.number, d.number) == ("2026-0001", "2026-0002", "2026-0003", "2025-0001")
        assert cases.get_case(s, "2026-0002").id == b.id


def test_major_case_starts_the_release_briefing_and_report_clocks(sqlite_engine, env, fixed_now) -> None:
    discovered = fixed_now - H
    with session_scope(sqlite_engine) as s:
        case = cases.open_case(s, title="化工厂爆炸", grade="重大", discovered_at=discovered, now=fixed_now,
                               actor="值班", env=env)
        clocks = clocks_by_rule(s, case.id)
        assert clocks["authoritative_release_target"].due_at == discovered + 3 * H
        assert clocks["authoritative_release_limit"].due_at == discovered + 5 * H
        assert clocks["press_briefing"].due_at == discovered + 24 * H
        # 第一时间报告 within 1 h: discovered an hour ago, past its 30-minute warning, not yet late
        assert clocks["leadership_report"].status == "warning"
        assert clocks["leadership_report"].due_at == discovered + H
        assert "other_response" not in clocks and "continued_release" not in clocks
        cases.report_to_leadership(s, case_id=case.id, reported_at=fixed_now - timedelta(minutes=50),
                                   now=fixed_now, actor="值班", env=env)
        report = clocks_by_rule(s, case.id)["leadership_report"]
        assert report.status == "met" and report.met_at == fixed_now - timedelta(minutes=50)
        assert report.late is False  # ten minutes after discovery: on time
        with pytest.raises(CaseError, match="已于"):
            cases.report_to_leadership(s, case_id=case.id, reported_at=fixed_now, now=fixed_now, actor="值班", env=env)


def test_regrading_half_way_starts_major_clocks_from_discovery(sqlite_engine, env, fixed_now) -> None:
    discovered = fixed_now - 4 * H  # 06:00 Shanghai; regraded at 10:00
    with session_scope(sqlite_engine) as s:
        case = cases.open_case(s, title="小区停水", grade="一般", discovered_at=discovered, now=discovered,
                               actor="值班", env=env)
        before = clocks_by_rule(s, case.id)
        assert set(before) == {"other_response"}
        assert before["other_response"].due_at == discovered + 48 * H
        cases.regrade_case(s, case_id=case.id, grade="重大", now=fixed_now, actor="值班", env=env, reason="扩散")
        after = clocks_by_rule(s, case.id)
        assert after["other_response"].status == "cancelled"
        # the 3 h target already passed; the 5 h limit is within its warning hour; all from discovery
        assert after["authoritative_release_target"].anchor_at == discovered
        assert after["authoritative_release_target"].status == "missed"
        assert after["authoritative_release_limit"].status == "warning"
        assert after["authoritative_release_limit"].due_at == discovered + 5 * H
        assert after["press_briefing"].due_at == discovered + 24 * H
        assert after["press_briefing"].status == "running"
        assert after["leadership_report"].status == "breached"
        # a release published half an hour later meets the 5 h limit but not the 3 h target
        published = fixed_now + 30 * timedelta(minutes=1)
        rel = reviewed_release(s, env, case.id, kind="权威信息", at=fixed_now - 2 * H)
        caseitems.publish_release(s, release_id=rel.id, published_at=published, channel="政府网站",
                                  url="https://example.gov.cn/1", now=published, actor="值班", env=env)
        done = clocks_by_rule(s, case.id)
        assert done["authoritative_release_limit"].status == "met" and done["authoritative_release_limit"].late is False
        assert done["authoritative_release_target"].status == "met" and done["authoritative_release_target"].late is True
        cont = done["continued_release"]
        assert cont.anchor_at == published and cont.due_at == published + 24 * H
        regrade = s.exec(select(AuditLog).where(AuditLog.action == "case.regrade")).one()
        assert regrade.before["grade"] == "一般" and regrade.after["grade"] == "重大" and regrade.note == "扩散"


def test_second_release_restarts_the_continued_release_clock(sqlite_engine, env, fixed_now) -> None:
    with session_scope(sqlite_engine) as s:
        case = cases.open_case(s, title="洪水", grade="特别重大", discovered_at=fixed_now - H, now=fixed_now,
                               actor="值班", env=env)
        first = reviewed_release(s, env, case.id, kind="权威信息", at=fixed_now - H)
        caseitems.publish_release(s, release_id=first.id, published_at=fixed_now, channel="政务微博", now=fixed_now,
                                  actor="值班", env=env)
        later = fixed_now + 20 * H
        second = reviewed_release(s, env, case.id, kind="进展通报", at=later - H)
        caseitems.publish_release(s, release_id=second.id, published_at=later, channel="政务微博", now=later,
                                  actor="值班", env=env)
        periods = s.exec(select(Clock).where(Clock.subject_id == case.id, Clock.rule_id == "continued_release")
                         .order_by(Clock.id)).all()
        assert [(p.anchor_at, p.status) for p in periods] == [(fixed_now, "met"), (later, "running")]
        assert s.get(Case, case.id).last_release_at == later


def test_publishing_without_every_review_in_order_is_refused(sqlite_engine, env, fixed_now) -> None:
    t0 = fixed_now - 2 * H
    with session_scope(sqlite_engine) as s:
        case = cases.open_case(s, title="谣言", grade="较大", discovered_at=t0, now=t0, actor="值班", env=env)
        rel = caseitems.add_release(s, case_id=case.id, kind="权威信息", title="通报", text="正文", now=t0,
                                    actor="编辑", env=env)
        case_id, rel_id = case.id, rel.id
    def attempt(fn, **kw):
        with session_scope(sqlite_engine) as s:
            return fn(s, env=env, actor="编辑", **kw)
    with pytest.raises(CaseError, match="未完成审核.*尚未通过: 初审、复审、终审、保密审查"):
        attempt(caseitems.publish_release, release_id=rel_id, published_at=fixed_now, channel="网站", now=fixed_now)
    with pytest.raises(CaseError, match="须先完成“初审”"):
        attempt(caseitems.review_release, release_id=rel_id, step="复审", reviewer="乙", decision="通过",
                reviewed_at=t0 + H, now=fixed_now)
    for i, step in enumerate(STEPS[:3], 1):
        attempt(caseitems.review_release, release_id=rel_id, step=step, reviewer=f"审{i}", decision="通过",
                reviewed_at=t0 + i * timedelta(minutes=5), now=fixed_now)
    with pytest.raises(CaseError, match="尚未通过: 保密审查"):
        attempt(caseitems.publish_release, release_id=rel_id, published_at=fixed_now, channel="网站", now=fixed_now)
    attempt(caseitems.review_release, release_id=rel_id, step="保密审查", reviewer="保密员", decision="驳回",
            reviewed_at=t0 + H, now=fixed_now, comment="含未公开数据")
    with pytest.raises(CaseError, match="已被驳回"):
        attempt(caseitems.review_release, release_id=rel_id, step="保密审查", reviewer="保密员", decision="通过",
                reviewed_at=t0 + H, now=fixed_now)
    with pytest.raises(CaseError, match="驳回"):
        attempt(caseitems.publish_release, release_id=rel_id, published_at=fixed_now, channel="网站", now=fixed_now)
    with session_scope(sqlite_engine) as s:  # refusals stored nothing
        stored = s.get(Release, rel_id)
        assert stored.published_at is None and stored.status == "已驳回"
        assert clocks_by_rule(s, case_id)["other_response"].status == "running"
    attempt(caseitems.revise_release, release_id=rel_id, text="删去未公开数据后的正文", now=t0 + 70 * timedelta(minutes=1))
    # the new revision starts again from 初审: the old passes do not count
    with pytest.raises(CaseError, match="尚未通过: 初审"):
        attempt(caseitems.publish_release, release_id=rel_id, published_at=fixed_now, channel="网站", now=fixed_now)
    for i, step in enumerate(STEPS, 1):
        attempt(caseitems.review_release, release_id=rel_id, step=step, reviewer=f"审{i}", decision="pass",
                reviewed_at=t0 + H + i * timedelta(minutes=10), now=fixed_now)
    with pytest.raises(CaseError, match="早于最后一步审核时间"):
        attempt(caseitems.publish_release, release_id=rel_id, published_at=t0 + H, channel="网站", now=fixed_now)
    attempt(caseitems.publish_release, release_id=rel_id, published_at=fixed_now, channel="网站", now=fixed_now,
            url="https://example.gov.cn/a")
    with session_scope(sqlite_engine) as s:
        stored = s.get(Release, rel_id)
        assert stored.status == "已发布" and stored.revision == 2 and stored.url == "https://example.gov.cn/a"
        other = clocks_by_rule(s, case_id)["other_response"]
        assert other.status == "met" and other.met_at == fixed_now
        detail = caseviews.case_detail(s, case_id=case_id, policy=env.policy)
        reviews = detail["releases"][0]["reviews"]
        assert [(r["revision"], r["step"], r["decision"]) for r in reviews] == [
            (1, "初审", "通过"), (1, "复审", "通过"), (1, "终审", "通过"), (1, "保密审查", "驳回"),
            (2, "初审", "通过"), (2, "复审", "通过"), (2, "终审", "通过"), (2, "保密审查", "通过")]
        assert reviews[3]["reviewer"] == "保密员" and reviews[3]["comment"] == "含未公开数据"


def walk_to_responded(s, env, case_id, now) -> None:
    for to in ("研判", "交办", "处置", "已回应"):
        cases.change_status(s, case_id=case_id, to=to, now=now, actor="值班", env=env)


def test_closing_needs_the_publication_of_the_disposal_type(sqlite_engine, env, fixed_now) -> None:
    t0 = fixed_now - 3 * H
    with session_scope(sqlite_engine) as s:
        case = cases.open_case(s, title="困难家庭救助", grade="一般", discovered_at=t0, now=t0, actor="值班", env=env,
                               disposal_type="实际困难", responsible_unit="民政局")
        rel = reviewed_release(s, env, case.id, kind="权威信息", at=t0)
        caseitems.publish_release(s, release_id=rel.id, published_at=t0 + H, channel="网站", now=t0 + H,
                                  actor="值班", env=env)
        walk_to_responded(s, env, case.id, fixed_now)
        case_id = case.id
    with pytest.raises(CaseError, match="实际困难.*研究解决情况"), session_scope(sqlite_engine) as s:
        cases.change_status(s, case_id=case_id, to="办结", now=fixed_now, actor="值班", env=env)
    with session_scope(sqlite_engine) as s:
        assert s.get(Case, case_id).status == "已回应"
        assert "case.status" in audit_actions(s, "case")
        assert caseviews.case_detail(s, case_id=case_id, policy=env.policy)["close_blockers"]
        # a 研究解决情况 release still in review does not count
        pending = caseitems.add_release(s, case_id=case_id, kind="研究解决情况", title="研究解决情况",
                                        text="已纳入救助", now=fixed_now, actor="编辑", env=env)
        with pytest.raises(CaseError, match="研究解决情况"):
            cases.change_status(s, case_id=case_id, to="办结", now=fixed_now, actor="值班", env=env)
        for i, step in enumerate(STEPS, 1):
            caseitems.review_release(s, release_id=pending.id, step=step, reviewer=f"审{i}", decision="通过",
                                     reviewed_at=fixed_now, now=fixed_now, actor="编辑", env=env)
        caseitems.publish_release(s, release_id=pending.id, published_at=fixed_now, channel="网站",
                                  now=fixed_now, actor="值班", env=env)
        closed = cases.change_status(s, case_id=case_id, to="办结", now=fixed_now, actor="值班", env=env)
        assert closed.closed_at == fixed_now
        cases.change_status(s, case_id=case_id, to="归档", now=fixed_now, actor="值班", env=env)
    with session_scope(sqlite_engine) as s:
        with pytest.raises(CaseError, match="已归档"):
            caseitems.add_briefing(s, case_id=case_id, held_at=fixed_now, place="会议室", spokesperson="张三",
                                   now=fixed_now, actor="值班", env=env)
        with pytest.raises(CaseError, match="不允许从“归档”转为“处置”"):
            cases.change_status(s, case_id=case_id, to="处置", now=fixed_now, actor="值班", env=env)


def test_false_information_marked_illegal_needs_a_response_and_a_referral(sqlite_engine, env, fixed_now) -> None:
    t0 = fixed_now - 3 * H
    with session_scope(sqlite_engine) as s:
        case = cases.open_case(s, title="网传自来水有毒", grade="较大", discovered_at=t0, now=t0, actor="值班",
                               env=env, disposal_type="虚假和不实信息", lead_unit="水务局", suspected_illegal=True)
        rel = reviewed_release(s, env, case.id, kind="澄清回应", at=t0)
        caseitems.publish_release(s, release_id=rel.id, published_at=t0 + H, channel="政务微博", now=t0 + H,
                                  actor="值班", env=env)
        walk_to_responded(s, env, case.id, fixed_now)
        with pytest.raises(CaseError, match="移交.*尚未登记移交"):
            cases.change_status(s, case_id=case.id, to="办结", now=fixed_now, actor="值班", env=env)
        with pytest.raises(CaseError, match="未知的移交对象"):
            caseitems.add_referral(s, case_id=case.id, target="居委会", referred_at=fixed_now, now=fixed_now,
                                   actor="值班", env=env)
        with pytest.raises(CaseError, match="晚于当前时间"):
            caseitems.add_referral(s, case_id=case.id, target="公安机关", referred_at=fixed_now + H, now=fixed_now,
                                   actor="值班", env=env)
        caseitems.add_referral(s, case_id=case.id, target="公安机关", referred_at=fixed_now, now=fixed_now,
                               actor="值班", env=env, reference="X公(网安)移〔2026〕3号")
        assert cases.change_status(s, case_id=case.id, to="办结", now=fixed_now, actor="值班", env=env).status == "办结"
        detail = caseviews.case_detail(s, case_id=case.id, policy=env.policy)
        assert detail["referrals"][0]["target"] == "公安机关"
        assert detail["referrals"][0]["reference"] == "X公(网安)移〔2026〕3号"


def test_illegal_status_moves_are_refused_and_leave_no_trace(sqlite_engine, env, fixed_now) -> None:
    with session_scope(sqlite_engine) as s:
        case_id = cases.open_case(s, title="甲", grade="一般", discovered_at=fixed_now, now=fixed_now, actor="值班",
                                  env=env).id
    for to, message in (("办结", "不允许从“发现”转为“办结”\\(可转为: 研判\\)"), ("完成", "未知状态")):
        with pytest.raises(CaseError, match=message), session_scope(sqlite_engine) as s:
            cases.change_status(s, case_id=case_id, to=to, now=fixed_now, actor="值班", env=env)
    with session_scope(sqlite_engine) as s:
        cases.change_status(s, case_id=case_id, to="研判", now=fixed_now, actor="值班", env=env)
        with pytest.raises(CaseError, match="交办前须指定责任单位"):
            cases.change_status(s, case_id=case_id, to="交办", now=fixed_now, actor="值班", env=env)
        cases.change_status(s, case_id=case_id, to="处置", now=fixed_now, actor="值班", env=env)
        with pytest.raises(CaseError, match="已回应前须有已发布的权威信息"):
            cases.change_status(s, case_id=case_id, to="已回应", now=fixed_now, actor="值班", env=env)
    with session_scope(sqlite_engine) as s:
        assert s.get(Case, case_id).status == "处置"
        moves = [(a.before["status"], a.after["status"]) for a in s.exec(
            select(AuditLog).where(AuditLog.action == "case.status").order_by(AuditLog.id))]
        assert moves == [("发现", "研判"), ("研判", "处置")]
    with session_scope(sqlite_engine) as s:
        with pytest.raises(CaseError, match="未知的事件分级"):
            cases.regrade_case(s, case_id=case_id, grade="特大", now=fixed_now, actor="值班", env=env)
        with pytest.raises(CaseError, match="未知的处置类型"):
            cases.update_case(s, case_id=case_id, now=fixed_now, actor="值班", env=env,
                              changes={"disposal_type": "其他"})
        with pytest.raises(CaseError, match="晚于当前时间"):
            cases.open_case(s, title="未来", grade="一般", discovered_at=fixed_now + H, now=fixed_now, actor="值班",
                            env=env)


def test_commitments_move_forward_with_evidence_and_stop_their_clock(sqlite_engine, env, fixed_now) -> None:
    with session_scope(sqlite_engine) as s:
        case = cases.open_case(s, title="路灯不亮", grade="一般", discovered_at=fixed_now, now=fixed_now,
                               actor="值班", env=env)
        c = caseitems.add_commitment(s, case_id=case.id, text="一周内修复路灯", owner_unit="城管局",
                                     due_date=date(2026, 3, 9), now=fixed_now, actor="值班", env=env)
        clock = clocks_by_rule(s, c.id, "commitment")["commitment_due"]
        assert clock.due_at == env.calendar.end_of_day(date(2026, 3, 9))
        assert c.status == "未落实"
        caseitems.update_commitment(s, commitment_id=c.id, status="落实中", now=fixed_now, actor="城管局", env=env)
        with pytest.raises(CaseError, match="须提供落实证据"):
            caseitems.update_commitment(s, commitment_id=c.id, status="已落实", now=fixed_now, actor="城管局", env=env)
        with pytest.raises(CaseError, match="不能从“落实中”退回“未落实”"):
            caseitems.update_commitment(s, commitment_id=c.id, status="未落实", now=fixed_now, actor="城管局", env=env)
        done_at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # one day late
        caseitems.update_commitment(s, commitment_id=c.id, status="已落实", evidence="维修单 2026-031",
                                    at=done_at, now=done_at, actor="城管局", env=env)
        clock = clocks_by_rule(s, c.id, "commitment")["commitment_due"]
        assert clock.status == "met" and clock.late is True and clock.met_at == done_at
        with pytest.raises(CaseError, match="须说明公开位置"):
            caseitems.update_commitment(s, commitment_id=c.id, status="已公开", now=done_at, actor="城管局", env=env)
        caseitems.update_commitment(s, commitment_id=c.id, status="已公开", public_where="https://example.gov.cn/gk",
                                    now=done_at, actor="城管局", env=env)
        detail = caseviews.case_detail(s, case_id=case.id, policy=env.policy)["commitments"][0]
        assert detail["status"] == "已公开" and detail["public_at"] == done_at
        assert detail["clocks"][0]["rule"] == "commitment_due"
        with pytest.raises(CaseError, match="早于案件发现日期"):
            caseitems.add_commitment(s, case_id=case.id, text="x", owner_unit="城管局", due_date=date(2026, 1, 1),
                                     now=fixed_now, actor="值班", env=env)


def test_every_change_is_audited_with_before_and_after(sqlite_engine, env, fixed_now) -> None:
    t0 = fixed_now - 2 * H
    with session_scope(sqlite_engine) as s:
        case = cases.open_case(s, title="甲", grade="一般", discovered_at=t0, now=t0, actor="值班", env=env)
        cases.update_case(s, case_id=case.id, now=t0, actor="值班", env=env,
                          changes={"responsible_unit": "卫健委", "co_units": ["市监局", "公安局"]})
        cases.regrade_case(s, case_id=case.id, grade="重大", now=t0, actor="值班", env=env)
        cases.report_to_leadership(s, case_id=case.id, reported_at=t0, now=t0, actor="值班", env=env)
        rel = reviewed_release(s, env, case.id, kind="权威信息", at=t0)
        caseitems.publish_release(s, release_id=rel.id, published_at=fixed_now, channel="网站", now=fixed_now,
                                  actor="值班", env=env)
        caseitems.add_briefing(s, case_id=case.id, held_at=fixed_now, place="新闻中心", spokesperson="李四",
                               now=fixed_now, actor="值班", env=env)
        com = caseitems.add_commitment(s, case_id=case.id, text="公布检测结果", owner_unit="卫健委",
                                       due_date=date(2026, 3, 5), now=fixed_now, actor="值班", env=env)
        caseitems.update_commitment(s, commitment_id=com.id, status="落实中", now=fixed_now, actor="值班", env=env)
        caseitems.add_referral(s, case_id=case.id, target="网信部门", referred_at=fixed_now, now=fixed_now,
                               actor="值班", env=env)
        cases.change_status(s, case_id=case.id, to="研判", now=fixed_now, actor="值班", env=env)
        actions = audit_actions(s)
        for action in ("case.open", "case.update", "case.regrade", "case.leadership_report", "release.add",
                       "release.review", "release.publish", "case.release_published", "briefing.add",
                       "commitment.add", "commitment.update", "referral.add", "case.status", "clock.start",
                       "clock.met", "clock.cancel"):
            assert action in actions, action
        assert actions.count("release.review") == 4
        update = s.exec(select(AuditLog).where(AuditLog.action == "case.update")).one()
        assert update.before == {"responsible_unit": None, "co_units": []}
        assert update.after == {"responsible_unit": "卫健委", "co_units": ["市监局", "公安局"]}
        assert all(a.actor for a in s.exec(select(AuditLog)))
        detail = caseviews.case_detail(s, case_id=case.id, policy=env.policy)
        timeline = [t["action"] for t in detail["timeline"]]
        assert timeline[0] == "case.open" and "referral.add" in timeline and "clock.met" in timeline
        clocks = clocks_by_rule(s, case.id)
        assert clocks["press_briefing"].status == "met" and clocks["leadership_report"].status == "met"


def test_case_numbers_stay_unique_when_opened_concurrently(any_engine, env, fixed_now) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def opener(k: int) -> None:
        try:
            barrier.wait()
            for i in range(3):
                with session_scope(any_engine) as s:
                    cases.open_case(s, title=f"并发{k}-{i}", grade="一般", discovered_at=fixed_now, now=fixed_now,
                                    actor=f"值班{k}", env=env)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with session_scope(any_engine) as s:
        numbers = sorted(c.number for c in s.exec(select(Case)))
        assert numbers == [f"2026-{i:04d}" for i in range(1, 13)]
        assert len(s.exec(select(Clock).where(Clock.rule_id == "other_response")).all()) == 12


def test_case_events_raise_alerts_in_the_same_transaction(sqlite_engine, env, fixed_now) -> None:
    from ledger.models.alerts import Alert

    with pytest.raises(RuntimeError), session_scope(sqlite_engine) as s:
        cases.open_case(s, title="回滚", grade="重大", discovered_at=fixed_now, now=fixed_now, actor="值班", env=env)
        assert s.exec(select(Alert)).all()  # written by the notification hook, in this transaction
        raise RuntimeError("abort")
    with session_scope(sqlite_engine) as s:
        assert s.exec(select(Alert)).all() == [] and s.exec(select(Case)).all() == []
        case = cases.open_case(s, title="重大", grade="重大", discovered_at=fixed_now, now=fixed_now, actor="值班",
                               env=env)
        alerts = s.exec(select(Alert).where(Alert.subject == "case", Alert.subject_id == case.id)).all()
        assert alerts and alerts[0].group_key == f"case:{case.id}"
        assert case.number == "2026-0001"  # the rolled-back opening did not use up a number


def test_closing_stops_running_clocks_reopening_and_grading_down_restart_them(sqlite_engine, env, fixed_now) -> None:
    t0 = fixed_now - 2 * H
    with session_scope(sqlite_engine) as s:
        case = cases.open_case(s, title="疑问", grade="重大", discovered_at=t0, now=t0, actor="值班", env=env,
                               disposal_type="不了解情况、存在模糊认识", responsible_unit="教体局")
        rel = reviewed_release(s, env, case.id, kind="权威信息", at=t0)
        caseitems.publish_release(s, release_id=rel.id, published_at=t0 + H, channel="网站", now=t0 + H,
                                  actor="值班", env=env)
        walk_to_responded(s, env, case.id, fixed_now)
        cases.change_status(s, case_id=case.id, to="办结", now=fixed_now, actor="值班", env=env)
        closed = clocks_by_rule(s, case.id)
        assert closed["continued_release"].status == "cancelled"
        assert closed["press_briefing"].status == "cancelled"
        assert closed["leadership_report"].status == "breached"  # an overdue duty stays on record
        assert closed["authoritative_release_limit"].status == "met"
        reopened_at = fixed_now + H
        cases.change_status(s, case_id=case.id, to="处置", now=reopened_at, actor="值班", env=env, note="出现新情况")
        assert s.get(Case, case.id).closed_at is None
        again = clocks_by_rule(s, case.id)
        # duties cancelled at closing that apply again run from the reopening, not from their
        # original anchors (which would make the reopened case overdue at once)
        assert again["continued_release"].status == "running"
        assert again["continued_release"].anchor_at == reopened_at
        assert again["press_briefing"].anchor_at == reopened_at
        assert again["press_briefing"].due_at == reopened_at + 24 * H
        assert "重新开启" in again["press_briefing"].note
        assert again["authoritative_release_limit"].status == "met"  # done duties are not restarted
        assert again["leadership_report"].status == "breached"  # a missed duty stays missed
        cases.regrade_case(s, case_id=case.id, grade="一般", now=reopened_at, actor="值班", env=env)
        down = clocks_by_rule(s, case.id)
        assert down["continued_release"].status == "cancelled"
        # the 48 h response clock starts from discovery and is met by the release already published
        assert down["other_response"].anchor_at == t0
        assert down["other_response"].status == "met" and down["other_response"].met_at == t0 + H
