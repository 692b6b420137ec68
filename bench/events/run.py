"""Benchmark of duplicate detection and event clustering: quality on real data, speed, memory.

1. hotline_hot.csv (4,326 messages) into a fresh SQLite file: for each well-known hot issue,
   the share of the messages naming it that land in one event, and that event's rank by heat.
2. weibo_stream/2020-02-01.csv: the hottest event of the day and how many of the 双黄连 rumour
   posts and of its rebuttal posts it holds.
3. All weibo_stream days as one long stream: CPU time of ``process_new_posts`` per post (the
   dedupe + clustering share of ingest, including its database writes) and peak RSS as the
   stream goes on.

Prints the figures and writes the "## Events" section of docs/BENCHMARKS.md.

    python bench/events/run.py [--batch 1000] [--no-write]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from sqlalchemy import insert, select

from analysis.normalize import content_hash, normalize_text
from bench.common import write_section  # noqa: E402
from ledger.db import make_engine, session_scope
from ledger.migrate import upgrade
from ledger.models.core import Post, Source
from ledger.posts.events import process_new_posts
from ledger.posts.event_views import top_events

SHARED = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
HOT_ISSUES = {
    "58车贷": "58车贷案",
    "丽发新城": "丽发新城搅拌站噪音",
    "伊景园滨河苑": "伊景园滨河苑捆绑销售车位",
}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def ingest(engine, rows, *, batch, now=NOW, on_batch=None):
    """Insert rows batch by batch like the intake and run process_new_posts; CPU seconds in it."""
    with session_scope(engine) as s:
        src = Source(name=f"bench-{time.time_ns()}", kind="file")
        s.add(src)
        s.flush()
        sid = src.id
    spent = 0.0
    ids = []
    for start in range(0, len(rows), batch):
        values = []
        for i, r in enumerate(rows[start : start + batch]):
            values.append(
                {
                    "source_id": sid, "external_id": str(start + i), "title": r.get("title"),
                    "text": r["text"], "content_hash": content_hash((r.get("title") or "") + r["text"]),
                    "likes": r.get("likes", 0), "dislikes": r.get("dislikes", 0),
                    "published_at": r.get("at"), "fetched_at": now, "categories": [], "topics": [],
                    "pii": [], "assessment": {}, "version": 1, "reposts": 0, "rumour": False,
                }
            )  # fmt: skip
        with session_scope(engine) as s:
            new_ids = (
                s.execute(insert(Post).returning(Post.id, sort_by_parameter_order=True), values)
                .scalars()
                .all()
            )
            posts = s.scalars(select(Post).where(Post.id.in_(new_ids)).order_by(Post.id)).all()
            c0 = time.process_time()
            process_new_posts(s, posts=posts, now=now)
            spent += time.process_time() - c0
        ids.extend(new_ids)
        if on_batch:
            on_batch(start + len(values))
    return ids, spent


def hotline_rows():
    rows = []
    with (SHARED / "hotline_hot.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            raw = r["留言时间"].replace("/", "-")
            try:
                at = datetime.fromisoformat(raw)
            except ValueError:
                at = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S")
            rows.append({"title": normalize_text(r["留言主题"]), "text": normalize_text(r["留言详情"]),
                         "likes": int(r["点赞数"]), "dislikes": int(r["反对数"]),
                         "at": (at - timedelta(hours=8)).replace(tzinfo=UTC)})  # fmt: skip
    return rows


def weibo_rows(path: Path, day: datetime):
    with path.open(encoding="utf-8") as fh:
        return [{"text": normalize_text(r["text"]), "at": day} for r in csv.DictReader(fh)]


def event_of(engine, ids):
    with session_scope(engine) as s:
        return dict(s.execute(select(Post.id, Post.event_id).where(Post.id.in_(ids))).all())


def bench_hotline(tmp: Path, batch: int) -> list[str]:
    url = f"sqlite:///{tmp / 'hot.db'}"
    upgrade(url)
    engine = make_engine(url)
    rows = hotline_rows()
    ids, spent = ingest(engine, rows, batch=batch)
    ev = event_of(engine, ids)
    with session_scope(engine) as s:
        top = top_events(s, limit=10, now=NOW)
    rank = {e["id"]: i + 1 for i, e in enumerate(top)}
    lines = ["| hot issue | messages naming it | in its largest event | rank by heat | event title | keywords |",
             "|---|---:|---:|---:|---|---|"]  # fmt: skip
    for key, label in HOT_ISSUES.items():
        naming = [
            pid for pid, r in zip(ids, rows, strict=True) if key in (r["title"] or "") + r["text"]
        ]
        counts: dict[int, int] = {}
        for pid in naming:
            counts[ev[pid]] = counts.get(ev[pid], 0) + 1
        eid, n = max(counts.items(), key=lambda kv: kv[1])
        e = next((x for x in top if x["id"] == eid), None)
        title = e["title"] if e else "—"
        kws = "、".join(e["keywords"][:6]) if e else "—"
        lines.append(
            f"| {label} | {len(naming)} | {n} ({n / len(naming):.0%}) | {rank.get(eid, '>10')} | {title} | {kws} |"
        )
        print(f"hotline {key}: {n}/{len(naming)} in event {eid}, rank {rank.get(eid, '>10')}")
    lines.append("")
    lines.append("Top ten by heat: " + "; ".join(f"{i + 1}. {e['title']} ({e['posts']} 条, 赞 {e['likes']})"
                                                  for i, e in enumerate(top)))  # fmt: skip
    lines.append(
        f"\nCPU in `process_new_posts`: {spent / len(rows) * 1e6:.0f} µs / message (long texts)."
    )
    engine.dispose()
    return lines


def bench_weibo_day(tmp: Path, batch: int) -> list[str]:
    url = f"sqlite:///{tmp / 'weibo.db'}"
    upgrade(url)
    engine = make_engine(url)
    day = datetime(2020, 2, 1, 4, 0, tzinfo=UTC)
    rows = weibo_rows(SHARED / "weibo_stream" / "2020-02-01.csv", day)
    ids, _ = ingest(engine, rows, batch=batch)
    ev = event_of(engine, ids)
    with session_scope(engine) as s:
        top = top_events(s, limit=5, now=day + timedelta(hours=20))
    hottest = top[0]
    out = ["| | posts | in the hottest event |", "|---|---:|---:|"]
    for label, tag in (("rumour #双黄连可抑制新型冠状病毒#", "#双黄连可抑制新型冠状病毒#"),
                       ("rebuttal #请勿抢购自行服用双黄连口服液#", "#请勿抢购自行服用双黄连口服液#"),
                       ("#上海药物所回应#", "#上海药物所回应#")):  # fmt: skip
        pids = [pid for pid, r in zip(ids, rows, strict=True) if tag in r["text"]]
        n = sum(1 for p in pids if ev[p] == hottest["id"])
        out.append(f"| {label} | {len(pids)} | {n} ({n / len(pids):.0%}) |")
        print(f"weibo {label}: {n}/{len(pids)} in the hottest event")
    out.append("")
    out.append("Hottest events of the day: " + "; ".join(
        f"{i + 1}. {e['title']} ({e['posts']} 条; {'、'.join(e['keywords'][:4])})" for i, e in enumerate(top)))  # fmt: skip
    engine.dispose()
    return out


def bench_stream(tmp: Path, batch: int) -> list[str]:
    url = f"sqlite:///{tmp / 'stream.db'}"
    upgrade(url)
    engine = make_engine(url)
    files = sorted((SHARED / "weibo_stream").glob("*.csv"))
    rows = []
    for f in files:
        rows.extend(
            weibo_rows(f, datetime.fromisoformat(f.stem).replace(tzinfo=UTC) + timedelta(hours=4))
        )
    marks = []
    step = max(batch, len(rows) // 6 // batch * batch)

    def on_batch(done: int) -> None:
        if done % step == 0 or done == len(rows):
            marks.append((done, rss_mb()))

    rss0 = rss_mb()
    c0, w0 = time.process_time(), time.perf_counter()
    ids, spent = ingest(engine, rows, batch=batch, on_batch=on_batch)
    total_cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    with session_scope(engine) as s:
        dups = s.execute(select(Post.id).where(Post.dup_of_id.is_not(None))).all()
        n_events = len({e for e in event_of(engine, ids).values()})
    us = spent / len(rows) * 1e6
    print(
        f"stream: {len(rows)} posts, {us:.0f} µs/post CPU in process_new_posts, peak RSS {rss_mb():.0f} MB"
    )
    load = os.getloadavg()[0]
    return [
        (
            f"Data: the four `weibo_stream` days in order ({len(rows):,} posts, {len(files)} files),"
            f" batches of {batch:,} posts, each inserted and then processed in one transaction,"
            f" SQLite file; Python {platform.python_version()}, {platform.machine()}."
        ),
        "",
        "| measure | value |",
        "|---|---:|",
        f"| CPU in `process_new_posts` (dedupe + clustering + its writes) | {us:.0f} µs / post |",
        f"| the same as posts / s per core | {1e6 / us:,.0f} |",
        f"| whole loop incl. inserting the posts, CPU | {total_cpu / len(rows) * 1e6:.0f} µs / post |",
        f"| wall time of the whole loop (load average {load:.1f}) | {wall / len(rows) * 1e6:.0f} µs / post |",
        f"| duplicates found (exact or SimHash) | {len(dups):,} ({len(dups) / len(rows):.0%}) |",
        f"| events | {n_events:,} |",
        f"| peak RSS before / after | {rss0:.0f} MB / {rss_mb():.0f} MB |",
        "",
        "Peak RSS as the stream goes on: "
        + ", ".join(f"{d:,} posts → {m:.0f} MB" for d, m in marks)
        + ".",
        "Every structure kept in memory has a cap (listed above); this stream is too short to reach",
        "them all, so it shows the growth before the plateau, not the plateau itself.",
        "",
        (
            f"Budget: ≤ 80 µs / post for dedupe + clustering — {'met' if us <= 80 else 'not met'}"
            f" ({us:.0f} µs). The time goes to pure-Python feature extraction, TF-IDF vectors and"
            " candidate scoring (about two thirds) and to the bulk writes of post and event rows."
            " CPU time too varies with the load of the shared machine (about ±20% between runs)."
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = ap.parse_args()
    if not (SHARED / "hotline_hot.csv").is_file():
        sys.exit(f"数据不存在: {SHARED}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        stream = bench_stream(tmp, args.batch)
        hot = bench_hotline(tmp, args.batch)
        day = bench_weibo_day(tmp, args.batch)
    body = "\n".join([
        "Posts are linked to their original (`dup_of_id`: same normalised text, or 64-bit SimHash of the",
        "character bigrams within 5 bits of a recent post) and clustered into events in one pass: TF-IDF",
        "vectors of character bigrams with IDF counted on the stream, plus boosted *anchors* — hashtags",
        "and entity-like names (丽发新城, 滨河苑, 58车贷) whose weight has a floor so that a burst about one",
        "thing does not make its own name weak; a post joins the most similar active event (cosine ≥ 0.30,",
        "or ≥ 0.12 when it shares the event's dominant anchor) or starts one; after each batch, events",
        "whose centroids meet (cosine ≥ 0.5) or whose dominant hashtags share a specific word of three or",
        "more characters (双黄连) are merged. Memory is bounded: at most 10,000 active events (LRU),",
        "centroids of 96 terms, 24 events per term in the inverted index, 50,000 remembered fingerprints,",
        "300,000 document frequencies (halved when exceeded). A new process resumes from the signatures",
        "stored in `event.signature` and the latest posts.",
        "",
        "Heat: `base = posts + 2·√(likes + 0.5·dislikes + 2·reposts)`, `heat = base / (1 + age_h / 24)`",
        "with `age_h` the hours from the event's last post to now. Trend: posts in the last hour against the",
        "hourly mean of the 12 hours before; a spike (突增) at ≥ 3× with ≥ 5 posts.",
        "",
        "### Hot issues in hotline_hot.csv",
        "",
        *hot,
        "",
        "### Weibo, 2020-02-01",
        "",
        *day,
        "",
        "### Speed and memory over a long stream",
        "",
        *stream,
        "",
        "Reproduce: `python bench/events/run.py` (option `--batch`).",
    ])  # fmt: skip
    print(body)
    if not args.no_write:
        write_section("Events", body)


if __name__ == "__main__":
    main()
