"""Events: posts stored in a real database are linked to duplicates and clustered into events."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from analysis.events import EventParams, features, heat, heat_base, keywords, trend
from analysis.normalize import content_hash, normalize_text
from ledger.db import make_engine, session_scope
from ledger.models.core import Post, Source
from ledger.models.events import Event
from ledger.posts.event_views import event_posts, event_trends, top_events
from ledger.posts.events import forget_state, process_new_posts
from tests.cli import run_cli
from tests.conftest import REPO, shared_data

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def store(engine, rows, *, now=NOW, batch=1000, source="测试来源"):
    """Insert posts the way the intake does (a batch, flushed, in one transaction) and process them."""
    with session_scope(engine) as s:
        src = s.scalars(select(Source).where(Source.name == source)).first()
        if src is None:
            src = Source(name=source, kind="file")
            s.add(src)
            s.flush()
        sid = src.id
    with session_scope(engine) as s:
        offset = s.execute(select(func.count()).select_from(Post)).scalar() or 0
    ids = []
    for start in range(0, len(rows), batch):
        values = []
        for i, r in enumerate(rows[start : start + batch]):
            title = normalize_text(r.get("title")) or None
            text = normalize_text(r["text"])
            values.append(
                {
                    "source_id": sid,
                    "external_id": str(r.get("id", offset + start + i)),
                    "title": title,
                    "text": text,
                    "content_hash": content_hash((title or "") + text),
                    "likes": r.get("likes", 0),
                    "dislikes": r.get("dislikes", 0),
                    "published_at": r.get("at"),
                    "fetched_at": now,
                    "categories": [],
                    "topics": [],
                    "pii": [],
                    "assessment": {},
                    "version": 1,
                    "reposts": 0,
                    "rumour": False,
                }
            )
        with session_scope(engine) as s:
            new_ids = (
                s.execute(insert(Post).returning(Post.id, sort_by_parameter_order=True), values)
                .scalars()
                .all()
            )
            posts = s.scalars(select(Post).where(Post.id.in_(new_ids)).order_by(Post.id)).all()
            process_new_posts(s, posts=posts, now=now)
        ids.extend(new_ids)
    return ids


def _posts(engine, ids):
    with session_scope(engine) as s:
        return {
            p.id: (p.dup_of_id, p.event_id) for p in s.scalars(select(Post).where(Post.id.in_(ids)))
        }


def _hotline_rows():
    path = shared_data("hotline_hot.csv")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            raw = r["留言时间"].replace("/", "-")
            try:
                at = datetime.fromisoformat(raw)
            except ValueError:
                at = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S")
            rows.append(
                {
                    "id": r["留言编号"],
                    "title": r["留言主题"],
                    "text": r["留言详情"],
                    "likes": int(r["点赞数"]),
                    "dislikes": int(r["反对数"]),
                    "at": (at - timedelta(hours=8)).replace(tzinfo=UTC),
                }
            )
    return rows


def test_hotline_hot_issues_are_one_event_each_and_among_the_ten_hottest(sqlite_engine):
    rows = _hotline_rows()
    ids = store(sqlite_engine, rows)
    links = _posts(sqlite_engine, ids)
    with session_scope(sqlite_engine) as s:
        top = top_events(s, limit=10, now=NOW)
    top_ids = [e["id"] for e in top]
    assert [e["heat"] for e in top] == sorted((e["heat"] for e in top), reverse=True)
    for key in ("58车贷", "丽发新城", "伊景园"):
        mentioning = [
            pid for pid, r in zip(ids, rows, strict=True) if key in r["title"] + r["text"]
        ]
        counts: dict[int, int] = {}
        for pid in mentioning:
            counts[links[pid][1]] = counts.get(links[pid][1], 0) + 1
        event_id, n = max(counts.items(), key=lambda kv: kv[1])
        assert n >= 0.8 * len(mentioning), (key, counts)
        assert event_id in top_ids, (key, top)
        ev = top[top_ids.index(event_id)]
        assert key in ev["title"] + " ".join(ev["keywords"]), ev
        # not split: no other hot event is labelled with the same name
        others = [
            e for e in top if e["id"] != event_id and key in e["title"] + " ".join(e["keywords"])
        ]
        assert not others, (key, others)


def test_weibo_rumour_and_rebuttal_are_one_event_the_hottest_of_the_day(sqlite_engine):
    path = shared_data("weibo_stream/2020-02-01.csv")
    day = datetime(2020, 2, 1, 4, 0, tzinfo=UTC)
    with path.open(encoding="utf-8") as fh:
        rows = [{"text": r["text"], "at": day} for r in csv.DictReader(fh)]
    ids = store(sqlite_engine, rows, batch=2000)
    links = _posts(sqlite_engine, ids)
    with session_scope(sqlite_engine) as s:
        top = top_events(s, limit=5, now=day + timedelta(hours=20))
    hottest = top[0]
    rumour = [
        pid for pid, r in zip(ids, rows, strict=True) if "#双黄连可抑制新型冠状病毒#" in r["text"]
    ]
    rebuttal = [
        pid
        for pid, r in zip(ids, rows, strict=True)
        if "#请勿抢购自行服用双黄连口服液#" in r["text"]
    ]
    in_hottest = lambda pids: sum(1 for p in pids if links[p][1] == hottest["id"]) / len(pids)
    assert in_hottest(rumour) > 0.6 and in_hottest(rebuttal) > 0.6, (
        in_hottest(rumour),
        in_hottest(rebuttal),
    )
    assert "双黄连" in hottest["title"] + " ".join(hottest["keywords"])
    assert hottest["posts"] > 1.2 * top[1]["posts"]
    # copies of a post point to the first one with that text and share its event
    dups = [(pid, d) for pid, (d, _) in links.items() if d is not None]
    assert len(dups) > 300
    assert all(links[pid][1] == links[orig][1] for pid, orig in dups[:500])


def test_duplicates_join_their_original_and_count_toward_its_event(any_engine):
    long = (
        "小区旁边的混凝土搅拌站每天晚上十点以后还在施工，噪音非常大，粉尘飘进家里，老人孩子都睡不好觉。"
        "我们多次向物业和街道反映都没有结果，恳请环保部门和城管部门尽快调查处理，还居民一个安静的环境。"
    )
    rows = [
        {"title": "丽发新城旁搅拌站夜间施工扰民", "text": long, "likes": 5},
        {"title": "丽发新城旁搅拌站夜间施工扰民！", "text": long + "  ", "likes": 3},  # same text
        {
            "title": "丽发新城旁搅拌站夜间施工扰民",
            "text": long.replace("十点", "十一点"),
            "likes": 1,
        },
        {
            "title": "建议增开公交线路",
            "text": "建议在高铁站和大学城之间增开一条公交线路，方便学生出行，减少换乘。",
        },
    ]
    ids = store(any_engine, rows)
    links = _posts(any_engine, ids)
    assert links[ids[0]][0] is None
    assert links[ids[1]][0] == ids[0]  # exact copy (punctuation and spaces do not count)
    assert links[ids[2]][0] == ids[0]  # near copy (SimHash)
    assert links[ids[3]][0] is None
    assert links[ids[0]][1] == links[ids[1]][1] == links[ids[2]][1] != links[ids[3]][1]
    with session_scope(any_engine) as s:
        ev = s.get(Event, links[ids[0]][1])
        assert (ev.posts, ev.likes) == (3, 9)
        assert [p.id for p in event_posts(s, event_id=ev.id, limit=10)] == [ids[0], ids[1], ids[2]]
    # a copy arriving later, in another batch, also finds its original in the database
    forget_state()
    later = store(any_engine, [{"title": rows[0]["title"], "text": long}])
    assert _posts(any_engine, later)[later[0]] == (ids[0], links[ids[0]][1])


def test_clustering_resumes_in_a_new_process(sqlite_engine, sqlite_url):
    first = [
        {
            "title": "A市丽发新城附近搅拌站噪音扰民",
            "text": "丽发新城小区旁建了一个搅拌站，日夜施工，噪音和粉尘严重影响居民生活。",
        },
        {
            "title": "投诉丽发新城搅拌站污染环境",
            "text": "丽发新城居民区附近的搅拌站违规建设，扬尘严重，晚上还在生产。",
        },
        {
            "title": "丽发新城搅拌站何时搬迁",
            "text": "请问丽发新城旁边的搅拌站什么时候能搬走，居民已经忍受很久了。",
        },
    ]
    ids = store(sqlite_engine, first)
    event_id = _posts(sqlite_engine, ids)[ids[0]][1]
    assert {e for _, e in _posts(sqlite_engine, ids).values()} == {event_id}
    # another process adds a post about the same thing: this process's cached state is stale
    script = textwrap.dedent(
        f"""
        import sys; sys.path.insert(0, {str(REPO)!r})
        from datetime import datetime, UTC
        from sqlalchemy import insert, select
        from analysis.normalize import content_hash
        from ledger.db import make_engine, session_scope
        from ledger.posts.events import process_new_posts
        from ledger.models.core import Post
        eng = make_engine({sqlite_url!r})
        text = "丽发新城搅拌站噪音太大，夜里施工不停，希望环保部门来查一查。"
        with session_scope(eng) as s:
            pid = s.execute(insert(Post).returning(Post.id), [dict(source_id=1, external_id="other-1",
                title="丽发新城搅拌站夜间施工", text=text, content_hash=content_hash(text),
                fetched_at=datetime(2026, 3, 2, tzinfo=UTC), categories=[], topics=[], pii=[],
                assessment={{}}, version=1, likes=0, dislikes=0, reposts=0, rumour=False)]).scalar_one()
            post = s.get(Post, pid)
            process_new_posts(s, posts=[post], now=datetime(2026, 3, 2, tzinfo=UTC))
            print(post.event_id)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert (
        int(out.stdout.strip().splitlines()[-1]) == event_id
    )  # resumed from the stored signatures
    more = store(
        sqlite_engine,
        [
            {
                "title": "丽发新城搅拌站扰民问题",
                "text": "丽发新城旁边搅拌站的噪音问题还没有解决，居民晚上睡不着。",
            },
            {
                "title": "建议A市增加公共自行车",
                "text": "建议在地铁站出口增加公共自行车投放点，方便市民最后一公里出行。",
            },
        ],
    )
    links = _posts(sqlite_engine, more)
    assert links[more[0]][1] == event_id and links[more[1]][1] != event_id
    with session_scope(sqlite_engine) as s:
        assert s.get(Event, event_id).posts == 5  # the other process's post counted too


