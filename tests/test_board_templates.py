"""留言板 templates (人民网 地方领导留言板, a provincial 问政 board) against a local server that
plays the documented request/response formats: messages become posts and citizens' messages
with reply clocks, the board's state follows, and a wrong signature or a changed field falls
back to the public list and says why."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import select

from analysis.assess import Assessor
from config.settings import DEFAULTS_DIR
from crawlers.runner import CrawlOptions, crawl_source
from crawlers.templates import expand, load_templates
from ledger.clocks.replies import apply_reply_clock
from ledger.db import session_scope
from ledger.models import Message, Post, Source
from ledger.posts.sources import add_source
from tests.boardsrv import BoardServer

CATALOGUE = load_templates(DEFAULTS_DIR / "templates.toml")


@pytest.fixture
def reply_clock():
    from config.clockconfig import load_calendar, load_clock_rules
    from config.settings import get_settings

    cfg = get_settings()
    return partial(apply_reply_clock, calendar=load_calendar(cfg), rules=load_clock_rules(cfg))


def _add(engine, name: str, params: dict[str, str]) -> int:
    spec = expand(CATALOGUE[name], params, rsshub_url=None)
    with session_scope(engine) as s:
        return add_source(s, name=spec.name, kind=spec.kind, url=spec.url, config=spec.config,
                          actor="test", now=datetime(2026, 3, 2, tzinfo=UTC)).id


def _crawl(engine, sid: int, now: datetime, reply_clock):
    return crawl_source(engine, sid, options=CrawlOptions(), assessor=Assessor(), now=now, reply_clock=reply_clock)


def _messages(engine, sid: int) -> dict[str, Message]:
    with session_scope(engine) as s:
        rows = list(s.execute(select(Message).where(Message.source_id == sid)).scalars())
        for r in rows:
            s.expunge(r)
    return {m.external_id: m for m in rows}


def _set_config(engine, sid: int, change) -> None:
    with session_scope(engine) as s:
        src = s.get(Source, sid)
        cfg = copy.deepcopy(src.config)
        change(cfg)
        src.config = cfg
        s.add(src)


def test_people_board_api_stores_messages_with_clocks_and_follows_state(any_engine, fixed_now, reply_clock):
    with BoardServer() as srv:
        sid = _add(any_engine, "people_board", {"fid": srv.fid, "base": srv.base})
        report = _crawl(any_engine, sid, fixed_now, reply_clock)
        assert report.ok, report.error
        assert report.warning is None  # the signed API answered: no fallback
        assert srv.api_answers[0] == 200 and not any(r.startswith("GET /threads/list") for r in srv.requests)
        assert report.inserted == 3 and report.messages.inserted == 3
        msgs = _messages(any_engine, sid)
        assert {k: m.board_state for k, m in msgs.items()} == {
            "18000001": "待回复", "18000002": "办理中", "18000003": "已办理"}
        first = msgs["18000001"]
        assert first.channel == "网上留言" and first.unit == "青川县住建局"
        assert first.received_at == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
        assert first.due_at is not None and first.due_at > first.received_at  # reply clock applied
        assert first.reply_text is None
        done = msgs["18000003"]
        assert done.reply_text.startswith("您好，我局已会同公交公司研究") and done.on_time is not None
        with session_scope(any_engine) as s:
            posts = {p.external_id: p for p in s.execute(select(Post).where(Post.source_id == sid)).scalars()}
            assert first.post_id == posts["18000001"].id
            assert posts["18000001"].url == f"{srv.base}/threads/content?tid=18000001"

        # the board moves on: one is taken up, one answered
        srv.threads[0]["stateInfo"] = "办理中"
        srv.threads[1].update(stateInfo="已回复", answerContent="路灯已于3月3日修复。", answerDate=1772503200 + 86400)
        again = _crawl(any_engine, sid, fixed_now + timedelta(days=2), reply_clock)
    assert again.ok and again.messages.updated == 2 and again.messages.inserted == 0
    msgs = _messages(any_engine, sid)
    assert msgs["18000001"].board_state == "办理中" and msgs["18000001"].reply_text is None
    lamp = msgs["18000002"]
    assert lamp.board_state == "已办理" and lamp.reply_text == "路灯已于3月3日修复。"
    assert lamp.replied_at == datetime(2026, 3, 4, 2, 0, tzinfo=UTC) and lamp.on_time is True


def test_wrong_signature_falls_back_to_the_public_list(sqlite_engine, fixed_now, reply_clock):
    with BoardServer() as srv:
        sid = _add(sqlite_engine, "people_board", {"fid": srv.fid, "base": srv.base})
        _set_config(sqlite_engine, sid, lambda c: c["api"].update(app_code="PC-wrong-code"))
        report = _crawl(sqlite_engine, sid, fixed_now, reply_clock)
        assert srv.api_answers == [403]
        assert any(r.startswith("GET /threads/list") for r in srv.requests)
    assert report.ok and report.inserted == 3 and report.messages.inserted == 3
    assert "已改用公开列表" in report.warning and "签名错误" in report.warning
    with session_scope(sqlite_engine) as s:
        assert "签名错误" in s.get(Source, sid).last_warning
    msgs = _messages(sqlite_engine, sid)
    # the same external ids as the API gives, and the same states and text, from the public pages
    assert {k: m.board_state for k, m in msgs.items()} == {
        "18000001": "待回复", "18000002": "办理中", "18000003": "已办理"}
    assert msgs["18000001"].text.startswith("城东片区从3月1日起停水")
    assert msgs["18000001"].received_at == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    assert msgs["18000003"].reply_text.startswith("您好，我局已会同公交公司研究")


def test_changed_field_falls_back_and_a_config_edit_repairs_it(sqlite_engine, fixed_now, reply_clock):
    with BoardServer() as srv:
        srv.renamed = {"threadContent": "content"}
        sid = _add(sqlite_engine, "people_board", {"fid": srv.fid, "base": srv.base})
        report = _crawl(sqlite_engine, sid, fixed_now, reply_clock)
        assert report.ok and report.inserted == 3
        assert "接口字段变化" in report.warning and "threadContent" in report.warning
        # the site changed a field: the office edits the mapping, and the API is used again
        _set_config(sqlite_engine, sid, lambda c: c["api"]["fields"].update(text="content"))
        before = len(srv.requests)
        fixed = _crawl(sqlite_engine, sid, fixed_now + timedelta(hours=1), reply_clock)
        assert fixed.ok and fixed.warning is None and fixed.inserted == 0
        assert not any(r.startswith("GET ") for r in srv.requests[before:])


def test_provincial_board_reads_list_and_detail(sqlite_engine, fixed_now, reply_clock):
    with BoardServer() as srv:
        sid = _add(sqlite_engine, "rednet_board", {"area": srv.area, "base": srv.base})
        report = _crawl(sqlite_engine, sid, fixed_now, reply_clock)
    assert report.ok, report.error
    assert report.inserted == 2 and report.messages.inserted == 2 and report.warning is None
    msgs = _messages(sqlite_engine, sid)
    lift, clinic = msgs["5100001"], msgs["5100002"]
    assert lift.channel == "问政" and lift.board_state == "办理中" and lift.text.startswith("小区3号楼电梯停运半年")
    assert lift.received_at == datetime(2026, 3, 1, 1, 12, tzinfo=UTC) and lift.due_at is not None
    assert clinic.board_state == "已办理" and clinic.reply_text.startswith("经核查")
    assert clinic.replied_at == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_board_rows_not_found_is_a_clear_failure(sqlite_engine, fixed_now, reply_clock):
    with BoardServer() as srv:
        sid = _add(sqlite_engine, "rednet_board", {"area": "nope", "base": srv.base})
        report = _crawl(sqlite_engine, sid, fixed_now, reply_clock)
    assert not report.ok and "list.rows" in report.error
    assert _messages(sqlite_engine, sid) == {}



def test_board_source_through_the_cli_and_the_scheduler(sqlite_url, sqlite_engine):
    from config.service import Service
    from config.settings import get_settings
    from tests.cli import run_cli

    with BoardServer() as srv:
        added = run_cli("source", "add", "--template", "people_board", "--param", f"fid={srv.fid}",
                        "--param", f"base={srv.base}", db_url=sqlite_url)
        assert added.code == 0, added.err
        sid = int(added.out.strip())
        shown = run_cli("source", "test", str(sid), "--json", db_url=sqlite_url)  # fetch, store nothing
        assert shown.code == 0, shown.err
        assert _messages(sqlite_engine, sid) == {}
        crawled = run_cli("crawl", "--source", str(sid), db_url=sqlite_url)
        assert crawled.code == 0, crawled.err + crawled.out
        assert "留言 (messages): 新增 3, 更新 0, 未变 0" in crawled.out
    msgs = _messages(sqlite_engine, sid)
    assert len(msgs) == 3 and all(m.due_at is not None for m in msgs.values())  # the configured reply clock
    with session_scope(sqlite_engine) as s:
        src = s.get(Source, sid)
        assert src.kind == "board" and src.name == f"人民网 地方领导留言板 {srv.fid}"
        assert src.config["origins"] == [srv.base] and src.interval_seconds == 1800
    service = Service(sqlite_engine, get_settings(database_url=sqlite_url))
    try:
        service.sync_sources()
        assert {j.id for j in service.scheduler.get_jobs()} >= {f"crawl:{sid}"}  # scheduled like any source
    finally:
        service.stop()
