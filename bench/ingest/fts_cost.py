"""What the SQLite search index costs the ingest: the same posts stored into the real schema
(all migrations applied) with the FTS5 trigram index kept in step by its triggers, and again
with those triggers dropped. Rows go in as the importer writes them (transactions of 2,000),
through SQLAlchemy Core, with the Weibo stream's texts; CPU of this one process.

    python bench/ingest/fts_cost.py [--rows 48000]

Prints a line per variant and the difference per post; writes nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.common import machine_reference

DATA = Path(os.environ.get("YUQING_SHARED_DATA", ROOT.parent / "shared" / "data"))
BATCH = 2000


def texts(n: int) -> list[str]:
    out: list[str] = []
    for path in sorted((DATA / "weibo_stream").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            out.extend(r["text"] for r in csv.DictReader(f) if r.get("text"))
        if len(out) >= n:
            break
    return out[:n]


def store(docs: list[str], *, with_index: bool) -> tuple[float, float]:
    """CPU and wall seconds to store ``docs`` as posts into a fresh, migrated SQLite file."""
    from sqlalchemy import insert, text

    from ledger.db import make_engine
    from ledger.migrate import upgrade_engine
    from ledger.models.core import Post, Source

    with tempfile.TemporaryDirectory(prefix="yuqing-fts-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/y.db")
        upgrade_engine(engine)
        now = datetime.now(UTC)
        with engine.begin() as c:
            if not with_index:
                for trig in ("post_fts_ai", "post_fts_ad", "post_fts_au"):
                    c.execute(text(f"DROP TRIGGER {trig}"))
            source_id = c.execute(insert(Source).values(name="基准", kind="file", config={}).returning(Source.id)).scalar()
        rows = [{"source_id": source_id, "external_id": f"b{i}", "text": t, "fetched_at": now, "content_hash": str(i),
                 "categories": [], "topics": [], "pii": [], "assessment": {}} for i, t in enumerate(docs)]
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(rows), BATCH):
            with engine.begin() as c:
                c.execute(insert(Post), rows[start:start + BATCH])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        engine.dispose()
    return cpu, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=48_000)
    args = ap.parse_args()
    docs = texts(args.rows)
    if not docs:
        raise SystemExit(f"no texts found under {DATA / 'weibo_stream'}")
    ref = machine_reference()
    mean = sum(map(len, docs)) / len(docs)
    print(f"{len(docs):,} posts, {mean:.0f} characters on average; reference workload {ref:.0f} ms CPU")
    results = {}
    for with_index in (False, True, False, True):
        cpu, wall = store(docs, with_index=with_index)
        results.setdefault(with_index, []).append(cpu)
        label = "with the FTS5 index" if with_index else "without it"
        print(f"  {label:20s} {cpu:6.2f} s CPU, {wall:6.2f} s wall: {len(docs) / cpu:8,.0f} posts/s CPU", flush=True)
    plain, indexed = min(results[False]), min(results[True])
    print(f"index cost: {(indexed - plain) / len(docs) * 1e6:.0f} µs CPU per post (best of two each)")


if __name__ == "__main__":
    main()