def test_a_rolled_back_batch_leaves_no_trace_in_the_clusterer(sqlite_engine):
    rows = [
        {
            "title": "伊景园滨河苑捆绑销售车位",
            "text": "伊景园滨河苑开发商要求购房必须同时购买车位，属于捆绑销售。",
        }
    ]
    store(
        sqlite_engine,
        [{"title": "无关留言", "text": "建议延长图书馆开放时间，方便上班族周末借书学习。"}],
    )
    with pytest.raises(RuntimeError), session_scope(sqlite_engine) as s:
        pid = s.execute(
            insert(Post).returning(Post.id),
            [
                {
                    "source_id": 1,
                    "external_id": "x",
                    "title": rows[0]["title"],
                    "text": rows[0]["text"],
                    "content_hash": content_hash(rows[0]["text"]),
                    "fetched_at": NOW,
                    "categories": [],
                    "topics": [],
                    "pii": [],
                    "assessment": {},
                    "version": 1,
                    "likes": 0,
                    "dislikes": 0,
                    "reposts": 0,
                    "rumour": False,
                }
            ],
        ).scalar_one()
        process_new_posts(s, posts=[s.get(Post, pid)], now=NOW)
        raise RuntimeError("intake failed after clustering")
    ids = store(sqlite_engine, rows)
    with session_scope(sqlite_engine) as s:
        post = s.get(Post, ids[0])
        assert post.dup_of_id is None  # the rolled-back copy is not its original
        assert s.get(Event, post.event_id) is not None and s.get(Event, post.event_id).posts == 1


