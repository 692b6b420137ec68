"""The demo day (``yuqing demo``): a county office's day with cases in every state of the workflow,
messages answered on time, late, open and overdue, posts from several sources; stored once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from config.demo_day import seed_day
from config.demo_seed import seed_demo
from config.settings import get_settings
from ledger.db import session_scope
from ledger.models.cases import Case, Release
from ledger.models.core import Message, Post


def test_the_demo_day_has_every_state_and_is_stored_once(sqlite_engine, sqlite_url, monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    now = datetime.now(UTC)
    cfg = get_settings()
    seed_demo(sqlite_engine, cfg, now)
    lines = seed_day(sqlite_engine, cfg, now)
    assert lines and "演示日帖文" in lines[0]
    with session_scope(sqlite_engine) as s:
        statuses = set(s.exec(select(Case.status)).scalars())
        assert {"发现", "研判", "交办", "处置", "已回应", "办结", "归档"} <= statuses, statuses
        published = s.exec(select(Release).where(Release.published_at.is_not(None))).scalars().all()
        assert len(published) >= 3
        msgs = s.exec(select(Message)).scalars().all()
        assert len(msgs) >= 10
        answered = [m for m in msgs if m.replied_at is not None]
        assert any(m.on_time for m in answered) and any(m.on_time is False for m in answered)
        open_ = [m for m in msgs if m.replied_at is None]
        assert any(m.due_at and m.due_at < now for m in open_) and any(m.due_at and m.due_at > now for m in open_)
        n_posts = s.exec(select(func.count()).select_from(Post)).one()[0]
        n_cases = s.exec(select(func.count()).select_from(Case)).one()[0]
        assert n_posts >= 200
    assert seed_day(sqlite_engine, cfg, now) == []  # a second demo start adds nothing
    with session_scope(sqlite_engine) as s:
        assert s.exec(select(func.count()).select_from(Case)).one()[0] == n_cases
        assert s.exec(select(func.count()).select_from(Message)).one()[0] == len(msgs)
