"""Benchmark of end-to-end ingest: the real Weibo stream files imported as ``yuqing import posts``
does it (read and check the file, normalise, assess, deduplicate, cluster into events, store in
batches), into SQLite and PostgreSQL, against a floor (the same rows bulk-inserted with no
assessment) measured in the same run; a long run over N posts for memory (peak RSS, RSS at
points of the run); and the seconds to import ``hotline_replies.csv`` (``yuqing import hotline``).

Every measurement runs in its own child process (clean peak RSS). Wall and CPU time are both
reported: the machine is shared, so wall time grows with other jobs' load.

    python bench/ingest/run.py                          # all of it, 1,000,000-post memory run
    python bench/ingest/run.py --memory-rows 100000 --no-pg --no-write   # quicker
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.common import machine_reference, reference_note, write_section  # noqa: E402

DATA = Path(os.environ.get("YUQING_SHARED_DATA", ROOT.parent / "shared" / "data"))
WORKER_ENV = dict(os.environ)
PG_ADMIN = os.environ.get("YUQING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# ---------------------------------------------------------------- workers (child processes)


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _children_peak_mb() -> float:
    """Largest peak RSS of the (reaped) worker processes."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _workers_rss_mb() -> float:
    import psutil

    return sum(c.memory_info().rss for c in psutil.Process().children(recursive=True)) / 2**20


def worker_e2e(url: str, files: list[str], batch: int, samples: int, workers: int = -1) -> dict:
    """Import each file like ``yuqing import posts FILE --text-col text --author-col userid``."""
    from config.settings import get_settings
    from config.wiring import build_assessor
    from crawlers.importers import FileJob, ensure_source, import_files, posts_spec
    from crawlers.pipeline import auto_workers
    from ledger.db import make_engine
    from ledger.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    assessor = build_assessor(get_settings())
    setup = time.perf_counter() - t0
    rss: list[tuple[int, float]] = []
    total_rows = 0
    done = 0
    expected = samples or 1

    def sample(rep) -> None:
        nonlocal done
        done_now = total_rows + rep.inserted + rep.unchanged + rep.updated
        if samples and done_now * 10 // expected != done * 10 // expected:
            rss.append((done_now, round(_rss_mb(), 1), round(_workers_rss_mb(), 1)))
        done = done_now

    n_workers = auto_workers(workers)
    w0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    spec = posts_spec(text_col="text", author_col="userid", now=now)
    jobs = [FileJob(Path(f), ensure_source(engine, name=f"文件导入:{Path(f).name}", kind="file", config={},
                                           actor="bench", now=now)[0]) for f in files]

    def file_done(rep) -> None:
        nonlocal total_rows
        total_rows += rep.rows

    reports = import_files(engine, jobs, spec, assessor=assessor, now=now, batch_size=batch, on_batch=sample,
                           on_file=file_done, workers=n_workers)
    inserted = sum(r.inserted for r in reports)
    wall, cpu, wcpu = time.perf_counter() - w0, time.process_time() - c0, _children_cpu() - k0
    engine.dispose()
    return {"rows": total_rows, "inserted": inserted, "wall": wall, "cpu": cpu + wcpu, "main_cpu": cpu,
            "worker_cpu": wcpu, "workers": n_workers, "setup": setup,
            "peak_rss_mb": round(_peak_mb(), 1), "worker_peak_rss_mb": round(_children_peak_mb(), 1), "rss": rss,
            "engine": getattr(assessor.sentiment, "name", type(assessor.sentiment).__name__)}