def test_heat_decays_and_trend_spots_a_spike(sqlite_engine):
    p = EventParams()
    assert heat_base(10, 100, 0, 0, p) == pytest.approx(10 + 2 * 10)
    assert heat(30.0, NOW, NOW, p) == 30.0
    assert heat(30.0, NOW - timedelta(hours=24), NOW, p) == pytest.approx(15.0)
    assert trend(8, 12, p)["spike"] and trend(8, 12, p)["direction"] == "突增"
    assert not trend(1, 12, p)["spike"] and trend(0, 24, p)["direction"] == "下降"
    text = "南湖路化工厂今天下午发生爆炸，现场浓烟滚滚，附近居民紧急疏散，消防正在处置。"
    rows = [
        {"text": f"{text}（目击{i}）", "at": NOW - timedelta(hours=h)}
        for i, h in enumerate([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 3, 9])
    ]
    ids = store(sqlite_engine, rows)
    event_id = _posts(sqlite_engine, ids)[ids[0]][1]
    with session_scope(sqlite_engine) as s:
        t = event_trends(s, event_ids=[event_id], now=NOW)[event_id]
        top = top_events(s, limit=3, now=NOW)
    assert (t["last_hour"], t["prev_12h"], t["spike"]) == (8, 2, True)
    assert top[0]["id"] == event_id and top[0]["trend"]["spike"]


