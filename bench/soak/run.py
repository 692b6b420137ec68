"""Soak benchmark of the 24/7 service: ``yuqing run`` for hours against a local world.

The world (:mod:`bench.soak.site`): an RSS feed gaining 50 posts every 10 s, a JSON API gaining
an entry every 20 s, an alert webhook. Beside the service, this script plays the office: a
hotline export imported every hour, a case opened every few minutes (grade 较大: its clocks
run, warn and miss, which makes alerts delivered to the webhook through the duty roster) and an
older one closed through the whole release workflow.

Every ``--sample`` seconds it records the service's RSS (the scheduler process, and its crawl
children), open file descriptors, threads, tick and crawl durations and crawl waits (from the
log), outbox backlog, database size, posts stored and webhook deliveries. It writes the samples
(CSV), a chart and a table to docs/BENCHMARKS.md ("Soak: the service over hours").

    python bench/soak/run.py --minutes 120            # the documented run
    python bench/soak/run.py --minutes 9 --no-write   # the issue's check, printed only

Exit status 1 when the log holds an error or the service did not stop cleanly.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.soak.site import SoakSite, post_text  # noqa: E402

TICK_RE = re.compile(r"tick done: ([0-9.]+) s")
CRAWL_RE = re.compile(r"crawl (\d+) done: ([0-9.]+) s, waited ([0-9.]+) s")
ERROR_RE = re.compile(r" (ERROR|CRITICAL) |Traceback")


class Office:
    """Runs the CLI the way an office would, against the soak's database."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir = env, workdir
        self.open_cases: list[int] = []
        self.closed = 0
        self.opened = 0
        self.imports = 0
        self.failures: list[str] = []

    def cli(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run([sys.executable, "-m", "config.cli.main", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            self.failures.append(f"{' '.join(args[:3])}: {proc.stderr.strip()[-300:]}")
        return proc.stdout

    def setup(self, site: SoakSite) -> None:
        hook = site.url.replace("http://", "json://") + "/hook"
        self.cli("duty", "add-person", "值班员甲", "--role", "值班人员", "--unit", "示例市应急管理局", "--url", hook)
        self.cli("duty", "add-person", "领导乙", "--role", "分管领导", "--unit", "示例市应急管理局", "--url", hook)
        now = datetime.now(UTC)
        self.cli("duty", "add", "--start", (now - timedelta(hours=1)).isoformat(),
                 "--end", (now + timedelta(days=3)).isoformat(), "--person", "值班员甲", "--leader", "领导乙")
        self.cli("source", "add", "--kind", "rss", "--name", "本地论坛", "--url", f"{site.url}/feed.xml",
                 "--interval", "10")
        api = self.workdir / "api.toml"
        api.write_text(
            f'url = "{site.url}/api/list?page={{page}}"\nmax_pages = 2\nitems_path = "data.list"\n'
            'url_template = "http://soak.example/api/{id}"\n[fields]\nexternal_id = "id"\ntitle = "title"\n'
            'text = "content"\npublished_at = "ctime"\nauthor = "user.name"\nlikes = "stats.like"\n',
            encoding="utf-8")
        self.cli("source", "add", "--kind", "json", "--name", "问政接口", "--config", str(api), "--interval", "30")

    def import_hotline(self, n: int, rows: int = 40) -> None:
        path = self.workdir / f"hotline-{n}.csv"
        now = datetime.now(UTC).astimezone()
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情"])
            for i in range(rows):
                title, text = post_text(2_000_000 + n * rows + i)
                w.writerow([f"H{n}-{i}", f"市民{i}", title, (now - timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S"),
                            text])
        self.cli("import", "hotline", str(path), "--channel", "12345热线", "--workers", "0")
        self.imports += 1

    def open_case(self) -> None:
        self.opened += 1
        out = self.cli("case", "open", "--title", f"持续监测案件 {self.opened}", "--grade", "较大",
                       "--discovered-at", datetime.now(UTC).isoformat(), "--unit", "示例市应急管理局",
                       "--disposal-type", "不了解情况、存在模糊认识", "--json")
        m = re.search(r'"id": (\d+)', out)
        if m:
            self.open_cases.append(int(m.group(1)))

    def close_case(self) -> None:
        if not self.open_cases:
            return
        case = str(self.open_cases.pop(0))
        out = self.cli("case", "release", "add", case, "--kind", "权威信息", "--title", "情况通报",
                       "--text", "经核实，相关情况已处置完毕。")
        release = out.strip().splitlines()[-1] if out.strip() else ""
        if not release.isdigit():
            return
        for step, who in (("初审", "审核甲"), ("复审", "审核乙"), ("终审", "领导乙"), ("保密审查", "保密丙")):
            self.cli("case", "release", "review", release, "--step", step, "--reviewer", who)
        self.cli("case", "release", "publish", release, "--channel", "政府网站")
        for status in ("研判", "交办", "处置", "已回应", "办结"):
            self.cli("case", "status", case, "--to", status)
        self.closed += 1


def _sqlite_file(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _db_figures(url: str) -> tuple[int, int, int]:
    """(database bytes, posts, outbox backlog) of a SQLite soak database."""
    path = _sqlite_file(url)
    if path is None or not path.exists():
        return 0, 0, 0
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        posts = con.execute("SELECT count(*) FROM post").fetchone()[0]
        backlog = con.execute("SELECT count(*) FROM notification WHERE status IN ('pending', 'sending')").fetchone()[0]
    except sqlite3.Error:
        posts = backlog = -1
    finally:
        con.close()
    return size, posts, backlog


def _memory_parts(status: Path) -> dict:
    """The service's own memory report from its status file (config.memory): where RSS goes."""
    try:
        mem = json.loads(status.read_text(encoding="utf-8")).get("memory") or {}
    except (OSError, ValueError):
        mem = {}
    from bench.soak.report import PARTS

    return {key: mem.get(key.removeprefix("mem_")) for key, _label in PARTS}


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 3) if xs else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=15.0, help="minutes of warm-up before memory is judged")
    ap.add_argument("--case-every", type=float, default=300.0, help="seconds between cases opened")
    ap.add_argument("--import-every", type=float, default=3600.0, help="seconds between hotline imports")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the database and log here")
    ap.add_argument("--no-write", action="store_true", help="print only; do not touch docs/")
    args = ap.parse_args(argv)

    import psutil

    work = args.workdir or Path(tempfile.mkdtemp(prefix="yuqing-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work / 'yuqing.db'}"
    env = dict(os.environ, PYTHONPATH=str(ROOT), YUQING_DATA_DIR=str(work / "var"), YUQING_DATABASE_URL=db_url,
               YUQING_SECRET_KEY=os.urandom(16).hex(), YUQING_LOG_FILE=str(work / "yuqing.log"),
               YUQING_STATUS_FILE=str(work / "status.json"))
    def _terminated(signum, _frame):  # SIGTERM to the soak: stop the service too, not orphan it
        raise SystemExit(f"soak stopped by signal {signum}")

    signal.signal(signal.SIGTERM, _terminated)
    site = SoakSite().start()
    office = Office(env, work)
    office.cli("db", "upgrade")
    office.setup(site)
    office.import_hotline(0)
    service = subprocess.Popen([sys.executable, "-m", "config.cli.main", "run"], cwd=ROOT, env=env,
                               stdout=(work / "run.out").open("w"), stderr=subprocess.STDOUT)
    proc = psutil.Process(service.pid)
    log_path = work / "yuqing.log"
    log_pos = 0
    samples: list[dict] = []
    t0 = time.monotonic()
    end = t0 + args.minutes * 60
    next_sample = t0 + args.sample
    errors: list[str] = []
    ticks: list[float] = []
    crawls: list[float] = []
    waits: list[float] = []
    print(f"soak: {args.minutes} min, workdir {work}, service pid {service.pid}", flush=True)
    stop = threading.Event()

    def play_office() -> None:  # beside the sampling, so a slow CLI call never delays a sample
        next_case, next_import = t0 + 60, t0 + args.import_every
        while not stop.wait(1.0):
            now = time.monotonic()
            if now >= next_case:
                office.open_case()
                if len(office.open_cases) > 3:
                    office.close_case()
                next_case += args.case_every
            if now >= next_import:
                office.import_hotline(office.imports)
                next_import += args.import_every

    player = threading.Thread(target=play_office, daemon=True)
    player.start()
    try:
        while time.monotonic() < end:
            if service.poll() is not None:
                errors.append(f"the service exited with {service.returncode}")
                break
            now = time.monotonic()
            if now >= next_sample:
                if log_path.exists():
                    with log_path.open(encoding="utf-8", errors="replace") as fh:
                        fh.seek(log_pos)
                        chunk = fh.read()
                        log_pos = fh.tell()
                    ticks += [float(m.group(1)) for m in TICK_RE.finditer(chunk)]
                    for m in CRAWL_RE.finditer(chunk):
                        crawls.append(float(m.group(2)))
                        waits.append(float(m.group(3)))
                    errors += [line for line in chunk.splitlines() if ERROR_RE.search(line)]
                try:
                    rss = proc.memory_info().rss
                    kids = proc.children(recursive=True)
                    kid_rss = sum(k.memory_info().rss for k in kids if k.is_running())
                    fds, threads = proc.num_fds(), proc.num_threads()
                except psutil.Error:
                    rss = kid_rss = fds = threads = 0
                    kids = []
                size, posts, backlog = _db_figures(db_url)
                row = {"minute": round((now - t0) / 60, 2), "rss_mb": round(rss / 2**20, 1),
                       "children": len(kids), "children_rss_mb": round(kid_rss / 2**20, 1), "fds": fds,
                       "threads": threads, "tick_s": _mean(ticks), "tick_max_s": max(ticks) if ticks else None,
                       "crawl_s": _mean(crawls), "crawl_wait_s": _mean(waits), "crawls": len(crawls),
                       "outbox_backlog": backlog, "db_mb": round(size / 2**20, 1), "posts": posts,
                       "webhook": site.hooks, "cases_open": office.opened, "cases_closed": office.closed,
                       **_memory_parts(work / "status.json")}
                samples.append(row)
                with (work / "samples.csv").open("a", newline="", encoding="utf-8") as fh:  # kept as it goes
                    w = csv.DictWriter(fh, fieldnames=list(row))
                    if len(samples) == 1:
                        w.writeheader()
                    w.writerow(row)
                ticks, crawls, waits = [], [], []
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
                next_sample += args.sample
            time.sleep(0.5)
    finally:
        stop.set()
        player.join(timeout=600)
        service.send_signal(signal.SIGTERM)
        try:
            rc = service.wait(timeout=120)
        except subprocess.TimeoutExpired:
            service.kill()
            rc = "killed"
        site.stop()
    clean = rc == 0
    if log_path.exists():
        with log_path.open(encoding="utf-8", errors="replace") as fh:
            fh.seek(log_pos)
            errors += [line for line in fh.read().splitlines() if ERROR_RE.search(line)]
    from bench.soak.report import summarise, write_docs

    summary = summarise(samples, warmup_minutes=args.warmup, errors=errors, office=office, clean_stop=clean)
    print(summary["text"], flush=True)
    if not args.no_write and samples:
        write_docs(samples, summary, minutes=args.minutes)
    return 0 if clean and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
