"""Benchmark of the case workflow: opening N cases through the service (numbering, audit, clocks,
notification hook) and one ``tick`` over the ledger they make, then a second (idempotent) tick.

Synthetic cases (no real data): grades 一般 70 % / 较大 20 % / 重大 8 % / 特别重大 2 %, discovery
times spread over the 72 hours before ``now``.

    python bench/cases/run.py                    # 10,000 cases on a temporary SQLite file
    python bench/cases/run.py --cases 2000 --url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func
from sqlmodel import Session, select

from config import ticking
from config.caseconfig import load_case_env
from config.settings import get_settings
from ledger.cases import workflow as cases
from ledger.clocks import tick
from ledger.db import make_engine, session_scope
from ledger.migrate import upgrade
from ledger.models.clocks import Clock

GRADES = (("一般", 0.70), ("较大", 0.20), ("重大", 0.08), ("特别重大", 0.02))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=500, help="cases per transaction")
    ap.add_argument("--url", default=None, help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--cache-alert-context", action="store_true",
                    help="build the alert context once instead of for every case event")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = args.url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = get_settings()
    env = load_case_env(settings)
    if args.cache_alert_context:
        from config.alerting import alert_context
        from ledger.alerts import notify

        ctx = alert_context(settings)
        notify.configure(lambda: ctx)
    rng = random.Random(5)
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    grades = rng.choices([g for g, _ in GRADES], [w for _, w in GRADES], k=args.cases)

    cpu0, t0 = time.process_time(), time.perf_counter()
    done = 0
    while done < args.cases:
        with session_scope(engine) as s:
            for i in range(done, min(done + args.batch, args.cases)):
                found = now - timedelta(seconds=rng.randrange(72 * 3600))
                cases.open_case(s, title=f"案件{i}", grade=grades[i], discovered_at=found, now=found,
                                actor="bench", env=env)
        done = min(done + args.batch, args.cases)
    open_wall, open_cpu = time.perf_counter() - t0, time.process_time() - cpu0

    timings = []
    calendar, rules = env.calendar, env.rules
    cpu0, t0 = time.process_time(), time.perf_counter()
    with Session(engine) as s:  # the ledger pass alone, without alert hooks, rolled back
        report = tick.run_tick(s, now=now, calendar=calendar, rules=rules)
        s.rollback()
    timings.append(("ledger pass only (rolled back)", time.perf_counter() - t0, time.process_time() - cpu0,
                    len(report.clock_changes)))
    for label in ("first tick (with alert hooks)", "second tick (with alert hooks)"):
        cpu0, t0 = time.process_time(), time.perf_counter()
        summary = ticking.run_tick(engine, settings, now)
        timings.append((label, time.perf_counter() - t0, time.process_time() - cpu0, summary["clocks_changed"]))
    with session_scope(engine) as s:
        n_clocks = s.exec(select(func.count()).select_from(Clock)).one()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    backend = engine.url.get_backend_name()
    print(f"{args.cases} cases on {backend}, {n_clocks} clocks")
    print(f"open: {open_wall:.1f} s wall, {open_cpu:.1f} s CPU; "
          f"{1000 * open_wall / args.cases:.2f} ms wall / case, {args.cases / open_wall:.0f} cases / s")
    for label, wall, cpu, changed in timings:
        print(f"{label}: {wall:.2f} s wall, {cpu:.2f} s CPU, {changed} clock changes")
    print(f"max RSS {rss:.0f} MiB")
    engine.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