def test_keywords_and_features_name_the_distinctive_things():
    f = features("丽发新城小区旁边建搅拌站，噪音扰民", title="投诉A2区丽发新城搅拌站")
    assert "@丽发新城" in f.terms and "丽发" in f.terms
    assert features("#双黄连可抑制新型冠状病毒# 抢购").hashtags == ["#双黄连可抑制新型冠状病毒#"]
    kws = keywords(
        ["丽发新城附近搅拌站噪音扰民", "丽发新城搅拌站粉尘污染", "搅拌站夜间施工"],
        {"@丽发新城": 3.0, "搅拌": 2.0, "拌站": 2.0, "噪音": 1.0},
    )
    assert kws[0] == "丽发新城" and "搅拌站" in kws


def test_cli_lists_the_hottest_events(sqlite_url):
    engine = make_engine(sqlite_url)
    from ledger.migrate import upgrade

    upgrade(sqlite_url)
    store(
        engine,
        [
            {
                "title": "伊景园滨河苑捆绑销售车位",
                "text": "伊景园滨河苑要求购房必须购买车位。",
                "likes": 4,
            },
            {
                "title": "伊景园滨河苑强制捆绑车位",
                "text": "坚决反对伊景园滨河苑强制捆绑销售车位。",
                "likes": 2,
            },
            {"title": "图书馆开放时间", "text": "建议延长市图书馆的开放时间。"},
        ],
    )
    engine.dispose()
    res = run_cli(
        "events", "list", "--json", "--top", "5", "--now", "2026-03-02T10:00:00", db_url=sqlite_url
    )
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data[0]["posts"] == 2 and data[0]["likes"] == 6
    assert {
        "id",
        "title",
        "keywords",
        "posts",
        "first_seen",
        "last_seen",
        "heat",
        "likes",
        "trend",
    } <= set(data[0])
    assert data[0]["last_seen"].endswith("+08:00") and "伊景园" in data[0]["title"]
    human = run_cli("events", "list", "--top", "5", db_url=sqlite_url)
    assert human.code == 0 and "热度" in human.out and "伊景园" in human.out
    missing = run_cli("events", "show", "999", db_url=sqlite_url)
    assert missing.code != 0 and "事件不存在" in missing.err


