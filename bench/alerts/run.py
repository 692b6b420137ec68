"""Benchmark of alerting and the weekly export: outbox delivery to a JSON webhook on 127.0.0.1,
alerts raised by one tick over many overdue cases, and the weekly xlsx + docx for a busy week.

Synthetic data only (no real data): cases of grade 重大 discovered 6 hours before the tick;
messages spread over one week with reply times around the 5-working-day limit.

    python bench/alerts/run.py [--notifications 300] [--cases 200] [--messages 3000] [--no-write]
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
from sqlmodel import Session, func, select  # noqa: E402

from bench.common import write_section  # noqa: E402
from config import alerting, ticking  # noqa: E402
from config.caseconfig import load_case_env  # noqa: E402
from config.settings import get_settings  # noqa: E402
from ledger.alerts import notify  # noqa: E402
from ledger.alerts.outbox import deliver_due, enqueue  # noqa: E402
from ledger.cases import workflow as cases
from ledger.db import make_engine, session_scope  # noqa: E402
from ledger.migrate import upgrade  # noqa: E402
from ledger.models.alerts import Alert, Notification  # noqa: E402
from ledger.models.core import Message, Source  # noqa: E402
from ledger.reports.export import export_weekly
from ledger.reports.weekly import parse_week  # noqa: E402
from tests.alert_sinks import WebhookSink  # noqa: E402

SECTION = "Alerts, outbox and weekly export"


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def timed(fn):
    w, c = time.perf_counter(), cpu()
    result = fn()
    return result, time.perf_counter() - w, cpu() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notifications", type=int, default=300)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = ap.parse_args()
    rng = random.Random(7)
    now = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, WebhookSink() as sink:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        # 1. outbox delivery
        with session_scope(engine) as s:
            for i in range(args.notifications):
                enqueue(s, key=f"b{i}", destination=sink.url, subject=f"预警 {i}", body="正文" * 50, now=now)
        rep, wall, c = timed(lambda: deliver_due(engine, now=now, clock=lambda: now))
        assert rep.sent == args.notifications and len(sink.bodies) == args.notifications
        rows.append((f"deliver {args.notifications} notifications (claim, send, settle each)",
                     wall, c, f"{args.notifications / wall:.0f} / s"))
        # 2. tick over overdue 重大 cases: alerts raised, grouped, written, delivered
        cfg = get_settings(database_url=url, data_dir=Path(tmp), alert_urls=[sink.url])
        env = load_case_env(cfg)
        notify.configure(lambda: alerting.alert_context(cfg))  # case events use these settings
        with session_scope(engine) as s:
            for i in range(args.cases):
                disc = now - timedelta(hours=6, minutes=rng.randint(0, 50))
                cases.open_case(s, title=f"事件{i}", grade="重大", discovered_at=disc, now=disc, actor="bench", env=env)
        deliver_due(engine, now=now)  # the leadership reports written when the cases were opened
        before = len(sink.bodies)
        summary, wall, c = timed(lambda: ticking.run_tick(engine, cfg, now))
        assert not summary["hook_errors"], summary["hook_errors"]
        sent = len(sink.bodies) - before
        with Session(engine) as s:
            alerts = s.exec(select(func.count()).select_from(Alert)).one()
        rows.append((f"tick over {args.cases} overdue 重大 cases ({summary['clocks_changed']} clock changes → "
                     f"{alerts} alerts, {sent} messages delivered)", wall, c, f"{args.cases / wall:.0f} cases / s"))
        again, wall2, c2 = timed(lambda: ticking.run_tick(engine, cfg, now))
        assert len(sink.bodies) - before == sent
        rows.append(("second tick at the same instant (nothing to send)", wall2, c2, ""))
        # 3. weekly export
        week = parse_week("2026-W10")
        with session_scope(engine) as s:
            src = Source(name="留言", kind="hotline", created_at=now)
            s.add(src)
            s.flush()
            for i in range(args.messages):
                rec = week.start + timedelta(seconds=rng.randint(0, 7 * 86400 - 1))
                rep_at = rec + timedelta(hours=rng.randint(2, 200))
                due = rec + timedelta(days=7)
                s.add(Message(source_id=src.id, external_id=f"m{i}", title=f"留言{i} 电话13912345678",
                              text="反映问题 " * 40, author=f"市民{i}", received_at=rec, replied_at=rep_at,
                              reply_text="答复 " * 60, due_at=due, on_time=rep_at <= due, unit=f"单位{i % 12}"))
        out = Path(tmp) / "out"
        with Session(engine) as s:
            res, wall, c = timed(lambda: export_weekly(s, week=week, out_dir=out, now=now))
        size = (res.xlsx.stat().st_size + res.docx.stat().st_size) / 1024
        rows.append((f"weekly export: {args.messages} messages + {args.cases} cases → xlsx + docx "
                     f"({size:.0f} KiB)", wall, c, ""))
        with Session(engine) as s:
            assert s.exec(select(func.count()).select_from(Notification)).one() >= args.notifications
        engine.dispose()
    load = open("/proc/loadavg").read().split()[0]
    table = ["| measure | wall s | CPU s | rate |", "|---|---:|---:|---:|"]
    table += [f"| {m} | {w:.2f} | {c:.2f} | {r} |" for m, w, c, r in rows]
    body = (
        "Synthetic data (no real data): outbox rows to a JSON webhook on 127.0.0.1 through apprise; "
        f"重大 cases discovered 6 h before one `tick`, with `YUQING_ALERT_URLS` as the only destination; "
        f"{args.messages} messages over one week for the export. SQLite file, one process, "
        f"Python {sys.version.split()[0]}; load average {load} at the end (other jobs on 2 cores inflate wall times).\n\n"
        + "\n".join(table)
        + "\n\nReproduce: `python bench/alerts/run.py` (options `--notifications`, `--cases`, `--messages`)."
    )
    print(body)
    if not args.no_write:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
