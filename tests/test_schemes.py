"""Monitoring schemes through real parts: schemes saved in a real database (SQLite and PostgreSQL),
new posts stored by the real intake with the hook the composition root registers, alerts through
the escalation chain and the outbox to a real JSON webhook, the real CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, text

from analysis.assess import Assessor
from analysis.normalize import normalize_text
from config import alerting
from config.settings import get_settings
from ledger.alerts import duty, notify
from ledger.alerts.outbox import deliver_due
from ledger.db import session_scope
from ledger.models.alerts import Alert
from ledger.models.schemes import MonitorScheme
from ledger.posts.intake import NEW_POST_HOOKS, RawPost, store_posts
from ledger.posts.schemes import (
    SchemeError,
    SchemeMatcher,
    SchemeSpec,
    add_scheme,
    scheme_hit_ids,
    scheme_hits,
    set_enabled,
)
from ledger.posts.sources import add_source
from tests.alert_sinks import WebhookSink
from tests.cli import run_cli

NOW = datetime(2026, 3, 2, 2, 5, tzinfo=UTC)  # 10:05 Beijing time


def test_spec_is_validated_in_chinese():
    for kwargs, words in (
        ({"name": ""}, "名称不能为空"),
        ({"name": "x", "none_terms": "转发"}, "至少有一个必含词"),
        ({"name": "x", "all_terms": "黄"}, "至少两个字"),
        ({"name": "x", "all_terms": "双黄连", "grade": "很大"}, "等级须为"),
        ({"name": "x", "all_terms": "双黄连", "none_terms": "双黄连"}, "排除词与必含词"),
    ):
        with pytest.raises(SchemeError, match=words):
            SchemeSpec.build(**kwargs)
    spec = SchemeSpec.build(name="疫情药品", all_terms="雙黃連，ＡＢＣ", any_terms="抢购、口服液", none_terms=" 转发 ,")
    assert spec.all_terms == ("双黄连", "abc") and spec.any_terms == ("抢购", "口服液") and spec.none_terms == ("转发",)
    assert spec.expression() == "双黄连 且 abc 且 (抢购 或 口服液) 不含 转发"


def test_matcher_on_normalised_text():
    a = SchemeSpec.build(name="a", all_terms="双黄连", any_terms="抢购,口服液", none_terms="转发", id=1)
    b = SchemeSpec.build(name="b", any_terms="停水,停電", id=2)
    m = SchemeMatcher([a, b])
    assert m.match(None, "大家都在抢购双黄连") == [a]
    # the matcher reads stored (normalised) text; terms are normalised the same way
    assert m.match(normalize_text("雙黃連口服液"), "") == [a]
    assert m.match(None, "转发：抢购双黄连") == []  # excluded
    assert m.match(None, "双黄连") == []  # no any-term
    assert m.match(None, normalize_text("小區停電了，搶購双黄连口服液")) == [a, b]  # 停電 normalised to 停电
    assert m.match("抢购", "双黄") == []  # a term never spans title and text


@pytest.fixture
def world(any_engine, any_url, tmp_path, monkeypatch):
    """On duty 甲; the 市场监管局 has one person; both addresses are paths of one webhook; the
    scheme hook registered as the composition root does."""
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    monkeypatch.setenv("YUQING_SCHEME_ALERT_PERIOD_MINUTES", "60")
    with WebhookSink() as sink:
        cfg = get_settings(database_url=any_url, data_dir=tmp_path, alert_urls=[], secret_key="k")
        ctx = alerting.alert_context(cfg)
        monkeypatch.setattr(notify, "_provider", lambda: ctx)
        assert alerting.check_schemes in NEW_POST_HOOKS
        base = f"json://127.0.0.1:{sink.port}"
        with session_scope(any_engine) as s:
            duty.upsert_person(s, name="甲", role="值班人员", urls=[f"{base}/duty"], now=NOW)
            duty.upsert_person(s, name="市监张", role="联络员", unit="市场监管局", urls=[f"{base}/unit"], now=NOW)
            duty.add_shift(s, start_at=NOW - timedelta(hours=2), end_at=NOW + timedelta(hours=48), on_duty=["甲"],
                           leader="甲", now=NOW)
            sid = add_source(s, name="微博", kind="file", url=None, actor="t", now=NOW).id
        yield any_engine, sid, sink


def _ingest(engine, sid, texts, at, prefix):
    with session_scope(engine) as s:
        res = store_posts(s, source_id=sid, assessor=Assessor(), now=at,
                          items=[RawPost(external_id=f"{prefix}{i}", text=t) for i, t in enumerate(texts)])
    deliver_due(engine, now=at)
    return res


def _paths(sink):
    with sink.lock:
        return list(zip(sink.paths, [b["title"] for b in sink.bodies], [b["message"] for b in sink.bodies], strict=True))


def test_new_hits_raise_one_alert_per_scheme_per_period_to_its_unit(world):
    engine, sid, sink = world
    with session_scope(engine) as s:
        scheme_id = add_scheme(s, spec=SchemeSpec.build(name="双黄连抢购", all_terms="双黄连", any_terms="抢购,口服液",
                                                        none_terms="转发", unit="市场监管局"), actor="t", now=NOW).id
        other = add_scheme(s, spec=SchemeSpec.build(name="停水", any_terms="停水"), actor="t", now=NOW).id
    _ingest(engine, sid, ["药店里大家都在抢购双黄连", "双黄连口服液卖光了", "转发：抢购双黄连", "今天天气很好"], NOW, "a")
    got = _paths(sink)
    assert sorted(p for p, _t, _b in got) == ["/duty", "/unit"]  # the chain's first step and the scheme's unit
    assert all(t == "【监测方案命中】监测方案「双黄连抢购」有新命中" for _p, t, _b in got)
    assert "命中新帖文 2 条" in got[0][2] and "抢购双黄连" in got[0][2] and "转发" not in got[0][2].split("：\n")[1]
    with session_scope(engine) as s:
        alerts = list(s.execute(select(Alert)).scalars())
        assert [(a.trigger, a.unit, a.subject, a.subject_id) for a in alerts] == [
            ("scheme_hit", "市场监管局", "scheme", scheme_id)]
        row = s.get(MonitorScheme, scheme_id)
        assert row.hit_total == 2 and row.last_hit_at == NOW
        assert s.get(MonitorScheme, other).hit_total == 0
    # more hits in the same hour: grouped into the same alert, nobody is told again
    _ingest(engine, sid, ["又有人抢购双黄连口服液"], NOW + timedelta(minutes=20), "b")
    assert len(_paths(sink)) == 2
    with session_scope(engine) as s:
        assert s.execute(text("SELECT count(*) FROM alert")).scalar_one() == 1
        assert s.get(MonitorScheme, scheme_id).hit_total == 3
    # the next period opens a new alert
    _ingest(engine, sid, ["还在抢购双黄连"], NOW + timedelta(minutes=70), "c")
    assert len(_paths(sink)) == 4
    # a disabled scheme is not checked
    with session_scope(engine) as s:
        set_enabled(s, scheme_id=scheme_id, enabled=False, actor="t", now=NOW)
    _ingest(engine, sid, ["再次抢购双黄连"], NOW + timedelta(minutes=140), "d")
    assert len(_paths(sink)) == 4
    with session_scope(engine) as s:
        assert s.execute(text("SELECT count(*) FROM alert")).scalar_one() == 2


def test_schemes_are_read_once_per_batch_not_per_post(world):
    engine, sid, _sink = world
    with session_scope(engine) as s:
        add_scheme(s, spec=SchemeSpec.build(name="停水", any_terms="停水"), actor="t", now=NOW)
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if "monitor_scheme" in statement:
            seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        _ingest(engine, sid, [f"第{i}个小区停水" for i in range(300)] + ["无关"] * 100, NOW, "x")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert seen.count("SELECT") == 1  # 400 posts, one read of the schemes
    assert seen.count("UPDATE") == 1  # and one update of its hit count


def test_hits_over_stored_posts_equal_the_expression(any_engine):
    with session_scope(any_engine) as s:
        sid = add_source(s, name="微博", kind="file", url=None, actor="t", now=NOW).id
        texts = ["抢购双黄连", "双黄连口服液", "转发 抢购双黄连", "双黄连", "口服液抢购", "雙黃連搶購", "黄连素 抢购"]
        store_posts(s, source_id=sid, assessor=Assessor(), now=NOW,
                    items=[RawPost(external_id=str(i), text=t) for i, t in enumerate(texts)])
        spec = SchemeSpec.build(name="x", all_terms="双黄连", any_terms="抢购,口服液", none_terms="转发")
        stored = dict(s.execute(text("SELECT id, text FROM post")).all())
        expected = sorted((i for i, t in stored.items()
                           if "双黄连" in t and ("抢购" in t or "口服液" in t) and "转发" not in t), reverse=True)
        assert [stored[i] for i in expected] == ["双黄连抢购", "双黄连口服液", "抢购双黄连"]
        assert scheme_hit_ids(s, spec=spec) == expected
        total, posts = scheme_hits(s, spec=spec, limit=2)
        assert total == 3 and [p.id for p in posts] == expected[:2]
        assert scheme_hit_ids(s, spec=spec, since=NOW + timedelta(seconds=1)) == []
        only_any = SchemeSpec.build(name="y", any_terms="口服液,抢购", none_terms="双黄连")
        assert [stored[i] for i in scheme_hit_ids(s, spec=only_any)] == ["黄连素 抢购", "口服液抢购"]


def test_cli_scheme_commands(sqlite_url, sqlite_engine):
    with session_scope(sqlite_engine) as s:
        sid = add_source(s, name="微博", kind="file", url=None, actor="t", now=NOW).id
        store_posts(s, source_id=sid, assessor=Assessor(), now=NOW, items=[
            RawPost(external_id="1", text="抢购双黄连 电话13812345678"), RawPost(external_id="2", text="转发 抢购双黄连")])
    r = run_cli("scheme", "add", "--name", "双黄连", "--all", "双黄连", "--any", "抢购,口服液", "--none", "转发",
                "--unit", "市场监管局", "--grade", "较大", db_url=sqlite_url)
    assert r.code == 0, r.err
    scheme_id = int(r.out.strip())
    r = run_cli("scheme", "add", "--name", "双黄连", "--all", "双黄连", db_url=sqlite_url)
    assert r.code == 2 and "同名" in r.err
    r = run_cli("scheme", "add", "--name", "坏", "--all", "黄", db_url=sqlite_url)
    assert r.code == 2 and "至少两个字" in r.err
    r = run_cli("scheme", "hits", str(scheme_id), "--count", db_url=sqlite_url)
    assert r.code == 0 and r.out.strip() == "1"
    r = run_cli("scheme", "hits", str(scheme_id), "--json", db_url=sqlite_url)
    rows = json.loads(r.out)
    assert [x["external_id"] for x in rows] == ["1"] and "138****5678" in rows[0]["text"]
    r = run_cli("scheme", "hits", str(scheme_id), "--count", "--since", "2026-03-03", db_url=sqlite_url)
    assert r.out.strip() == "0"
    r = run_cli("scheme", "list", "--json", db_url=sqlite_url)
    (listed,) = json.loads(r.out)
    assert listed["expression"] == "双黄连 且 (抢购 或 口服液) 不含 转发" and listed["unit"] == "市场监管局"
    assert listed["enabled"] is True and listed["grade"] == "较大"
    r = run_cli("scheme", "disable", str(scheme_id), db_url=sqlite_url)
    assert r.code == 0 and "已停用" in r.out
    assert json.loads(run_cli("scheme", "list", "--json", db_url=sqlite_url).out)[0]["enabled"] is False
    r = run_cli("scheme", "hits", "999", db_url=sqlite_url)
    assert r.code == 2 and "不存在" in r.err