def test_dead_events_leave_the_index_so_memory_follows_the_active_events():
    """Events evicted from the LRU or merged away are swept from the postings, tag words and owners
    (else the index keeps every event ever seen, with its centroid, until its term lists fill)."""
    import gc

    from analysis.events import EventClusterer, EventState

    cl = EventClusterer(EventParams(max_active=50))
    feats = [features(f"第{i}号：{chr(0x4E00 + 3 * i)}{chr(0x5000 + 5 * i)}{chr(0x6000 + 7 * i)}路段施工 #{i}号通告#")
             for i in range(4_000)]
    cl.idf.update(f.terms.keys() for f in feats)
    for f in feats:
        _ev, created = cl.assign(cl.vector(f))
        assert created  # every post is about something else
    indexed = {id(e): e for table in (cl.postings, cl.tag_words) for evs in table.values() for e in evs}
    dead = [e for e in indexed.values() if not e.alive]
    assert len(cl.events) == 50
    assert len(dead) <= 1_000 < 4_000 - 50  # swept: at most one sweep's worth of dead events held
    assert all(e.alive for e in cl.owners.values())
    del indexed, dead, _ev
    gc.collect()
    in_memory = sum(isinstance(o, EventState) for o in gc.get_objects())
    assert in_memory <= 50 + 1_000  # the events evicted before the last sweep are freed


def test_clusterer_memory_is_bounded_and_evicted_events_still_count(sqlite_engine):
    from analysis.events import EventClusterer

    params = EventParams(max_active=5, df_cap=400)
    cl = EventClusterer(params)
    feats = [
        features(f"第{i}号公告：{chr(0x4E00 + 7 * i)}{chr(0x4E80 + 11 * i)}路段施工封闭")
        for i in range(60)
    ]
    cl.idf.update(f.terms.keys() for f in feats)
    for f in feats:
        cl.assign(cl.vector(f))
        assert len(cl.events) <= 5
    assert len(cl.postings) <= params.df_cap and len(cl.idf.df) <= params.df_cap
    # in the ledger: a copy of a post whose event was evicted still joins and counts toward it
    topics = [
        "青山路小区电梯故障多次维修无果，请督促物业尽快更换电梯。",
        "幸福街菜市场占道经营严重，早高峰车辆无法通行。",
        "实验小学门口上下学时段交通拥堵，建议增派交警疏导。",
        "东湖公园夜间广场舞音响声音太大，影响周边居民休息。",
        "高新区某工厂排放刺鼻气体，附近村民头晕恶心。",
        "建议开通机场到火车南站的夜间公交专线。",
        "某培训机构收取学费后突然关门，家长要求退费。",
        "城南医院挂号难，网上预约总是约满，请增加号源。",
    ]
    first = [{"title": f"留言{i}", "text": t} for i, t in enumerate(topics)]
    with session_scope(sqlite_engine) as s:
        s.add(Source(name="测试来源", kind="file"))
    forget_state()
    small = EventParams(max_active=2)
    ids = []
    for row in first + [first[0]]:
        with session_scope(sqlite_engine) as s:
            text = normalize_text(row["text"])
            pid = s.execute(insert(Post).returning(Post.id), [{
                "source_id": 1, "external_id": f"m{len(ids)}", "title": row["title"], "text": text,
                "content_hash": content_hash(text), "fetched_at": NOW, "categories": [], "topics": [],
                "pii": [], "assessment": {}, "version": 1, "likes": 1, "dislikes": 0, "reposts": 0,
                "rumour": False}]).scalar_one()  # fmt: skip
            process_new_posts(s, posts=[s.get(Post, pid)], now=NOW, params=small)
            ids.append(pid)
    links = _posts(sqlite_engine, ids)
    assert links[ids[-1]] == (ids[0], links[ids[0]][1])
    with session_scope(sqlite_engine) as s:
        assert s.get(Event, links[ids[0]][1]).posts == 2
        total = s.execute(
            select(func.sum(Event.posts)).where(Event.merged_into_id.is_(None))
        ).scalar()
        assert total == len(ids)  # every post counted exactly once


def test_idf_model_halves_its_vocabulary_past_the_cap():
    """A stream whose vocabulary grows past the cap is halved (bounded memory), and idf still answers."""
    from analysis.eventstate import IdfModel

    model = IdfModel(cap=2)
    model.update([["a", "b"], ["a", "c"]])  # 3 terms > cap 2: counts halved, singletons dropped
    assert model.df == {"a": 1}
    assert model.n == 1
    assert model.idf("a") < model.idf("never-seen")
    model.update_counts({"x": 4, "y": 2, "z": 2}, 4)
    assert len(model.df) <= 3 and model.df["x"] == 2
