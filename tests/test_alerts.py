"""Alerts end to end through real parts: cases and clocks in a real database, the real tick with
its alert hooks, routing by the duty roster, and a real JSON webhook receiving the messages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from config import alerting, ticking
from config.caseconfig import load_case_env
from config.settings import get_settings
from ledger.alerts import duty, notify
from ledger.alerts.escalation import (
    ACKNOWLEDGED,
    OPEN,
    RESOLVED,
    AlertError,
    acknowledge,
    list_alerts,
    make_ack_token,
    read_ack_claim,
    read_ack_token,
)
from ledger.cases import workflow as cases
from ledger.db import session_scope
from ledger.models.alerts import Alert, Notification
from ledger.models.core import Post, Source
from tests.alert_sinks import WebhookSink

M = timedelta(minutes=1)
H = timedelta(hours=1)


@pytest.fixture
def db(request, tmp_path):
    """SQLite by default; tests parametrized with ``ON_BOTH`` also run on a PostgreSQL schema."""
    from ledger.db import make_engine
    from ledger.migrate import upgrade

    url = (f"sqlite:///{tmp_path / 'yuqing.db'}" if getattr(request, "param", "sqlite") == "sqlite"
           else request.getfixturevalue("pg_url"))
    upgrade(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


ON_BOTH = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                  indirect=True)


@pytest.fixture
def world(db, fixed_now, tmp_path, monkeypatch):
    """A roster (甲 on duty, 乙 duty leader, 丙 分管领导, 丁 管理员) whose addresses are paths of one webhook."""
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    any_url, any_engine = db
    with WebhookSink() as sink:
        cfg = get_settings(database_url=any_url, data_dir=tmp_path, alert_urls=[], secret_key="s3cret",
                           public_base_url="https://yq.example.gov.cn")
        ctx = alerting.alert_context(cfg)
        monkeypatch.setattr(notify, "_provider", lambda: ctx)
        base = f"json://127.0.0.1:{sink.port}"
        with session_scope(any_engine) as s:
            for name, role, path in (("甲", "值班人员", "duty"), ("乙", "带班领导", "leader"),
                                     ("丙", "分管领导", "vice"), ("丁", "管理员", "admin")):
                duty.upsert_person(s, name=name, role=role, urls=[f"{base}/{path}"], now=fixed_now)
            duty.add_shift(s, start_at=fixed_now - 2 * H, end_at=fixed_now + 48 * H, on_duty=["甲"], leader="乙",
                           now=fixed_now)
        yield any_engine, cfg, sink


def got(sink: WebhookSink, path: str) -> list[str]:
    with sink.lock:
        return [b["title"] for p, b in zip(sink.paths, sink.bodies, strict=True) if p == f"/{path}"]


def open_case(engine, cfg, now, grade="较大", title="小区停水三天无人管"):
    with session_scope(engine) as s:
        return cases.open_case(s, title=title, grade=grade, discovered_at=now, now=now, actor="值班",
                               env=load_case_env(cfg), responsible_unit="住建局").id


def tick(engine, cfg, at):
    summary = ticking.run_tick(engine, cfg, at)
    assert summary["hook_errors"] == []
    return summary


def alert_of(engine, case_id) -> Alert:
    with Session(engine) as s:
        return s.exec(select(Alert).where(Alert.group_key == f"case:{case_id}")).one()


@ON_BOTH
def test_unacknowledged_alert_reaches_the_duty_leader_and_stops_at_the_cap(world, fixed_now):
    engine, cfg, sink = world
    open_case(engine, cfg, fixed_now)
    tick(engine, cfg, fixed_now)
    assert got(sink, "duty") == ["【新立台账】小区停水三天无人管"] and got(sink, "leader") == []
    tick(engine, cfg, fixed_now + 29 * M)  # 一般 chain: 30 min before the duty leader
    assert got(sink, "leader") == []
    tick(engine, cfg, fixed_now + 31 * M)
    assert got(sink, "leader") == ["【升级提醒·未确认】小区停水三天无人管"]
    assert got(sink, "vice") == []
    tick(engine, cfg, fixed_now + 31 * M)
    assert len(got(sink, "leader")) == 1  # the same instant twice sends nothing
    # a late run skips to the step that is due now and sends it once; repeats are capped (2)
    tick(engine, cfg, fixed_now + 2 * H)
    assert len(got(sink, "vice")) == 1
    for hours in (4, 6, 8, 12, 20):
        tick(engine, cfg, fixed_now + hours * H)
    assert len(got(sink, "vice")) == 3  # first notice + 2 repeats
    assert alert_of(engine, 1).next_step_at is None and len(got(sink, "duty")) == 1


@ON_BOTH
def test_acknowledged_alert_does_not_reach_the_duty_leader(world, fixed_now):
    engine, cfg, sink = world
    case_id = open_case(engine, cfg, fixed_now)
    tick(engine, cfg, fixed_now)
    with session_scope(engine) as s:
        alert = acknowledge(s, alert_id=alert_of(engine, case_id).id, by="甲", now=fixed_now + 20 * M)
        assert alert.state == ACKNOWLEDGED
    for minutes in (31, 90, 300):
        tick(engine, cfg, fixed_now + minutes * M)
    assert got(sink, "leader") == [] and got(sink, "vice") == []
    a = alert_of(engine, case_id)
    assert a.state == ACKNOWLEDGED and a.resolved_at is None and a.acknowledged_by == "甲"  # ack ≠ resolve


@ON_BOTH
def test_major_case_one_chain_breach_inhibits_missed_target(world, fixed_now):
    engine, cfg, sink = world
    case_id = open_case(engine, cfg, fixed_now, grade="重大", title="化工厂爆炸")
    tick(engine, cfg, fixed_now)
    # leadership report at once: on duty, duty leader and 分管领导 (also_to), never as "case opened"
    assert got(sink, "duty") == got(sink, "leader") == got(sink, "vice") == ["【第一时间向领导报告】化工厂爆炸"]
    tick(engine, cfg, fixed_now + 5 * H + 10 * M)  # target missed and limit breached in one tick
    last = sink.bodies[-1]["message"]
    assert "已超过最迟时限" in last and "发布权威信息(力争3小时)" not in last
    titles = [t for t in got(sink, "duty") if "最迟时限" in t]
    assert len(titles) == 1
    before = len(sink.bodies)
    tick(engine, cfg, fixed_now + 5 * H + 10 * M)
    assert len(sink.bodies) == before
    with Session(engine) as s:
        assert len(s.exec(select(Alert)).all()) == 1  # one case, one chain
    assert alert_of(engine, case_id).trigger == "clock_breached"


def test_acknowledged_alert_hears_only_stronger_news_without_escalating(world, fixed_now):
    engine, cfg, sink = world
    case_id = open_case(engine, cfg, fixed_now, grade="重大", title="化工厂爆炸")
    tick(engine, cfg, fixed_now)
    with session_scope(engine) as s:
        acknowledge(s, alert_id=alert_of(engine, case_id).id, by="甲", now=fixed_now + M)
    n = len(sink.bodies)
    tick(engine, cfg, fixed_now + 2 * H + 30 * M)  # a warning is weaker than the report: silence
    assert len(sink.bodies) == n
    tick(engine, cfg, fixed_now + 5 * H + 10 * M)  # a breach is news, for who is on it
    new = sink.bodies[n:]
    assert new and all("已确认预警的新情况" in b["title"] for b in new)
    assert "/vice" not in sink.paths[n:]
    assert alert_of(engine, case_id).state == ACKNOWLEDGED


def test_signed_link_acknowledges_and_forgeries_are_refused(world, fixed_now):
    engine, cfg, sink = world
    case_id = open_case(engine, cfg, fixed_now)
    tick(engine, cfg, fixed_now)
    body = sink.bodies[0]["message"]
    assert "https://yq.example.gov.cn/ack?token=" in body
    token = body.split("ack?token=")[1].split()[0]
    alert_id = read_ack_token("s3cret", token, max_age_seconds=3600)
    assert alert_id == alert_of(engine, case_id).id
    # the link sent to 甲 (on duty) acknowledges in 甲's name, whoever opens it
    assert read_ack_claim("s3cret", token, max_age_seconds=3600) == (alert_id, "甲")
    with pytest.raises(AlertError):
        read_ack_token("s3cret", token[:-2] + "xx", max_age_seconds=3600)
    with pytest.raises(AlertError):
        read_ack_token("other-key", token, max_age_seconds=3600)
    with pytest.raises(AlertError):
        read_ack_token("s3cret", make_ack_token("s3cret", 1), max_age_seconds=-1)
    with session_scope(engine) as s:
        acknowledge(s, alert_id=alert_id, by="乙", now=fixed_now + M, via="link")
    tick(engine, cfg, fixed_now + 2 * H)
    assert got(sink, "leader") == []


def test_low_grade_case_does_not_alert_and_closed_alerts_cannot_be_acked(world, fixed_now):
    engine, cfg, sink = world
    open_case(engine, cfg, fixed_now, grade="一般")
    tick(engine, cfg, fixed_now)
    assert sink.bodies == []
    with Session(engine) as s:
        assert s.exec(select(Alert)).all() == []
    with session_scope(engine) as s, pytest.raises(AlertError):
        acknowledge(s, alert_id=999, by="x", now=fixed_now)


def test_source_down_alerts_admin_and_resolves_when_back(world, fixed_now):
    engine, cfg, sink = world
    with session_scope(engine) as s:
        src = Source(name="市政府网站", kind="html", status="down", consecutive_failures=3, last_error="timeout",
                     last_error_at=fixed_now, created_at=fixed_now)
        s.add(src)
    tick(engine, cfg, fixed_now)
    with session_scope(engine) as s:  # it keeps failing while down
        src = s.exec(select(Source)).one()
        src.consecutive_failures, src.last_error_at = 4, fixed_now + M
        s.add(src)
    tick(engine, cfg, fixed_now + 2 * M)
    assert got(sink, "admin") == ["【信息来源中断】信息来源“市政府网站”中断"]
    assert got(sink, "duty") == []
    with session_scope(engine) as s:
        src = s.exec(select(Source)).one()
        src.status = "ok"
        s.add(src)
    tick(engine, cfg, fixed_now + 3 * M)
    with Session(engine) as s:
        assert [a.state for a in list_alerts(s, state=None)] == [RESOLVED]
    with session_scope(engine) as s:  # a later outage is a new alert
        src = s.exec(select(Source)).one()
        src.status = "down"
        s.add(src)
    tick(engine, cfg, fixed_now + 4 * M)
    assert len(got(sink, "admin")) == 2


def test_sensitive_posts_of_one_event_give_one_message(world, fixed_now):
    engine, cfg, sink = world
    with session_scope(engine) as s:
        src = Source(name="微博", kind="json", created_at=fixed_now)
        s.add(src)
        s.flush()
        for i, sens in enumerate((0.9, 0.8, 0.2)):  # cat.emergency threshold is 0.4 in rules.toml
            s.add(Post(source_id=src.id, external_id=f"p{i}", title=f"某地突发爆炸 {i}", text="现场浓烟 13912345678",
                       fetched_at=fixed_now - M, sensitivity=sens, event_id=7 if i < 2 else None,
                       categories=[{"id": "cat.emergency", "name": "重大突发事件和自然灾害"}]))
    tick(engine, cfg, fixed_now)
    tick(engine, cfg, fixed_now + M)
    duty_titles = got(sink, "duty")
    assert len(duty_titles) == 1 and duty_titles[0].startswith("【敏感舆情】")
    body = sink.bodies[0]["message"]
    assert "敏感度 0.90" in body and "敏感度 0.80" in body and "敏感度 0.20" not in body
    with Session(engine) as s:
        assert [a.group_key for a in s.exec(select(Alert)).all()] == ["event:7"]
    tick(engine, cfg, fixed_now + 25 * H)  # a quiet day later the event's alert is resolved
    with Session(engine) as s:
        assert s.exec(select(Alert)).one().state == RESOLVED
    assert len(got(sink, "duty")) == 1


@ON_BOTH
def test_a_busy_event_notifies_each_sensitive_post_once_across_batches(world, fixed_now):
    """More sensitive posts than one read batch (2,000): every post is in the event's alert once;
    later ticks send nothing again; a new post sends one message with that post only."""
    engine, cfg, sink = world
    with session_scope(engine) as s:
        src = Source(name="论坛", kind="json", created_at=fixed_now)
        s.add(src)
        s.flush()
        s.add_all([Post(source_id=src.id, external_id=f"b{i}", title=f"化工厂爆炸 第{i}帖", text="现场浓烟",
                        fetched_at=fixed_now - M, sensitivity=0.9, event_id=8,
                        categories=[{"id": "cat.emergency", "name": "重大突发事件和自然灾害"}]) for i in range(2100)])
    tick(engine, cfg, fixed_now)
    with Session(engine) as s:
        alert = s.exec(select(Alert)).one()
        assert alert.group_key == "event:8" and len(set(alert.triggers)) == 2100
    first = len(sink.bodies)
    tick(engine, cfg, fixed_now + M)
    tick(engine, cfg, fixed_now + 2 * M)
    assert len(sink.bodies) == first  # nothing notified twice
    with session_scope(engine) as s:
        src_id = s.exec(select(Source)).one().id
        s.add(Post(source_id=src_id, external_id="late", title="化工厂爆炸 新进展", text="又有浓烟", sensitivity=0.95,
                   fetched_at=fixed_now + 2 * M, event_id=8,
                   categories=[{"id": "cat.emergency", "name": "重大突发事件和自然灾害"}]))
    tick(engine, cfg, fixed_now + 3 * M)
    new = sink.bodies[first:]
    assert new and all("新进展" in b["message"] and "第1帖" not in b["message"] for b in new)
    with Session(engine) as s:
        assert len(set(s.exec(select(Alert)).one().triggers)) == 2101


def test_missing_holiday_calendar_reminds_in_december(world, fixed_now):
    engine, cfg, sink = world
    december = fixed_now.replace(year=2026, month=12, day=7)
    tick(engine, cfg, december)
    titles = got(sink, "admin")
    assert titles == ["【节假日安排缺失(时限暂按周末计算)】2027年节假日安排缺失"]
    with Session(engine) as s:
        alert = s.exec(select(Alert)).one()
        assert alert.state == OPEN and alert.group_key == "calendar:2027"
        assert all(n.alert_id == alert.id for n in s.exec(select(Notification)).all())


def test_ack_page_acknowledges_through_the_signed_link(world, fixed_now, monkeypatch):
    from streamlit.testing.v1 import AppTest

    engine, cfg, _sink = world
    case_id = open_case(engine, cfg, fixed_now)
    alert_id = alert_of(engine, case_id).id
    monkeypatch.setenv("YUQING_DATABASE_URL", str(engine.url))
    monkeypatch.setenv("YUQING_SECRET_KEY", "s3cret")

    def page(token: str) -> AppTest:
        at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboard" / "pages" / "ack.py"), default_timeout=60)
        at.query_params["token"] = token
        return at.run()

    forged = page(make_ack_token("wrong-key", alert_id))
    assert forged.error and "无效" in forged.error[0].value
    shared = page(make_ack_token("s3cret", alert_id))  # a link sent to a shared address names nobody
    assert not shared.exception
    assert any("请先登录" in i.value for i in shared.info)
    assert [b.key for b in shared.button if b.key == "ack_button"] == []  # no way to acknowledge unsigned
    assert alert_of(engine, case_id).state == OPEN
    at = page(make_ack_token("s3cret", alert_id, "乙"))
    assert not at.exception and alert_of(engine, case_id).state == OPEN  # opening the link alone does nothing
    assert "确认人：乙" in [t.value for t in at.text]
    assert len(at.text_input) == 0  # nobody types a name: the link's recipient is recorded
    at.button(key="ack_button").click().run()
    assert at.success and "已确认" in at.success[0].value
    a = alert_of(engine, case_id)
    assert a.state == ACKNOWLEDGED and a.acknowledged_by == "乙"


def _token_signed_hours_ago(secret_key: str, alert_id: int, hours: float, recipient: str | None = None) -> str:
    """A real acknowledgement token as the escalation signs it (naming ``recipient`` when given),
    but signed ``hours`` ago."""
    import time

    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from ledger.alerts.escalation import ACK_SALT

    class SignedEarlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - hours * 3600)

    data: dict = {"alert": int(alert_id)}
    if recipient:
        data["to"] = recipient
    return URLSafeTimedSerializer(secret_key, salt=ACK_SALT, signer=SignedEarlier).dumps(data)


def test_ack_page_refuses_a_link_older_than_the_configured_age(world, fixed_now, monkeypatch):
    """The page itself honours YUQING_ACK_LINK_MAX_AGE_HOURS (docs/ALERTS.md), not only the token reader."""
    from streamlit.testing.v1 import AppTest

    engine, cfg, _sink = world
    case_id = open_case(engine, cfg, fixed_now)
    alert_id = alert_of(engine, case_id).id
    monkeypatch.setenv("YUQING_DATABASE_URL", str(engine.url))
    monkeypatch.setenv("YUQING_SECRET_KEY", "s3cret")
    token = _token_signed_hours_ago("s3cret", alert_id, hours=3, recipient="甲")  # a link sent to one person

    def page() -> AppTest:
        at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboard" / "pages" / "ack.py"),
                               default_timeout=60)
        at.query_params["token"] = token
        return at.run()

    monkeypatch.setenv("YUQING_ACK_LINK_MAX_AGE_HOURS", "2")
    expired = page()
    assert expired.error and "过期" in expired.error[0].value
    assert not expired.button  # nothing to confirm with
    monkeypatch.setenv("YUQING_ACK_LINK_MAX_AGE_HOURS", "4")
    valid = page()
    assert not valid.error and not valid.exception and f"预警 #{alert_id}" in valid.subheader[0].value
    assert alert_of(engine, case_id).state == OPEN  # opening the link alone does nothing
    valid.button(key="ack_button").click().run()
    a = alert_of(engine, case_id)
    assert a.state == ACKNOWLEDGED and a.acknowledged_by == "甲"


def test_provisional_clock_alerts_until_the_calendar_is_known(world, fixed_now):
    from ledger.models.clocks import Clock

    engine, cfg, sink = world
    due = fixed_now.replace(year=2027, month=1, day=8)
    with session_scope(engine) as s:
        s.add(Clock(subject="disclosure", subject_id=1, rule_id="disclosure_reply", anchor_at=fixed_now, due_at=due,
                    provisional=True, started_at=fixed_now, updated_at=fixed_now))
    tick(engine, cfg, fixed_now)
    body = sink.bodies[-1]["message"]
    assert got(sink, "admin") == ["【节假日安排缺失(时限暂按周末计算)】2027年节假日安排缺失"]
    assert "目前有 1 个时限暂按周末计算" in body
    with session_scope(engine) as s:  # the calendar was supplied and the clock recomputed
        clock = s.exec(select(Clock)).one()
        clock.provisional = False
        s.add(clock)
    tick(engine, cfg, fixed_now + M)
    with Session(engine) as s:
        assert s.exec(select(Alert)).one().state == RESOLVED


def test_case_entered_late_alerts_its_overdue_clocks_at_once(world, fixed_now):
    engine, cfg, sink = world
    with session_scope(engine) as s:  # discovered 50 h before it was entered: the 48 h limit is past
        cases.open_case(s, title="迟报事件", grade="较大", discovered_at=fixed_now - 50 * H, now=fixed_now,
                        actor="值班", env=load_case_env(cfg))
    tick(engine, cfg, fixed_now)
    assert len(got(sink, "duty")) == 1
    first = sink.bodies[0]
    assert "已超最迟时限" in first["title"] and "回应其他政务舆情(48小时)已超过最迟时限" in first["message"]
    tick(engine, cfg, fixed_now + M)
    assert len(got(sink, "duty")) == 1


def test_message_past_its_reply_deadline_alerts_once_and_old_imports_stay_quiet(world, fixed_now):
    from ledger.models.core import Message

    engine, cfg, sink = world
    with session_scope(engine) as s:
        src = Source(name="12345热线", kind="hotline", created_at=fixed_now)
        s.add(src)
        s.flush()
        # M-2 came in with a historical import, already overdue: the importer marked it noted
        for ext, due, replied, noted in (("M-1", fixed_now - H, None, None),
                                         ("M-2", fixed_now - 72 * H, None, fixed_now - 72 * H),
                                         ("M-3", fixed_now - H, fixed_now - 2 * H, None)):
            s.add(Message(source_id=src.id, external_id=ext, channel="12345", title=f"留言{ext} 电话13812345678",
                          text="小区路灯不亮", unit="住建局", received_at=fixed_now - 200 * H, due_at=due,
                          replied_at=replied, overdue_at=noted))
    tick(engine, cfg, fixed_now)
    tick(engine, cfg, fixed_now + M)
    titles = got(sink, "duty")
    assert titles == ["【留言超期未答复】住建局留言超期未答复"]
    with sink.lock:
        import json

        body = " ".join(json.dumps(b, ensure_ascii=False) for b in sink.bodies)
    # the messages are named by their quoted titles: the signed acknowledge link is random base64 and may
    # spell "M-2" by chance
    assert "留言M-1" in body and "留言M-2" not in body and "留言M-3" not in body
    assert "13812345678" not in body


@ON_BOTH
def test_every_message_that_falls_due_during_a_long_gap_between_ticks_alerts_once(world, fixed_now):
    """The service was down for three days: messages that fell due meanwhile still alert, each
    once, however long ago their deadline passed; the next ticks add nothing."""
    from ledger.models.core import Message

    engine, cfg, sink = world
    tick(engine, cfg, fixed_now - 80 * H)  # the last tick before the downtime
    with session_scope(engine) as s:
        src = Source(name="12345热线", kind="hotline", created_at=fixed_now)
        s.add(src)
        s.flush()
        for ext, due in (("G-1", fixed_now - 70 * H), ("G-2", fixed_now - 30 * H), ("G-3", fixed_now + 5 * H)):
            s.add(Message(source_id=src.id, external_id=ext, channel="12345", title=f"留言{ext}", text="噪音",
                          unit="环保局", received_at=fixed_now - 200 * H, due_at=due))
    tick(engine, cfg, fixed_now)  # back up after 80 hours
    with sink.lock:
        import json

        body = " ".join(json.dumps(b, ensure_ascii=False) for b in sink.bodies)
    assert "留言G-1" in body and "留言G-2" in body and "留言G-3" not in body
    def message_keys() -> list[str]:
        with Session(engine) as s:
            return sorted(str(k) for a in s.exec(select(Alert).where(Alert.group_key == "messages:环保局")).all()
                          for k in a.triggers if str(k).startswith("message:"))

    with Session(engine) as s:
        noted = {m.external_id: m.overdue_at for m in s.exec(select(Message)).all()}
    assert len(message_keys()) == 2 and noted["G-1"] == noted["G-2"] == fixed_now and noted["G-3"] is None
    n = len(sink.bodies)
    tick(engine, cfg, fixed_now + M)
    assert len(sink.bodies) == n
    tick(engine, cfg, fixed_now + 6 * H)  # G-3 falls due while the service runs: one alert more
    assert len(message_keys()) == 3


def _sensitive_posts(engine, now, n: int, tag: str, event_id: int | None = None) -> list[int]:
    with session_scope(engine) as s:
        src = s.exec(select(Source).where(Source.name == "论坛")).first()
        if src is None:
            src = Source(name="论坛", kind="json", created_at=now)
            s.add(src)
            s.flush()
        posts = [Post(source_id=src.id, external_id=f"{tag}{i}", title=f"化工厂爆炸 {tag}{i}", text="现场浓烟",
                      fetched_at=now - M, sensitivity=0.9, event_id=event_id,
                      categories=[{"id": "cat.emergency", "name": "重大突发事件和自然灾害"}]) for i in range(n)]
        s.add_all(posts)
        s.flush()
        return [p.id for p in posts]


def test_a_sensitive_post_of_a_case_is_alerted_with_its_case(world, fixed_now):
    from ledger.models.cases import CasePost

    engine, cfg, _sink = world
    case_id = open_case(engine, cfg, fixed_now, grade="一般")
    (linked,) = _sensitive_posts(engine, fixed_now, 1, "c", event_id=9)
    (loose,) = _sensitive_posts(engine, fixed_now, 1, "d", event_id=9)
    with session_scope(engine) as s:
        s.add(CasePost(case_id=case_id, post_id=linked, added_at=fixed_now))
    tick(engine, cfg, fixed_now)
    with Session(engine) as s:
        groups = {a.group_key: set(a.triggers or []) for a in s.exec(select(Alert)).all()}
    assert f"post:{linked}" in groups[f"case:{case_id}"]  # with the case, not with its event
    assert groups["event:9"] == {f"post:{loose}"}


def test_the_tick_prepares_the_same_statements_however_many_posts_it_alerts(world, fixed_now):
    """Each distinct SQL text stays prepared in the connection's statement cache for as long as
    the service runs; a query whose text depended on how many posts a tick saw (an IN list of
    their ids) grew the service's memory by megabytes over hours."""
    from sqlalchemy import event

    engine, cfg, _sink = world
    seen: set[str] = set()
    event.listen(engine, "before_cursor_execute", lambda *a: seen.add(a[2]))
    at = fixed_now
    for i, n in enumerate((2, 3)):  # the statements of ticks that alert a few posts
        _sensitive_posts(engine, at, n, f"w{i}-", event_id=None)
        at += M
        tick(engine, cfg, at)
    warm = set(seen)
    for i, n in enumerate((5, 9, 17)):  # more posts per tick: no statement of a new text
        _sensitive_posts(engine, at, n, f"m{i}-", event_id=None)
        at += M
        tick(engine, cfg, at)
    assert sorted(seen - warm) == []
