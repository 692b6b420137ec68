"""A day of a county office for the demo: a few hundred posts of the last 24 hours from several
sources, events of different heat, cases at several stages with clocks running, due soon and
overdue, commitments, and the alerts the first tick raises.

Everything here is written for the project (invented places of the fictional 示例市, no real
people or numbers). Posts are generated from a few story lines so that the event clustering finds
hot and quiet events; the random generator is seeded, so every demo shows the same day.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from config.settings import Settings

SOURCES = (("示例市论坛（演示）", "rss"), ("微博话题（演示）", "rss"), ("本地新闻网（演示）", "rss"),
           ("短视频平台评论（演示）", "rss"))

# (story, weight = how many posts, hours ago the story started, post templates)
STORIES: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("化工园区爆炸", 90, 3, (
        "滨江区化工园区{place}方向传来巨响，浓烟很大，{who}说窗户都在震。",
        "化工园区爆炸后{place}附近封路了，有没有人知道伤亡情况？{feel}",
        "听说化工园区爆炸有人受伤送医，官方什么时候发布消息？{feel}",
        "{place}的居民被要求关窗，化工园区的烟雾有没有毒？{feel}",
    )),
    ("长乐路停水", 60, 20, (
        "青山区长乐路停水{n}小时了，{who}家里做饭都成问题，{feel}",
        "长乐社区停水没有提前通知，老人小孩怎么办？{feel}",
        "长乐路停水到现在还没恢复，供水公司电话打不通。{feel}",
    )),
    ("河道死鱼", 45, 18, (
        "河西区清河镇河道出现大量死鱼，气味很重，{who}担心水质。{feel}",
        "清河镇的河又黑又臭，死鱼漂了一片，环保部门管不管？{feel}",
    )),
    ("学校食堂", 35, 10, (
        "示例市第一中学食堂饭菜{feel}，家长群里在讨论孩子肚子疼的事。",
        "望湖街道一所学校食堂被家长投诉，{who}说孩子吃完不舒服。",
    )),
    ("工资拖欠", 30, 14, (
        "金桥工业园一家工厂拖欠工资{n}个月，工人们在门口等说法。{feel}",
        "石桥县工地拖欠农民工工资，马上过年了，{who}很着急。{feel}",
    )),
    ("公交线路", 25, 22, (
        "滨江大道新开的公交线路很方便，{who}点赞。",
        "建议望湖路公交站增设遮雨棚，雨天候车太难了。",
    )),
    ("限购谣言", 20, 6, (
        "网传示例市明天起全面限购，{who}转发的截图是真的吗？",
        "全面限购的消息到处在传，住建局能不能出来说一下？{feel}",
    )),
)
PLACES = ("长乐路", "望湖花园", "金桥村", "滨江大道", "青山公园", "长乐农贸市场")
WHO = ("邻居", "同事", "家里老人", "网友", "小区业主", "附近商户")
FEEL = ("太让人着急了", "希望尽快处理", "很担心", "有关部门快管管", "感谢及时回应", "不满意")


def demo_posts(now: datetime, seed: int = 2026) -> list[tuple[str, dict]]:
    """(source name, post fields) of the demo day, oldest first."""
    from ledger.posts.intake import RawPost

    rng = random.Random(seed)
    out = []
    for s_i, (story, weight, start_hours, templates) in enumerate(STORIES):
        for i in range(weight):
            # most posts of a story come early (a peak), a tail follows
            hours_ago = start_hours * (rng.random() ** 2.2)
            text = rng.choice(templates).format(place=rng.choice(PLACES), who=rng.choice(WHO),
                                                feel=rng.choice(FEEL), n=rng.randint(2, 30))
            source = SOURCES[(s_i + i) % len(SOURCES)][0]
            out.append((source, RawPost(external_id=f"day-{s_i}-{i}", title=text[:24], text=text,
                                        author=f"网友{rng.randint(1000, 9999)}",
                                        published_at=now - timedelta(hours=hours_ago, minutes=rng.randint(0, 59)),
                                        likes=rng.randint(0, 400), reposts=rng.randint(0, 80))))
    out.sort(key=lambda sp: sp[1].published_at)
    return out


def seed_day(engine: Engine, settings: Settings, now: datetime) -> list[str]:
    """Store the demo day's posts (once), move the demo cases along, add commitments, run a tick."""
    from config.wiring import build_assessor
    from ledger.db import session_scope
    from ledger.models.core import Post, Source
    from ledger.posts.intake import store_posts
    from ledger.posts.sources import add_source

    with session_scope(engine) as session:
        if session.exec(select(func.count()).select_from(Post).where(Post.external_id.like("day-%"))).one()[0]:  # type: ignore[call-overload,union-attr]
            return []
    assessor = build_assessor(settings)
    by_source: dict[str, list] = {}
    for source, post in demo_posts(now):
        by_source.setdefault(source, []).append(post)
    with session_scope(engine) as session:
        for name, kind in SOURCES:
            src = session.exec(select(Source).where(Source.name == name)).scalars().first()  # type: ignore[call-overload]
            if src is None:  # disabled: the demo day is stored once, nothing is crawled from these
                src = add_source(session, name=name, kind=kind, url=f"http://127.0.0.1/demo/{kind}",
                                 actor="demo", now=now, enabled=False)
            store_posts(session, source_id=src.id, items=by_source.get(name, []), assessor=assessor, now=now)
    lines = [f"已生成演示日帖文 {sum(len(v) for v in by_source.values())} 条（{len(SOURCES)} 个来源，近24小时）"]
    lines += _move_cases(engine, settings, now)
    return lines