def worker_floor(url: str, files: list[str], batch: int) -> dict:
    """The same rows, read and bulk-inserted with no normalisation, assessment or clustering."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    from ledger.db import make_engine
    from ledger.migrate import upgrade
    from ledger.models.core import Post, Source

    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    table = Post.__table__
    ins = (pg_insert if engine.dialect.name == "postgresql" else sqlite_insert)(table)
    ins = ins.on_conflict_do_nothing(index_elements=["source_id", "external_id"])
    w0, c0 = time.perf_counter(), time.process_time()
    rows_read = 0
    for f in files:
        with engine.begin() as conn:
            sid = conn.execute(Source.__table__.insert().values(
                name=f"floor:{Path(f).name}", kind="file", config={}, enabled=True, status="new",
                consecutive_failures=0).returning(Source.__table__.c.id)).scalar_one()
        with open(f, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            pending: list[dict] = []
            for userid, text in reader:
                rows_read += 1
                ext = "h:" + hashlib.sha1(f"{text.strip()}\x1f\x1f\x1f{userid.strip()}".encode()).hexdigest()
                pending.append({"source_id": sid, "external_id": ext, "text": text, "author": userid,
                                "fetched_at": now, "version": 1, "content_hash": "", "likes": 0,
                                "dislikes": 0, "reposts": 0, "rumour": False, "categories": [], "topics": [],
                                "pii": [], "assessment": {}})
                if len(pending) >= batch:
                    with engine.begin() as conn:
                        conn.execute(ins, pending)
                    pending = []
            if pending:
                with engine.begin() as conn:
                    conn.execute(ins, pending)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    engine.dispose()
    return {"rows": rows_read, "wall": wall, "cpu": cpu, "peak_rss_mb": round(_peak_mb(), 1)}


def worker_hotline(url: str, path: str) -> dict:
    """``yuqing import hotline FILE`` (posts + messages + reply clocks)."""
    from functools import partial

    from config.clockconfig import load_calendar, load_clock_rules
    from config.settings import get_settings
    from config.wiring import build_assessor
    from crawlers.importers import ensure_source, hotline_spec, import_file
    from ledger.clocks.replies import apply_reply_clock
    from ledger.db import make_engine
    from ledger.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    cfg = get_settings()
    now = datetime.now(UTC)
    w0, c0 = time.perf_counter(), time.process_time()
    assessor = build_assessor(cfg)
    clock = partial(apply_reply_clock, calendar=load_calendar(cfg), rules=load_clock_rules(cfg))
    sid, _ = ensure_source(engine, name="网上留言导入", kind="hotline", config={}, actor="bench", now=now)
    rep = import_file(engine, Path(path), hotline_spec(channel="网上留言", now=now), source_id=sid,
                      assessor=assessor, now=now, reply_clock=clock)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    engine.dispose()
    return {"rows": rep.rows, "messages": rep.messages.inserted, "wall": wall, "cpu": cpu,
            "peak_rss_mb": round(_peak_mb(), 1)}


# ---------------------------------------------------------------- driver


def run_worker(kind: str, **kw) -> dict:
    res = subprocess.run([sys.executable, __file__, "--worker", kind, json.dumps(kw)], capture_output=True,
                         text=True, check=False, env=WORKER_ENV)
    if res.returncode != 0:
        raise SystemExit(f"worker {kind} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def make_long_file(path: Path, files: list[Path], rows: int) -> None:
    """``rows`` posts: the stream files repeated, each repetition's texts given a suffix."""
    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(["userid", "text"])
        n, round_ = 0, 0
        while n < rows:
            for f in files:
                with f.open(encoding="utf-8", newline="") as fh:
                    reader = csv.reader(fh)
                    next(reader)
                    for userid, text in reader:
                        w.writerow([userid, text if round_ == 0 else f"{text} #{round_}"])
                        n += 1
                        if n >= rows:
                            return
            round_ += 1


def pg_schema_url() -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in PG_ADMIN else "?"
    return f"{PG_ADMIN}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _line(name: str, e2e: dict, floor: dict) -> str:
    rate_w, rate_c = e2e["rows"] / e2e["wall"], e2e["rows"] / e2e["cpu"]
    frate_w, frate_c = floor["rows"] / floor["wall"], floor["rows"] / floor["cpu"]
    return (f"| {name} | {e2e['rows']:,} ({e2e['inserted']:,} distinct) | {rate_w:,.0f} | {rate_c:,.0f} | "
            f"{frate_w:,.0f} | {frate_c:,.0f} | {rate_w / frate_w:.2f} | {rate_c / frate_c:.2f} | "
            f"{_peak(e2e)} |")


def _peak(res: dict) -> str:
    """Peak RSS of the importing process (+ its worker, if it had one)."""
    main = f"{res['peak_rss_mb']:,.0f} MB"
    if res.get("workers"):
        main += f" + {res['worker_peak_rss_mb']:,.0f} MB"
    return main


