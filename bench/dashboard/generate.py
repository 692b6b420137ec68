"""Synthetic ledger for the dashboard benchmark, bulk-loaded with COPY into a migrated PostgreSQL schema.

Everything is derived from one seeded random generator and ``now``: posts from several sources
spread over 90 days (daily rhythm, events with bursts, duplicates, assessment JSON shaped like
``analysis.assess`` output), events with totals matching their posts, cases with the clocks the
shipped clock rules would start (restarted 持续发布 clocks included), releases with review steps,
briefings, commitments with their clocks, referrals, case posts, audit entries, citizens' messages
with reply clocks, alerts, the duty roster, people and dashboard users. Ids are given explicitly
and the sequences moved past them afterwards.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from ledger.db import make_engine

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS = 90
DEFAULTS = Path(__file__).resolve().parents[2] / "config" / "defaults"

SOURCES = [  # name, kind, has titles, weight among posts
    ("示例市人民政府网站·政民互动", "html", True, 0.06),
    ("示例日报", "rss", True, 0.10),
    ("示例新闻网", "rss", True, 0.12),
    ("本地生活论坛", "json", True, 0.17),
    ("示例发布微博评论", "json", False, 0.30),
    ("短视频平台评论", "json", False, 0.20),
    ("问政平台", "html", True, 0.05),
    ("12345热线", "hotline", True, 0.0),
]
PLACES = ["青山区长乐街道", "青山区望湖街道", "青山区金桥镇", "河西区新华街道", "河西区白沙街道", "河西区柳林镇",
          "湖滨区滨江街道", "长乐农贸市场", "望湖花园小区", "示例市第一中学", "金桥工业园", "示例市第一人民医院",
          "白沙小学", "柳林化工园区", "滨江广场", "新华路", "望湖路"]
ISSUES = ["小区电梯长期故障无人维修", "道路施工噪音扰民到深夜", "农贸市场占道经营", "学校周边交通拥堵",
          "供暖温度不达标", "物业乱收费", "河道有异味", "工地夜间违规施工", "公交线路调整出行不便",
          "医院挂号难排队久", "企业拖欠农民工工资", "燃气管道老化有隐患", "停车位严重不足", "垃圾清运不及时",
          "新建住宅楼房屋漏水", "化工园区排放刺鼻气味", "校外培训机构退费难", "老旧小区改造进度慢"]
DETAILS = ["已经多次向社区反映", "打了好几次电话都说在处理", "附近居民意见很大", "有老人小孩受到影响",
           "现场图片已经发到网上", "记者现场看到情况属实", "相关部门回应正在调查", "不少网友跟帖称有同样遭遇"]
ASKS = ["希望有关部门尽快处理。", "请领导关注一下！", "到底归谁管？", "什么时候能解决？", "强烈要求给个说法。"]
GOOD = ["新修的口袋公园很漂亮", "办事窗口服务很热情", "道路整修后通行顺畅多了", "社区志愿者帮了大忙"]
NEWS = ["召开专题会议部署{i}整治工作", "通报{i}问题处理进展", "回应网民关于{i}的关切"]
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞"]
UNITS = ["青山区住建局", "青山区教育局", "青山区市场监管局", "青山区城管局", "河西区住建局", "河西区教育局",
         "河西区人社局", "河西区卫健委", "湖滨区住建局", "湖滨区城管局", "示例市生态环境局青山分局",
         "示例市生态环境局河西分局", "示例市交通运输局", "示例市卫健委", "示例市人社局", "示例市公安局",
         "示例市地方金融监督管理局", "长乐街道办事处", "望湖街道办事处", "新华街道办事处"]
COUNTIES = ["青山区", "河西区", "湖滨区", "示例市"]
CHANNELS = ["12345", "领导信箱", "网上留言", "问政"]
ROLES = ["值班员", "责任单位", "领导", "管理员"]
FAKE_HASH = "$argon2id$v=19$m=65536,t=3,p=4$YmVuY2g$bm90LWEtcmVhbC1oYXNoLWJlbmNoLW9ubHk"

PostCols = ["id", "source_id", "external_id", "url", "title", "text", "author", "published_at", "fetched_at",
            "updated_at", "version", "content_hash", "simhash", "dup_of_id", "likes", "dislikes", "reposts",
            "sentiment", "sentiment_score", "categories", "topics", "sensitivity", "severity", "jurisdiction",
            "responsible_unit", "disposal_type", "rumour", "pii", "assessment", "event_id"]


def _load_rules() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any], dict[str, Any]]:
    """Monitoring categories / topics (as flags), the clock rules, and the case policy from the shipped TOML."""
    from ledger.clocks.rules import load_rules

    rules = tomllib.loads((DEFAULTS / "rules.toml").read_text(encoding="utf-8"))
    cats, tops = {}, {}
    for r in rules.get("rules", []):
        target = cats if r["id"].startswith("cat.") else tops
        terms = [t for group in (r.get("any") or [])[:3] for t in ([group] if isinstance(group, str) else group)]
        flag = {"id": r["id"], "name": r["name"], "terms": terms[:2] or [r["name"][:4]]}
        if r.get("lead_unit"):
            flag["lead_unit"] = r["lead_unit"]
        target.setdefault(r["name"], flag)
    clock_rules = load_rules(tomllib.loads((DEFAULTS / "clocks.toml").read_text(encoding="utf-8")))
    policy = tomllib.loads((DEFAULTS / "cases.toml").read_text(encoding="utf-8"))
    return list(cats.values()), list(tops.values()), clock_rules, policy


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _copy(conn, table: str, cols: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    n = 0
    with conn.cursor() as cur, cur.copy(f'COPY "{table}" ({", ".join(cols)}) FROM STDIN') as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def _working_days_after(start: datetime, days: int) -> datetime:
    """End of the ``days``-th working day after ``start`` (Mon–Fri, Asia/Shanghai), as UTC."""
    d = start.astimezone(SHANGHAI).date()
    left = days
    while left:
        d += timedelta(days=1)
        if d.weekday() < 5:
            left -= 1
    return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=SHANGHAI).astimezone(UTC)


class Gen:
    """One generation run: ``Gen(url, posts=..., cases=..., now=...).run()`` → counts and timings."""

    def __init__(self, url: str, *, posts: int, cases: int, now: datetime, seed: int = 20260301,
                 log: Callable[[str], None] = print) -> None:
        self.url, self.n_posts, self.n_cases, self.now, self.log = url, posts, cases, now, log
        self.rnd = random.Random(seed)
        self.start = now - timedelta(days=DAYS)
        self.cats, self.tops, self.clock_rules, self.policy = _load_rules()
        self.counts: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self.users = [f"{self.rnd.choice(SURNAMES)}{self.rnd.choice(GIVEN)}{i}" for i in range(30)]

    # ------------------------------------------------------------------ helpers
    def _name(self) -> str:
        r = self.rnd
        return r.choice(SURNAMES) + r.choice(GIVEN) + (r.choice(GIVEN) if r.random() < 0.5 else "")

    def _time(self) -> datetime:
        """A fetch time in the window with a daily rhythm (busy in the Shanghai daytime)."""
        r = self.rnd
        day = r.randrange(DAYS)
        hour = r.choices(range(24), weights=HOUR_WEIGHTS)[0]
        t = self.start + timedelta(days=day, hours=hour - 8 + r.random(), minutes=0)
        return min(t, self.now - timedelta(seconds=r.randrange(1, 600))) if t > self.now else max(t, self.start)

    def _text(self, place: str, issue: str, tone: str) -> tuple[str, str]:
        r = self.rnd
        if tone == "positive":
            body = f"点赞！{place}{r.choice(GOOD)}，{r.choice(DETAILS)}，感谢相关部门。"
            return f"{place}{r.choice(GOOD)}", body
        if tone == "news":
            title = f"{place}" + r.choice(NEWS).format(i=issue[:6])
            return title, f"{title}。会议要求，{r.choice(DETAILS)}，确保问题按期整改到位，并及时向社会公开进展。"
        title = f"{place}{issue}"
        body = (f"网友反映{place}{issue}，{r.choice(DETAILS)}，{r.choice(DETAILS)}，"
                f"已经{r.randint(2, 40)}天了还是老样子。{r.choice(ASKS)}")
        if r.random() < 0.02:
            body += f"联系电话13{r.randint(100000000, 999999999)}。"
        return title, body

    def _flags(self, pool: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
        return [dict(f) for f in self.rnd.sample(pool, min(k, len(pool)))] if pool and k else []

    def _timed(self, label: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        self.timings[label] = round(time.perf_counter() - t0, 1)
        self.log(f"  {label}: {self.timings[label]} s")
        return out

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        engine = make_engine(self.url)
        t0 = time.perf_counter()
        try:
            raw = engine.raw_connection()
            try:
                conn = raw.driver_connection
                conn.autocommit = False
                self._timed("sources, users, roster", lambda: self._small(conn))
                self._timed("posts and events", lambda: self._posts(conn))
                from bench.dashboard import gen_ledger

                self._timed("cases, clocks, releases, audit", lambda: gen_ledger.cases(self, conn))
                self._timed("messages and their clocks", lambda: gen_ledger.messages(self, conn))
                self._timed("alerts", lambda: gen_ledger.alerts(self, conn))
                conn.commit()
            finally:
                raw.close()
            with engine.begin() as c:
                for table in ("source", "post", "event", "ledger_case", "clock", "release", "release_review",
                              "briefing", "commitment", "referral", "case_post", "audit_log", "message", "alert",
                              "duty_shift", "person", "app_user"):
                    c.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                   f"COALESCE((SELECT max(id) FROM \"{table}\"), 0) + 1, false)"))
            self._timed("VACUUM ANALYZE", lambda: _analyze(engine))
        finally:
            engine.dispose()
        self.timings["total"] = round(time.perf_counter() - t0, 1)
        return {"counts": self.counts, "timings": self.timings, "now": self.now.isoformat()}

    def _small(self, conn) -> None:
        r, now = self.rnd, self.now
        rows = []
        for i, (name, kind, _, _) in enumerate(SOURCES, 1):
            status = "error" if i == 6 else "ok"
            rows.append((i, name, kind, f"https://example.gov.cn/src/{i}", _j({}), 600, None, True, self.start,
                         None, None, status, now - timedelta(minutes=r.randint(1, 30)),
                         "连接超时" if status == "error" else None, now if status == "error" else None,
                         3 if status == "error" else 0, r.randint(0, 50), now - timedelta(minutes=5)))
        self.counts["source"] = _copy(conn, "source", [
            "id", "name", "kind", "url", "config", "interval_seconds", "cron", "enabled", "created_at", "etag",
            "last_modified", "status", "last_success_at", "last_error", "last_error_at", "consecutive_failures",
            "last_items", "last_crawl_at"], rows)
        self.counts["app_user"] = _copy(conn, "app_user", [
            "id", "username", "display_name", "role", "unit", "can_see_pii", "active", "password_hash",
            "failed_attempts", "created_at"],
            ((i + 1, f"user{i:02d}", name, ROLES[i % 4], UNITS[i % len(UNITS)] if ROLES[i % 4] == "责任单位" else None,
              ROLES[i % 4] != "责任单位", True, FAKE_HASH, 0, self.start) for i, name in enumerate(self.users)))
        people = self.users[:20]
        self.counts["person"] = _copy(conn, "person", [
            "id", "name", "role", "unit", "phone", "urls", "active", "created_at", "updated_at"],
            ((i + 1, name, "带班领导" if i % 5 == 0 else "值班人员", None, f"1390000{i:04d}", _j([]), True,
              self.start, self.start) for i, name in enumerate(people)))
        shifts = []
        first = self.start.astimezone(SHANGHAI).date()
        for d in range(DAYS + 8):
            day = first + timedelta(days=d)
            s = datetime(day.year, day.month, day.day, 8, 30, tzinfo=SHANGHAI).astimezone(UTC)
            shifts.append((d + 1, s, s + timedelta(days=1), _j([people[(2 * d) % 20], people[(2 * d + 1) % 20]]),
                           people[(d % 4) * 5], None, None, self.start))
        self.counts["duty_shift"] = _copy(conn, "duty_shift", [
            "id", "start_at", "end_at", "on_duty", "leader", "unit", "note", "created_at"], shifts)

    def _posts(self, conn) -> None:
        r, n = self.rnd, self.n_posts
        n_events = max(1, n // 50)
        merged = set(r.sample(range(1, n_events + 1), n_events // 50))
        live = [e for e in range(1, n_events + 1) if e not in merged]
        raw = [r.paretovariate(1.2) for _ in live]
        scale = 0.4 * n / sum(raw)
        sizes = [max(1, int(x * scale)) for x in raw]
        spec: list[tuple[datetime, int]] = []  # (fetched_at, event id or 0)
        self.event_topic: dict[int, tuple[str, str]] = {}
        for e, size in zip(live, sizes):
            centre = self.start + timedelta(seconds=r.random() * DAYS * 86400)
            self.event_topic[e] = (r.choice(PLACES), r.choice(ISSUES))
            spread = 3600 * r.choice((2, 6, 12, 36))
            for _ in range(size):
                t = centre + timedelta(seconds=r.expovariate(1 / spread))
                if t >= self.now:
                    t = self.now - timedelta(seconds=r.randrange(1, 3600))
                spec.append((t, e))
                if len(spec) >= n * 0.45:
                    break
        while len(spec) < n:
            spec.append((self._time(), 0))
        spec.sort()
        src_weights = [s[3] for s in SOURCES]
        texts: list[tuple[str, str, str]] = []  # title, text, content_hash per post (index = id - 1)
        ev: dict[int, list[Any]] = {}  # event -> [posts, likes, dislikes, reposts, first, last, rep, last_id]
        last_by_event: dict[int, int] = {}
        self.flagged_ids: list[int] = []
        self.post_times: list[datetime] = []
        dups = [0]

        def rows():
            for i, (fetched, e) in enumerate(spec, 1):
                src = r.choices(range(len(SOURCES)), weights=src_weights)[0]
                has_title = SOURCES[src][2]
                dup_of = None
                if e and e in last_by_event and r.random() < 0.08:
                    dup_of = last_by_event[e]
                elif not e and i > 600 and r.random() < 0.02:
                    dup_of = i - r.randint(1, 500)
                if dup_of is not None:
                    dups[0] += 1
                    title, body, chash = texts[dup_of - 1]
                else:
                    place, issue = self.event_topic[e] if e else (r.choice(PLACES), r.choice(ISSUES))
                    tone = r.choices(("negative", "neutral", "positive", "news"), weights=(45, 25, 15, 15))[0]
                    title, body = self._text(place, issue, tone)
                    chash = hashlib.sha1(f"{body}|{i}".encode()).hexdigest()
                texts.append((title, body, chash))
                sens = round(r.betavariate(2, 5), 3) if r.random() < 0.35 else 0.0
                if e and sens:
                    sens = min(1.0, round(sens * 1.3, 3))
                sentiment = ("negative" if sens >= 0.3 or r.random() < 0.2 else
                             r.choices(("neutral", "positive"), weights=(70, 30))[0])
                score = round(-r.random() if sentiment == "negative" else r.random() * (1 if sentiment == "positive" else 0.3), 3)
                cats = self._flags(self.cats, r.choice((1, 1, 2))) if sens > 0 else []
                tops = self._flags(self.tops, r.choice((0, 1, 1, 2))) if sens > 0 else []
                severity = ("重大" if sens >= 0.8 else "较大" if sens >= 0.6 else "一般" if sens >= 0.3 else None)
                if sens >= 0.5:
                    self.flagged_ids.append(i)
                self.post_times.append(fetched)
                likes = int(r.paretovariate(1.5)) - 1
                reposts = int(r.paretovariate(1.8)) - 1
                published = None if r.random() < 0.1 else fetched - timedelta(seconds=r.randrange(30, 7200))
                if e:
                    last_by_event[e] = i
                    st = ev.get(e)
                    if st is None:
                        ev[e] = [1, likes, 0, reposts, fetched, fetched, i]
                    else:
                        st[0] += 1
                        st[1] += likes
                        st[3] += reposts
                        st[5] = fetched
                unit = r.choice(UNITS) if sens > 0 and r.random() < 0.6 else None
                reasons = [f"命中：{f['name']}" for f in cats]
                yield (i, src + 1, f"p{src + 1}-{i:08d}", f"https://example.com/{src + 1}/{i}",
                       title if has_title else None, body, self._name() if r.random() < 0.7 else None,
                       published, fetched, None, 1, chash, r.getrandbits(62), dup_of, likes, 0, reposts,
                       sentiment, score, _j(cats), _j(tops), sens, severity,
                       r.choice(COUNTIES) if unit else None, unit,
                       r.choice(("实际困难", "建设性意见建议", None)) if unit else None,
                       r.random() < 0.01, _j([]), _j({"reasons": reasons} if reasons else {}), e or None)

        self.counts["post"] = _copy(conn, "post", PostCols, rows())
        self.counts["post_duplicates"] = dups[0]
        self.texts = texts
        self.live_events = sorted(ev)
        self.event_posts = {e: st[6] for e, st in ev.items()}

        def event_rows():
            for e in range(1, n_events + 1):
                st = ev.get(e)
                place, issue = self.event_topic.get(e, (r.choice(PLACES), r.choice(ISSUES)))
                if st is None:  # merged into another event (its posts moved) or no post made it in
                    into = r.choice(self.live_events) if e in merged and self.live_events else None
                    yield (e, f"{place}{issue}", _j([place, issue[:4]]), 0, None, None, None, 0, 0, 0, 0, 0.0,
                           _j({}), into, self.start, self.start)
                    continue
                posts, likes, dislikes, reposts, first, last, rep = st
                heat = round(posts + 0.1 * likes + 0.3 * reposts, 2)
                yield (e, f"{place}{issue}", _j([place, issue[:4], issue[4:8]]), posts, rep, first, last, posts,
                       likes, dislikes, reposts, heat, _j({issue[:2]: 0.5, place[:2]: 0.3}), None, first, last)

        self.counts["event"] = _copy(conn, "event", [
            "id", "title", "keywords", "posts", "rep_post_id", "first_seen", "last_seen", "labels_posts", "likes",
            "dislikes", "reposts", "heat_base", "signature", "merged_into_id", "created_at", "updated_at"],
            event_rows())
        self.counts["event_live"] = len(ev)
        self.counts["post_with_event"] = sum(st[0] for st in ev.values())
        self.counts["post_flagged"] = len(self.flagged_ids)


HOUR_WEIGHTS = [2, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 8, 9, 10, 10, 9, 8, 9, 10, 10, 8, 6, 4]


def _analyze(engine) -> None:
    """VACUUM ANALYZE the tables of this schema only (what autovacuum would soon do on a live server:
    statistics for the planner and the visibility map for index-only scans)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        tables = list(c.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars())
        for t in tables:
            c.execute(text(f'VACUUM ANALYZE "{t}"'))
