"""Prepare the demo database: the demo source pointing at the local platform, plus seed hooks.

The demo users, duty roster, cases and messages come from ``config.demo_seed``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from config.settings import Settings

DEMO_SOURCE = "示例市网络问政平台（演示）"


class DemoRefused(Exception):
    """The database is not a demo database: the demo must not seed it (message in Chinese)."""


def check_demo_database(engine: Engine) -> None:
    """Refuse (:class:`DemoRefused`) a database that is neither empty nor a demo database.

    The demo creates accounts with a published password; it may do so only in an empty database
    (no users, sources, posts, cases or messages) or in one an earlier demo made (the demo source
    is there and every account is a demo account). Anything else is a real ledger.
    """
    from sqlalchemy import func

    from config.demo_seed import DEMO_USERS
    from ledger.db import session_scope
    from ledger.models.cases import Case
    from ledger.models.core import Message, Post, Source
    from ledger.models.users import User

    with session_scope(engine) as session:
        users = set(session.exec(select(User.username)).scalars())  # type: ignore[call-overload]
        sources = set(session.exec(select(Source.name)).scalars())  # type: ignore[call-overload]
        data = sum(session.exec(select(func.count()).select_from(model)).one()[0]  # type: ignore[call-overload]
                   for model in (Post, Case, Message))
    if not users and not sources and not data:
        return
    demo_names = {u for u, _, _, _ in DEMO_USERS}
    if DEMO_SOURCE in sources and users <= demo_names:
        return
    raise DemoRefused(
        f"该数据库已有数据（用户 {len(users)} 个、来源 {len(sources)} 个、帖文/案件/留言 {data} 条），"
        "不是演示数据库：演示会创建使用公开密码的账号，因此拒绝在此运行。"
        "请用一个新的数据库运行演示，例如 YUQING_DATABASE_URL=sqlite:///demo.db yuqing demo "
        "(refused: this database is not empty and not a demo database)")


def prepare_demo(engine: Engine, settings: Settings, *, feed_url: str, interval: int,
                 now: datetime | None = None) -> list[str]:
    """Point the demo source at ``feed_url`` (creating it once) and seed the demo ledger.

    Raises :class:`DemoRefused` (and changes nothing) on a database that is not a demo database."""
    from ledger import audit
    from ledger.db import session_scope
    from ledger.models.core import Source
    from ledger.posts.sources import add_source

    check_demo_database(engine)
    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        src = session.exec(select(Source).where(Source.name == DEMO_SOURCE)).scalars().first()  # type: ignore[call-overload]
        if src is None:
            add_source(session, name=DEMO_SOURCE, kind="rss", url=feed_url, interval_seconds=interval,
                       actor="demo", now=now)
        elif src.url != feed_url:
            src.url, src.etag, src.last_modified = feed_url, None, None
            src.interval_seconds = interval
            session.add(src)
            audit.record(session, actor="demo", action="source.update", entity="source",
                         entity_id=src.id, now=now, after={"url": feed_url})
    from config.demo_seed import seed_demo

    return seed_demo(engine, settings, now)