def _split(res: dict) -> str:
    return (f"{res['workers']} worker process(es) preparing batches: importing process "
            f"{res['main_cpu'] / res['rows'] * 1e6:,.0f} µs CPU per post, worker "
            f"{res['worker_cpu'] / res['rows'] * 1e6:,.0f} µs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, default=DATA / "weibo_stream")
    ap.add_argument("--memory-rows", type=int, default=1_000_000, help="posts in the memory run (0: skip)")
    ap.add_argument("--batch-size", type=int, default=2_000)
    ap.add_argument("--workers", type=int, default=-1,
                    help="import worker processes (default -1: as `yuqing import`, as many as the cores)")
    ap.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    ap.add_argument("--sentiment", help="sentiment engine for the run (YUQING_SENTIMENT_ENGINE; default: settings)")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = ap.parse_args()
    if args.worker:
        kw = json.loads(args.args)
        fn = {"e2e": worker_e2e, "floor": worker_floor, "hotline": worker_hotline}[args.worker]
        print(json.dumps(fn(**kw)))
        return

    if args.sentiment:
        WORKER_ENV["YUQING_SENTIMENT_ENGINE"] = args.sentiment
    files = sorted(args.data.glob("*.csv"))
    if not files:
        sys.exit(f"没有数据文件: {args.data}/*.csv")
    names = [str(f) for f in files]
    tmp = tempfile.TemporaryDirectory()
    t = Path(tmp.name)
    loads = [load_average()]
    results: dict[str, dict] = {"reference_ms": {"before": machine_reference()}}
    print("SQLite end-to-end ...", flush=True)
    results["sqlite_e2e"] = run_worker("e2e", url=f"sqlite:///{t / 'e2e.db'}", files=names,
                                       batch=args.batch_size, samples=0, workers=args.workers)
    results["sqlite_floor"] = run_worker("floor", url=f"sqlite:///{t / 'floor.db'}", files=names,
                                         batch=args.batch_size)
    print(json.dumps(results), flush=True)
    results["cli"] = run_cli(names, t / "cli.db", workers=args.workers)
    print(json.dumps({"cli": results["cli"]}), flush=True)
    if not args.no_pg:
        print("PostgreSQL end-to-end ...", flush=True)
        for key, kind in (("pg_e2e", "e2e"), ("pg_floor", "floor")):
            url, schema = pg_schema_url()
            try:
                extra = {"samples": 0, "workers": args.workers} if kind == "e2e" else {}
                results[key] = run_worker(kind, url=url, files=names, batch=args.batch_size, **extra)
            finally:
                drop_schema(schema)
        print(json.dumps({k: results[k] for k in ("pg_e2e", "pg_floor")}), flush=True)
    loads.append(load_average())
    hotline = DATA / "hotline_replies.csv"
    if hotline.exists():
        results["hotline"] = run_worker("hotline", url=f"sqlite:///{t / 'hotline.db'}", path=str(hotline))
        print(json.dumps(results["hotline"]), flush=True)
    if args.memory_rows:
        print(f"memory run, {args.memory_rows:,} posts ...", flush=True)
        long_file = t / "long.csv"
        make_long_file(long_file, files, args.memory_rows)
        results["memory"] = run_worker("e2e", url=f"sqlite:///{t / 'long.db'}", files=[str(long_file)],
                                       batch=args.batch_size, samples=args.memory_rows, workers=args.workers)
        print(json.dumps(results["memory"]), flush=True)
    loads.append(load_average())
    results["reference_ms"]["after"] = machine_reference()
    body = render(results, files, args, loads)
    print(body)
    if not args.no_write:
        write_section("Ingest", body)


def run_cli(files: list[str], db: Path, workers: int) -> dict:
    """The command itself, as a user runs it: ``yuqing import posts FILE… --text-col text
    --author-col userid`` (one process for all the files), timed from process start to exit
    (interpreter start, imports, checking every file and building the assessor included)."""
    env = {**WORKER_ENV, "YUQING_DATABASE_URL": f"sqlite:///{db}"}
    extra = ["--workers", str(workers)] if workers >= 0 else []
    cmd = [sys.executable, "-m", "config.cli.main", "import", "posts", *files, "--text-col", "text",
           "--author-col", "userid", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"yuqing import posts failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    rows = sum(int(n) for n in re.findall(r"读取 (\d+) 行", proc.stdout))
    return {"rows": rows, "wall": wall, "cpu": cpu, "files": len(files)}


def render(results: dict, files: list[Path], args, loads: list[str]) -> str:
    e = results["sqlite_e2e"]
    intro = (
        f"End-to-end ingest of the Weibo stream files ({', '.join(f.name for f in files)}) as "
        "`yuqing import posts FILE… --text-col text --author-col userid` does it (one process importing the "
        "files in turn): read and check the whole "
        "file, normalise (HTML, full-width, traditional → simplified), assess (sentiment engine "
        f"`{e['engine']}`, PII, rules, gazetteer, severity), deduplicate and cluster into events, store in "
        f"transactions of {args.batch_size:,} rows. Floor: the same rows read and bulk-inserted with no "
        "normalisation, assessment or clustering, in the same run. Each measurement in its own process; "
        f"Python {sys.version.split()[0]}, 2 cores shared with other jobs (load average "
        f"{' → '.join(loads)} during the run), so wall rates are lower than CPU rates."
    )
    head = ("| database | posts | e2e posts/s (wall) | e2e posts/s (CPU) | floor posts/s (wall) "
            "| floor posts/s (CPU) | ratio (wall) | ratio (CPU) | peak RSS |")
    out = [
        intro,
        "",
        head,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        _line("SQLite", e, results["sqlite_floor"]),
    ]
    if "pg_e2e" in results:
        out.append(_line("PostgreSQL", results["pg_e2e"], results["pg_floor"]))
    out += ["", ("Targets: ≥ 3,000 posts/s into SQLite, ≥ 1,000 posts/s into PostgreSQL. "
                 f"Building the assessor (models, rules) before the import: {e['setup']:.1f} s. "
                 f"CPU rates count all processes; SQLite run with {_split(e)}.")]
    if "cli" in results:
        c = results["cli"]
        out += ["", (f"The command as a user runs it, one process for the {c['files']} files "
                     "(`yuqing import posts FILE… --text-col text --author-col userid`, SQLite), timed from "
                     "process start to exit, so interpreter start, imports, checking every file and building "
                     f"the assessor are included: {c['rows']:,} rows in {c['wall']:.1f} s, "
                     f"**{c['rows'] / c['wall']:,.0f} posts/s** wall ({c['cpu']:.1f} s CPU in all processes).")]
    if "memory" in results:
        m = results["memory"]
        points = ", ".join(f"{n:,}: {mb:,.0f} + {wmb:,.0f} MB" for n, mb, wmb in m["rss"])
        out += ["", (f"Memory run: {m['rows']:,} posts (the stream files repeated, each repetition's texts "
                     f"given a suffix), SQLite, one `import posts`: {m['rows'] / m['wall']:,.0f} posts/s wall, "
                     f"{m['rows'] / m['cpu']:,.0f} posts/s CPU, peak RSS {_peak(m)}. "
                     f"RSS (importer + worker) after N posts: {points}.")]
    if "hotline" in results:
        h = results["hotline"]
        out += ["", (f"`yuqing import hotline hotline_replies.csv` ({h['rows']:,} rows → {h['messages']:,} posts "
                     f"and messages with reply clocks, SQLite): {h['wall']:.1f} s wall, {h['cpu']:.1f} s CPU "
                     "(including building the assessor and the calendar).")]
    ref = results.get("reference_ms") or {}
    if ref:
        after = ref.get("after", ref["before"])
        out += ["", reference_note((ref["before"] + after) / 2,
                                   f"mean of {ref['before']:,.0f} ms before and {after:,.0f} ms after")]
    out += ["", ("Reproduce: `python bench/ingest/run.py` (options `--memory-rows N`, `--no-pg`, "
                 "`--batch-size`, `--sentiment`, `--no-write`).")]
    return "\n".join(out)


if __name__ == "__main__":
    main()
