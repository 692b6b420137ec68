"""The seeds' remaining workflows through the service functions on real databases (SQLite and
PostgreSQL where tables changed), with the real tick and a real webhook receiving the alerts:
the policy register and its clock alerting the owning unit, reviewer separation and the
privacy reason stored, 涉嫌违法 on cases, the 公开 clock of fulfilled commitments alerting,
hand-entered messages, and the 宣传 / 网信 contacts of 重大 cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from config.caseconfig import load_case_env
from config.messageconfig import Channels, load_channels
from config.policyconfig import load_policy_env
from ledger.alerts import duty
from ledger.cases import items as caseitems
from ledger.cases import workflow as cases
from ledger.cases.policy import CasePolicyError
from ledger.cases.workflow import CaseError
from ledger.db import session_scope
from ledger.messages.entry import add_message, assign_unit, mark_simple
from ledger.messages.service import MessageError
from ledger.models.alerts import Alert
from ledger.models.cases import Case, ReleaseReview
from ledger.models.core import AuditLog, Message
from ledger.models.policies import PolicyDoc
from ledger.policies import PolicyError, add_policy, interpret_policy, policy_detail, return_policy
from ledger.users import add_user
from tests.test_alerts import ON_BOTH, db, got, tick, world

FIXTURES = (db, world)  # the roster, webhook and databases of the alert tests, used as fixtures here

H = timedelta(hours=1)
SH_FRIDAY = datetime(2025, 9, 26, 2, 0, tzinfo=UTC)  # Friday 10:00 Asia/Shanghai


def audit(s, entity: str, entity_id) -> list[AuditLog]:
    return list(s.exec(select(AuditLog).where(AuditLog.entity == entity, AuditLog.entity_id == str(entity_id))
                       .order_by(AuditLog.id)))


# ---------------------------------------------------------------------------- 1. policy interpretation
@ON_BOTH
def test_policy_clock_alerts_the_owning_unit_and_the_interpretation_resolves_it(world):
    engine, cfg, sink = world
    env = load_policy_env(cfg)
    base = f"json://127.0.0.1:{sink.port}"
    with session_scope(engine) as s:
        duty.upsert_person(s, name="发改委联络员", role="联络员", unit="发改委", urls=[f"{base}/ndrc"], now=SH_FRIDAY)
        pid = add_policy(s, title="关于促进消费的若干措施", unit="发改委", published_at=SH_FRIDAY, now=SH_FRIDAY + H,
                         actor="政务公开办", env=env).id
    # the warning at the start of the last working day (Tuesday 30th), the breach after it
    tick(engine, cfg, datetime(2025, 9, 29, 12, tzinfo=UTC))
    assert got(sink, "ndrc") == []
    tick(engine, cfg, datetime(2025, 9, 30, 1, tzinfo=UTC))
    assert got(sink, "ndrc") == ["【时限预警】政策解读：关于促进消费的若干措施"]
    tick(engine, cfg, datetime(2025, 9, 30, 16, 1, tzinfo=UTC))
    titles = got(sink, "ndrc")
    assert len(titles) == 2 and "已超最迟时限" in titles[1]
    assert "政策解读材料发布(3个工作日)已超过最迟时限（09-30 23:59）" in sink.bodies[-1]["message"]
    with session_scope(engine) as s:
        alert = s.exec(select(Alert).where(Alert.group_key == f"policy:{pid}")).one()
        assert alert.unit == "发改委" and alert.state == "open"
        interpret_policy(s, policy_id=pid, title="政策问答", form="问答", published_at=datetime(2025, 10, 2, tzinfo=UTC),
                         now=datetime(2025, 10, 2, tzinfo=UTC), actor="发改委", env=env)
    with session_scope(engine) as s:
        alert = s.exec(select(Alert).where(Alert.group_key == f"policy:{pid}")).one()
        assert alert.state == "resolved"
        data = policy_detail(s, policy_id=pid)
        assert data["status"] == "已解读" and data["clocks"][0]["status"] == "met" and data["clocks"][0]["late"]
        assert [e["action"] for e in data["timeline"] if e["action"].startswith("policy.")] == [
            "policy.add", "policy.interpret", "policy.status"]


def test_policy_register_refuses_bad_input_and_keeps_what_is_stored(any_engine, monkeypatch):
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    from config.settings import get_settings

    env = load_policy_env(get_settings())
    now = SH_FRIDAY + 48 * H
    with session_scope(any_engine) as s:
        pid = add_policy(s, title="文件", unit="教体局", published_at=SH_FRIDAY, now=now, actor="a", env=env).id
    for kwargs, message in (
        ({"title": "x", "unit": "u", "published_at": now + H}, "晚于当前时间"),
        ({"title": "x", "unit": "u", "published_at": SH_FRIDAY, "kind": "通知"}, "未知的文件类型"),
        ({"title": " ", "unit": "u", "published_at": SH_FRIDAY}, "文件标题不能为空"),
        ({"title": "x", "unit": "u", "published_at": datetime(2025, 9, 26, 10)}, "缺少时区"),
    ):
        with pytest.raises(PolicyError, match=message), session_scope(any_engine) as s:
            add_policy(s, now=now, actor="a", env=env, **kwargs)
    with pytest.raises(PolicyError, match="早于文件发布时间"), session_scope(any_engine) as s:
        interpret_policy(s, policy_id=pid, title="解读", form="文字", published_at=SH_FRIDAY - H, now=now, actor="a",
                         env=env)
    with pytest.raises(PolicyError, match="未知的解读形式"), session_scope(any_engine) as s:
        interpret_policy(s, policy_id=pid, title="解读", form="漫画", published_at=now, now=now, actor="a", env=env)
    with session_scope(any_engine) as s:
        assert [d.id for d in s.exec(select(PolicyDoc))] == [pid]
        return_policy(s, policy_id=pid, reason="未同步报送解读材料", now=now, actor="政务公开办", env=env)
    with session_scope(any_engine) as s:
        data = policy_detail(s, policy_id=pid)
        assert data["status"] == "退文" and data["clocks"][0]["status"] == "cancelled"
        with pytest.raises(PolicyError, match="已退文"):
            interpret_policy(s, policy_id=pid, title="解读", form="文字", published_at=now, now=now, actor="a", env=env)


def test_policy_published_before_a_year_without_a_calendar_is_provisional(any_engine, monkeypatch):
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    from config.settings import get_settings

    env = load_policy_env(get_settings())
    published = datetime(2030, 12, 30, 2, tzinfo=UTC)  # a year chinesecalendar does not know
    with session_scope(any_engine) as s:
        pid = add_policy(s, title="文件", unit="教体局", published_at=published, now=published, actor="a", env=env).id
        [clock] = policy_detail(s, policy_id=pid)["clocks"]
        assert clock["provisional"] is True


# ---------------------------------------------------------------------------- 2/3/8. reviews
@pytest.fixture
def case_env(monkeypatch):
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    from config.settings import get_settings

    return load_case_env(get_settings())


def test_review_separation_leader_and_privacy_reason_are_stored(any_engine, case_env, fixed_now):
    env = case_env
    t0 = fixed_now - 3 * H
    with session_scope(any_engine) as s:
        add_user(s, username="wang", password="correct-horse-9", role="领导", display_name="王局长", now=t0, actor="t")
        duty.upsert_person(s, name="赵主任", role="主要负责人", now=t0)
        case = cases.open_case(s, title="停水", grade="较大", discovered_at=t0, now=t0, actor="值班", env=env)
        rel = caseitems.add_release(s, case_id=case.id, kind="权威信息", title="通报", now=t0, actor="编辑", env=env,
                                    text="咨询电话 0571-87654321, 身份证 330106199001011234 的户主请联系")
        rid = rel.id

    def review(step, who, reason=None, decision="通过"):
        with session_scope(any_engine) as s:
            return caseitems.review_release(s, release_id=rid, step=step, reviewer=who, decision=decision,
                                            reviewed_at=fixed_now, now=fixed_now, actor="编辑", env=env,
                                            pii_ok_reason=reason)

    review("初审", "张三")
    with pytest.raises(CaseError, match="distinct_reviewers"):
        review("复审", "张三")
    review("复审", "李四")
    for who in ("李四", "王五"):  # the 复审 reviewer, then someone who is no leader
        with pytest.raises(CaseError, match="终审"):
            review("终审", who)
    review("终审", "王局长")  # a user with the 领导 role, by display name
    with pytest.raises(CaseError, match=r"固定电话 \*+-\*+21、身份证号 330106\*+1234"):
        review("保密审查", "保密员")
    with pytest.raises(CaseError, match="不同于"):
        review("保密审查", "王局长", reason="已征得本人同意")
    review("保密审查", "保密员", reason="户主本人要求公开联系方式")
    with session_scope(any_engine) as s:
        rows = list(s.exec(select(ReleaseReview).where(ReleaseReview.release_id == rid).order_by(ReleaseReview.id)))
        assert [(r.step, r.reviewer) for r in rows] == [("初审", "张三"), ("复审", "李四"), ("终审", "王局长"),
                                                       ("保密审查", "保密员")]
        assert rows[-1].pii_ok_reason == "户主本人要求公开联系方式" and rows[0].pii_ok_reason is None
    # the roster's 主要负责人 may do 终审 on a new revision too
    with session_scope(any_engine) as s:
        caseitems.revise_release(s, release_id=rid, text="请户主拨打政务热线", now=fixed_now, actor="编辑", env=env)
    review("初审", "张三")
    review("复审", "李四")
    review("终审", "赵主任")
    review("保密审查", "保密员")  # nothing personal left: no reason needed


def test_review_rules_are_configuration(case_env):
    from ledger.cases.policy import CasePolicy

    env = case_env
    assert env.policy.review.leader_steps == ("终审",) and env.policy.review.privacy_step == "保密审查"
    import tomllib

    from config.settings import DEFAULTS_DIR

    raw = tomllib.loads((DEFAULTS_DIR / "cases.toml").read_text(encoding="utf-8"))
    raw["review"]["leader_steps"] = ["三审"]
    with pytest.raises(CasePolicyError, match="leader_steps"):
        CasePolicy.from_config(raw)


# ---------------------------------------------------------------------------- 6. referrals
def test_suspected_illegal_is_stored_audited_and_blocks_closing_without_referral(any_engine, case_env, fixed_now):
    env = case_env
    t0 = fixed_now - 5 * H
    with session_scope(any_engine) as s:
        case = cases.open_case(s, title="网传虚假疫情", grade="较大", discovered_at=t0, now=t0, actor="值班", env=env,
                               disposal_type="虚假和不实信息", responsible_unit="卫健委")
        case_id = case.id
        assert cases.closing_problems(s, case=case, policy=env.policy) == [
            "处置类型“虚假和不实信息”须公开回应，并将涉嫌违法线索移交公安机关、网络监管部门: 尚无已发布的“澄清回应”或“权威信息”"]
        cases.update_case(s, case_id=case_id, now=t0 + H, actor="值班", env=env, changes={"suspected_illegal": True})
    with session_scope(any_engine) as s:
        case = s.get(Case, case_id)
        assert case.suspected_illegal is True
        assert any("尚未登记移交" in p for p in cases.closing_problems(s, case=case, policy=env.policy))
        [entry] = [a for a in audit(s, "case", case_id) if a.action == "case.update"]
        assert entry.before == {"suspected_illegal": False} and entry.after == {"suspected_illegal": True}
        caseitems.add_referral(s, case_id=case_id, target="网络监管部门", referred_at=t0 + 2 * H, now=t0 + 2 * H,
                               actor="值班", env=env)
        assert not any("尚未登记移交" in p for p in cases.closing_problems(s, case=case, policy=env.policy))


# ---------------------------------------------------------------------------- 4. 公开 of commitments
@ON_BOTH
def test_fulfilled_commitment_not_made_public_alerts_its_unit(world, fixed_now):
    engine, cfg, sink = world
    env = load_case_env(cfg)
    base = f"json://127.0.0.1:{sink.port}"
    t0 = fixed_now - 2 * H
    with session_scope(engine) as s:
        duty.upsert_person(s, name="住建局联络员", unit="住建局", urls=[f"{base}/zjj"], now=t0)
        case = cases.open_case(s, title="加装电梯", grade="一般", discovered_at=t0, now=t0, actor="值班", env=env,
                               responsible_unit="住建局")
        com = caseitems.add_commitment(s, case_id=case.id, text="月底前完成", owner_unit="住建局",
                                       due_date=(fixed_now + 300 * H).date(), now=t0, actor="值班", env=env)
        caseitems.update_commitment(s, commitment_id=com.id, now=fixed_now, actor="住建局", env=env,
                                    status="已落实", evidence="验收报告")
        cid = com.id
    tick(engine, cfg, fixed_now + H)
    assert got(sink, "zjj") == []  # 20 working days to publish
    tick(engine, cfg, fixed_now + 40 * 24 * H)
    titles = got(sink, "zjj")
    assert titles and "承诺落实情况逾期未公开" in titles[-1]
    assert "承诺落实情况公开(20个工作日)" in sink.bodies[-1]["message"]
    with session_scope(engine) as s:
        caseitems.update_commitment(s, commitment_id=cid, now=fixed_now + 41 * 24 * H, actor="住建局", env=env,
                                    status="已公开", public_where="https://example.gov.cn/gk")
        from ledger.clocks.service import clocks_for

        publish = [c for c in clocks_for(s, subject="commitment", subject_id=cid) if c.rule_id == "commitment_publish"]
        assert publish[0].status == "met" and publish[0].late is True


# ---------------------------------------------------------------------------- 5. messages entered by hand
@ON_BOTH
def test_hand_entered_messages_mark_and_assign_are_audited(db, monkeypatch):
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    from config.settings import get_settings

    _, engine = db
    cfg = get_settings()
    env = load_case_env(cfg)
    channels = load_channels(cfg)
    received = datetime(2024, 2, 8, 8, tzinfo=UTC)  # Thursday 16:00 before the Spring Festival
    now = datetime(2024, 2, 9, 2, tzinfo=UTC)
    with session_scope(engine) as s:
        m = add_message(s, channel=channels.canonical("省长建言"), title="建议增设公交线路", text="建议增设公交线路",
                        received_at=received, now=now, actor="值班", calendar=env.calendar, rules=env.rules,
                        source_name=channels.manual_source, author="市民乙")
        mid = m.id
        assert m.external_id == f"登记-{mid}" and m.due_at == datetime(2024, 2, 21, 15, 59, 59, tzinfo=UTC)
        m2 = add_message(s, channel="问政", title=None, text="第二条", received_at=received, now=now, actor="值班",
                         calendar=env.calendar, rules=env.rules, source_name=channels.manual_source)
        assert m2.source_id == m.source_id
    with session_scope(engine) as s:
        mark_simple(s, message_id=mid, simple=True, now=now, actor="值班", calendar=env.calendar, rules=env.rules)
        assign_unit(s, message_id=mid, unit="交通运输局", now=now, actor="值班", calendar=env.calendar,
                    rules=env.rules)
    with session_scope(engine) as s:
        m = s.get(Message, mid)
        assert m.simple is True and m.unit == "交通运输局"
        assert m.due_at == datetime(2024, 2, 19, 15, 59, 59, tzinfo=UTC)
        entries = audit(s, "message", mid)
        assert [e.action for e in entries] == ["message.add", "message.simple", "message.assign"]
        assert entries[1].before["simple"] is False and entries[1].after["simple"] is True
        assert entries[2].before["unit"] is None and entries[2].after["unit"] == "交通运输局"
    for fn, kwargs, message in (
        (mark_simple, {"simple": True}, "已是简单问题"),
        (assign_unit, {"unit": "交通运输局"}, "已由"),
        (assign_unit, {"unit": " "}, "不能为空"),
    ):
        with pytest.raises(MessageError, match=message), session_scope(engine) as s:
            fn(s, message_id=mid, now=now, actor="值班", calendar=env.calendar, rules=env.rules, **kwargs)
    with pytest.raises(MessageError, match="晚于当前时间"), session_scope(engine) as s:
        add_message(s, channel="问政", title="t", text="x", received_at=now + H, now=now, actor="值班",
                    calendar=env.calendar, rules=env.rules, source_name=channels.manual_source)


def test_channels_are_configuration():
    ch = Channels.from_config({"channels": ["12345热线", "网上留言"], "aliases": {"12345": "12345热线"}})
    assert ch.canonical("12345") == "12345热线" and ch.canonical(" 网上留言 ") == "网上留言"
    with pytest.raises(ValueError, match="未知渠道"):
        ch.canonical("领导信箱")
    with pytest.raises(ValueError, match="不在 channels"):
        Channels.from_config({"channels": ["网上留言"], "aliases": {"12345": "12345热线"}})
    from config.settings import get_settings

    shipped = load_channels(get_settings())
    for seed in ("12345热线", "政府信息公开咨询电话", "领导信箱", "网上留言", "问政", "省长建言", "调查征集"):
        assert seed in shipped.names


# ---------------------------------------------------------------------------- 7. 宣传 / 网信 linkage
@ON_BOTH
def test_major_case_reaches_the_publicity_and_cyberspace_contacts_at_once(world, fixed_now):
    engine, cfg, sink = world
    base = f"json://127.0.0.1:{sink.port}"
    with session_scope(engine) as s:
        duty.upsert_person(s, name="宣传部联络员", role="宣传部门", urls=[f"{base}/xcb"], now=fixed_now)
        duty.upsert_person(s, name="网信办联络员", role="网信部门", urls=[f"{base}/wxb"], now=fixed_now)
        cases.open_case(s, title="化工园区爆燃", grade="重大", discovered_at=fixed_now, now=fixed_now, actor="值班",
                        env=load_case_env(cfg))
        cases.open_case(s, title="小区停水", grade="较大", discovered_at=fixed_now, now=fixed_now, actor="值班",
                        env=load_case_env(cfg))
    tick(engine, cfg, fixed_now)
    for path in ("xcb", "wxb", "duty"):
        assert any("化工园区爆燃" in t for t in got(sink, path)), path
    assert not any("小区停水" in t for t in got(sink, "xcb") + got(sink, "wxb"))  # 较大: not by default


def test_linkage_is_configuration_of_the_major_chain():
    import tomllib

    from config.settings import DEFAULTS_DIR
    from ledger.alerts.escalation import EscalationPolicy

    pol = EscalationPolicy.from_dict(tomllib.loads((DEFAULTS_DIR / "escalation.toml").read_text(encoding="utf-8")))
    first = pol.chain_for("case_opened", "特别重大").steps[0].to
    assert "role:宣传部门" in first and "role:网信部门" in first
    assert "role:宣传部门" not in pol.chain_for("case_opened", "一般").steps[0].to