def _move_cases(engine: Engine, settings: Settings, now: datetime) -> list[str]:
    """Cases at several stages: the demo cases move on, two more are opened, commitments due soon
    and overdue; then one tick raises the alerts of what is due."""
    from config.caseconfig import load_case_env
    from config.ticking import run_tick
    from ledger.cases.items import add_commitment
    from ledger.cases.workflow import change_status, open_case
    from ledger.db import session_scope
    from ledger.models.cases import Case

    env = load_case_env(settings)
    today = env.calendar.local_date(now)
    with session_scope(engine) as session:
        cases = {c.title: c for c in session.exec(select(Case)).scalars()}  # type: ignore[call-overload]
        river = cases.get("清河镇河道黑臭死鱼")
        if river is not None and river.status == env.policy.initial_status:
            for to in ("研判", "交办", "处置"):
                change_status(session, case_id=river.id, to=to, now=now, actor="demo", env=env)
            add_commitment(session, case_id=river.id, text="三日内完成河道清淤并公布水质检测结果",
                           owner_unit="示例市生态环境局", due_date=today + timedelta(days=1), now=now, actor="demo",
                           env=env)
        rumour = cases.get("网传示例市全面限购")
        if rumour is not None and rumour.status == env.policy.initial_status:
            change_status(session, case_id=rumour.id, to="研判", now=now, actor="demo", env=env)
        if "长乐路停水两天未恢复" not in cases:
            water = open_case(session, title="长乐路停水两天未恢复", grade="较大", discovered_at=now - timedelta(hours=47),
                              now=now, actor="demo", env=env, responsible_unit="示例市青山区人民政府",
                              disposal_type="实际困难", summary="长乐社区停水，居民反映未提前通知。")
            for to in ("研判", "交办"):
                change_status(session, case_id=water.id, to=to, now=now, actor="demo", env=env)
            add_commitment(session, case_id=water.id, text="恢复供水前每日两次送水上门",
                           owner_unit="示例市青山区人民政府", due_date=today - timedelta(days=1), now=now,
                           actor="demo", env=env)
        if "金桥工业园工厂拖欠工资" not in cases:
            open_case(session, title="金桥工业园工厂拖欠工资", grade="较大", discovered_at=now - timedelta(hours=50),
                      now=now, actor="demo", env=env, responsible_unit="示例市人社局", disposal_type="实际困难")
    _finished_cases(engine, env, now)
    _more_messages(engine, settings, now)
    summary = run_tick(engine, settings, now)
    return [f"已推进时钟：超时 {summary.get('clocks_breached', 0)} 项、临近 {summary.get('clocks_warning', 0)} 项，预警已生成"]


