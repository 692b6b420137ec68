"""Demo data written for the project: users of each role, a duty roster, and a few cases and messages.

Idempotent: running the demo again adds nothing twice. Passwords are demo-only and printed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from config.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = (
    ("zhiban", "值班员", None, "张值班"),
    ("danwei", "责任单位", "示例市生态环境局", "李科长"),
    ("lingdao", "领导", None, "王主任"),
    ("admin", "管理员", None, "系统管理员"),
)


def seed_demo(engine: Engine, settings: Settings, now: datetime) -> list[str]:
    """Create demo users, today's duty shifts, and demo cases and messages (once)."""
    import config.alerting  # noqa: F401  (registers alert routing for case events)
    from config.caseconfig import load_case_env
    from ledger.alerts.duty import add_shift, upsert_person
    from ledger.db import session_scope
    from ledger.models.cases import Case
    from ledger.models.users import User
    from ledger.users import add_user

    lines = []
    with session_scope(engine) as session:
        existing = set(session.exec(select(User.username)).scalars())  # type: ignore[call-overload]
        for username, role, unit, name in DEMO_USERS:
            if username not in existing:
                add_user(session, username=username, password=DEMO_PASSWORD, role=role, unit=unit,
                         display_name=name, can_see_pii=(role == "管理员"), now=now, actor="demo")
        for name, role in (("张值班", "值班人员"), ("刘带班", "带班领导"), ("王主任", "分管领导")):
            upsert_person(session, name=name, role=role, now=now, actor="demo")
        day = now.astimezone(SHANGHAI).replace(hour=8, minute=0, second=0, microsecond=0)
        for offset in (-1, 0, 1):
            start = day + timedelta(days=offset)
            add_shift(session, start_at=start, end_at=start + timedelta(days=1), on_duty=["张值班"],
                      leader="刘带班", now=now, actor="demo")
    lines.append("演示账号 (demo users, password " + DEMO_PASSWORD + "): "
                 + ", ".join(f"{u}({r})" for u, r, _, _ in DEMO_USERS))

    env = load_case_env(settings)
    with session_scope(engine) as session:
        if session.exec(select(func.count()).select_from(Case)).one()[0]:  # type: ignore[call-overload]
            return lines
    from ledger.cases.workflow import open_case

    with session_scope(engine) as session:
        open_case(session, title="滨江区化工园区企业爆炸事故舆情", grade="重大", discovered_at=now - timedelta(hours=2, minutes=20),
                  now=now, actor="demo", env=env, category="重大突发事件和自然灾害", disposal_type="重大问题",
                  responsible_unit="示例市应急管理局", summary="网传化工园区爆炸致多人受伤，需发布权威信息。")
        open_case(session, title="清河镇河道黑臭死鱼", grade="较大", discovered_at=now - timedelta(hours=20),
                  now=now, actor="demo", env=env, category="涉及公众切身利益且可能产生较大影响的报道",
                  disposal_type="实际困难", responsible_unit="示例市生态环境局")
        open_case(session, title="网传示例市全面限购", grade="一般", discovered_at=now - timedelta(hours=30),
                  now=now, actor="demo", env=env, disposal_type="虚假和不实信息", responsible_unit="示例市住建局")
    _seed_messages(engine, settings, now)
    lines.append("已创建演示案件与留言 (demo cases and messages created)")
    return lines


def _seed_messages(engine: Engine, settings: Settings, now: datetime) -> None:
    from config.clockconfig import load_calendar, load_clock_rules
    from ledger.clocks.replies import apply_reply_clock
    from ledger.db import session_scope
    from ledger.models.core import Message, Source
    from ledger.posts.sources import add_source

    calendar, rules = load_calendar(settings), load_clock_rules(settings)
    samples = [
        ("H-0001", "幸福里小区烧烤油烟扰民", "楼下烧烤摊每晚营业到凌晨，油烟噪音扰民，电话13700001111。", 9, "示例市生态环境局"),
        ("H-0002", "公交站台缺少遮雨棚", "滨江大道公交站台没有遮雨棚，雨天候车不便，建议增设。", 4, "示例市交通运输局"),
        ("H-0003", "取暖补贴何时发放", "低保户冬季取暖补贴什么时候发放？", 1, "示例市民政局"),
    ]
    with session_scope(engine) as session:
        src = session.exec(select(Source).where(Source.name == "12345热线（演示）")).scalars().first()  # type: ignore[call-overload]
        if src is None:
            src = add_source(session, name="12345热线（演示）", kind="hotline", url=None, actor="demo", now=now)
        for ext, title, text, days_ago, unit in samples:
            msg = Message(source_id=src.id, external_id=ext, channel="12345", title=title, text=text,
                          received_at=now - timedelta(days=days_ago), unit=unit, simple=(ext == "H-0003"))
            apply_reply_clock(msg, calendar=calendar, rules=rules)
            session.add(msg)
