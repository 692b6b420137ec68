"""Benchmark of the clock engine: clocks for N cases computed, started in the ledger, and
advanced by one ``advance_clocks`` pass (the work of ``yuqing tick``).

Synthetic cases (no real data): grades 一般 70 % / 较大 20 % / 重大 8 % / 特别重大 2 %, discovery
times spread over the 72 hours before ``now``, plus N messages received over 2024–2026 for the
working-day arithmetic.

    python bench/clocks/run.py                      # 100,000 cases on a temporary SQLite file
    python bench/clocks/run.py --cases 20000 --url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func
from sqlmodel import select

from config.clockconfig import load_calendar, load_clock_rules
from config.loader import load_toml
from config.settings import get_settings
from ledger.clocks import service as cs
from ledger.clocks.calendar import calendar_from_config
from ledger.clocks.rules import compute, rules_for
from ledger.db import make_engine, session_scope
from ledger.migrate import upgrade
from ledger.models.clocks import Clock

GRADES = ["一般"] * 70 + ["较大"] * 20 + ["重大"] * 8 + ["特别重大"] * 2
NOW = datetime(2026, 3, 20, 4, 0, tzinfo=UTC)
SH = ZoneInfo("Asia/Shanghai")


class Timer:
    """Wall-clock and CPU time of this process (the machine may be shared)."""

    def __init__(self) -> None:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.wall = self.cpu = 0.0

    def stop(self) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _parse_local(value: str) -> datetime:
    value = value.strip().replace("/", "-")
    date_part, _, time_part = value.partition(" ")
    y, m, d = (int(x) for x in date_part.split("-"))
    hh, mm, ss = (int(x) for x in (time_part or "0:0:0").split(":"))
    return datetime(y, m, d, hh, mm, ss, tzinfo=SH)


def bench_hotline(path: Path, calendar, rules) -> None:
    """apply_reply_clock over the real 12345 export (receipt and reply times only)."""
    from ledger.clocks.replies import apply_reply_clock
    from ledger.models.core import Message

    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    messages = [
        Message(source_id=1, external_id=r["留言编号"], received_at=_parse_local(r["留言时间"]),
                replied_at=_parse_local(r["答复时间"]) if r.get("答复时间") else None)
        for r in rows
    ]
    fresh = calendar_from_config(load_toml("holidays.toml", get_settings()))  # cold caches
    tm = Timer()
    for m in messages:
        apply_reply_clock(m, calendar=fresh, rules=rules)
    tm.stop()
    elapsed = tm
    print(f"apply_reply_clock: {len(messages):,} messages of {path.name} in {elapsed} "
          f"(cold calendar caches)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--url", default=None, help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--batch", type=int, default=2000, help="cases per transaction when starting clocks")
    ap.add_argument("--hotline", default=str(ROOT.parent / "shared" / "data" / "hotline_replies.csv"),
                    help="12345 export to time apply_reply_clock on (skipped when absent)")
    ap.add_argument("--sample", type=int, default=5000, help="cases also started one at a time")
    args = ap.parse_args()
    rng = random.Random(5)
    settings = get_settings()
    calendar, rules = load_calendar(settings), load_clock_rules(settings)

    cases = [
        (i + 1, rng.choice(GRADES), NOW - timedelta(seconds=rng.randrange(72 * 3600)))
        for i in range(args.cases)
    ]
    tm = Timer()
    n_clocks = 0
    for _, grade, discovered in cases:
        for rule in rules_for("case", {"grade": grade, "discovered_at": discovered}, rules):
            if rule.anchor == "discovered_at":
                compute(rule, discovered, calendar)
                n_clocks += 1
    tm.stop()
    pure_cases = tm
    print(f"pure compute: {args.cases:,} cases, {n_clocks:,} clocks in {pure_cases}")

    start = datetime(2024, 1, 1, tzinfo=UTC)
    received = [start + timedelta(seconds=rng.randrange(3 * 365 * 86400)) for _ in range(args.cases)]
    msg_rule = next(r for r in rules if r.id == "message_reply")
    tm = Timer()
    provisional = sum(compute(msg_rule, r, calendar).provisional for r in received)
    tm.stop()
    pure_msgs = tm
    print(f"pure compute: {args.cases:,} message reply clocks (5 working days) in {pure_msgs} "
          f"({provisional} provisional)")

    hotline = Path(args.hotline)
    if hotline.exists():
        bench_hotline(hotline, calendar, rules)
    else:
        print(f"(skipped the message import figure: {hotline} not found)")

    tmp = tempfile.TemporaryDirectory()
    url = args.url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        schema = f"bench_clocks_{int(time.time())}"
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    upgrade(url)
    engine = make_engine(url)
    try:
        opened = NOW - timedelta(hours=72)  # all started before the earliest warning
        tm = Timer()
        for i in range(0, len(cases), args.batch):
            with session_scope(engine) as s:
                cs.start_clocks_many(
                    s, subject="case", now=opened, calendar=calendar, rules=rules, actor="bench",
                    items=[(cid, {"grade": g, "discovered_at": d}) for cid, g, d in cases[i : i + args.batch]],
                )
        tm.stop()
        started = tm
        with session_scope(engine) as s:
            total = s.exec(select(func.count()).select_from(Clock)).one()
        print(f"start_clocks_many: {args.cases:,} cases, {total:,} clocks stored (with audit) in {started}")
        sample = min(args.sample, len(cases))
        tm = Timer()
        with session_scope(engine) as s:
            for cid, g, d in cases[:sample]:  # one case at a time, as opening a case does
                cs.start_clocks(s, subject="case", subject_id=args.cases + cid,
                                facts={"grade": g, "discovered_at": d}, now=opened, calendar=calendar,
                                rules=rules, actor="bench")
        tm.stop()
        single = tm
        print(f"start_clocks one case at a time: {sample:,} cases in {single} "
              f"({1000 * single.wall / max(sample, 1):.2f} ms a case wall)")

        tm = Timer()
        with session_scope(engine) as s:
            changes = cs.advance_clocks(s, now=NOW)
        tm.stop()
        first = tm
        print(f"advance_clocks (first pass): {len(changes):,} changes in {first}")
        tm = Timer()
        with session_scope(engine) as s:
            again = cs.advance_clocks(s, now=NOW)
        tm.stop()
        second = tm
        print(f"advance_clocks (same now again): {len(again)} changes in {second}")
        tm = Timer()
        with session_scope(engine) as s:
            minute = cs.advance_clocks(s, now=NOW + timedelta(minutes=1))
        tm.stop()
        third = tm
        print(f"advance_clocks (one minute later): {len(minute)} changes in {third}")
        print(f"peak RSS {rss_mb():.0f} MB; database {engine.url.get_backend_name()}")
    finally:
        engine.dispose()
        if url.startswith("postgresql"):
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        tmp.cleanup()


if __name__ == "__main__":
    main()