def _finished_cases(engine: Engine, env: Any, now: datetime) -> None:
    """Cases further along: one answered (已回应), one closed (办结), one archived (归档), each
    with its release reviewed by three different people (终审 by the leader on the roster) and
    published on time."""
    from ledger.cases.items import add_release, publish_release, review_release
    from ledger.cases.workflow import change_status, open_case
    from ledger.db import session_scope
    from ledger.models.cases import Case

    plans = [  # title, unit, hours ago discovered, how far it goes, release title
        ("东湖新区学校食堂食材变质传闻", "示例市市场监管局", 30, "已回应", "关于东湖新区学校食堂食材情况的说明"),
        ("北关村道路塌陷", "示例市交通运输局", 52, "办结", "北关村道路塌陷处置情况通报"),
        ("南湖社区电梯困人", "示例市市场监管局", 80, "归档", "南湖社区电梯困人事件处置情况"),
    ]
    with session_scope(engine) as session:
        titles = set(session.exec(select(Case.title)).scalars())  # type: ignore[call-overload]
        for title, unit, hours, goal, release_title in plans:
            if title in titles:
                continue
            found = now - timedelta(hours=hours)
            case = open_case(session, title=title, grade="较大", discovered_at=found, now=now, actor="demo", env=env,
                             responsible_unit=unit, disposal_type="不了解情况、存在模糊认识",
                             summary=f"{title}，网民关注，已核查。")
            for to in ("研判", "交办", "处置"):
                change_status(session, case_id=case.id, to=to, now=now, actor="demo", env=env)
            release = add_release(session, case_id=case.id, kind="权威信息", title=release_title,
                                  text="经核查，相关情况已妥善处置，后续进展将及时发布。", now=now, actor="demo",
                                  env=env, drafted_at=found + timedelta(minutes=40))
            for i, (step, who) in enumerate((("初审", "张值班"), ("复审", "刘带班"), ("终审", "王主任"),
                                             ("保密审查", "李保密"))):
                review_release(session, release_id=release.id, step=step, reviewer=who, decision="通过",
                               reviewed_at=found + timedelta(minutes=50 + 10 * i), now=now, actor="demo", env=env)
            publish_release(session, release_id=release.id, published_at=found + timedelta(hours=2), channel="政府网站",
                            now=now, actor="demo", env=env, url="http://www.example.gov.cn/xxgk/")
            for to in ("已回应", "办结", "归档")[: ("已回应", "办结", "归档").index(goal) + 1]:
                change_status(session, case_id=case.id, to=to, now=now, actor="demo", env=env)


MORE_MESSAGES = [  # id, title, text, days ago, unit, replied after (days) or None
    ("H-0004", "小区门口占道经营", "小区门口早市占道经营，车辆无法通行。", 6, "示例市城管局", 2),
    ("H-0005", "医保异地报销咨询", "在外地住院，医保如何异地报销？需要哪些材料？", 3, "示例市医保局", 1),
    ("H-0006", "路灯不亮", "新华路北段路灯连续一周不亮，夜间行走不安全。", 14, "示例市城管局", 12),
    ("H-0007", "学校周边交通拥堵", "实验小学放学时段周边道路拥堵严重，建议增派交警疏导。", 2, "示例市公安局", None),
    ("H-0008", "社区医院疫苗预约", "社区医院的疫苗预约电话一直打不通。", 5, "示例市卫健委", None),
    ("H-0009", "物业费上涨", "物业未经业主大会同意上调物业费。", 12, "示例市住建局", 4),
    ("H-0010", "农村饮水水质", "北关村自来水浑浊有异味，希望检测。", 1, "示例市水利局", None),
]


def _more_messages(engine: Engine, settings: Settings, now: datetime) -> None:
    """Citizens' messages in every state: answered on time, answered late, open, overdue."""
    from config.clockconfig import load_calendar, load_clock_rules
    from ledger.clocks.replies import apply_reply_clock
    from ledger.db import session_scope
    from ledger.messages.service import record_reply
    from ledger.models.core import Message, Source

    calendar, rules = load_calendar(settings), load_clock_rules(settings)
    with session_scope(engine) as session:
        src = session.exec(select(Source).where(Source.name == "12345热线（演示）")).scalars().first()  # type: ignore[call-overload]
        if src is None:
            return
        have = set(session.exec(select(Message.external_id).where(Message.source_id == src.id)).scalars())  # type: ignore[call-overload]
        added = []
        for ext, title, text, days_ago, unit, replied_after in MORE_MESSAGES:
            if ext in have:
                continue
            msg = Message(source_id=src.id, external_id=ext, channel="12345", title=title, text=text,
                          received_at=now - timedelta(days=days_ago, hours=2), unit=unit, simple=False)
            apply_reply_clock(msg, calendar=calendar, rules=rules)
            session.add(msg)
            added.append((msg, replied_after))
        session.flush()
        for msg, replied_after in added:
            if replied_after is not None:
                record_reply(session, message_id=msg.id, text=f"您好，关于“{msg.title}”，已转{msg.unit}核实处理，现答复如下：已安排专人办理。",
                             replied_at=msg.received_at + timedelta(days=replied_after), actor="demo", now=now,
                             calendar=calendar, rules=rules)
