"""Crawl benchmark: items per second for a full list → detail crawl of a generated local site.

A threaded HTTP server on 127.0.0.1 serves ``--pages`` GBK list pages of ``--per-page`` links each
(default 20 × 25 = 500 detail pages). The generic Scrapy list→detail spider crawls it with
throttling off (no AutoThrottle, no delay; robots.txt still fetched and obeyed), once without
storing (``crawlers.web.fetch_web_source``: child process start, fetch, decode, extract) and once
including storing (``crawlers.runner.crawl_source`` into a fresh SQLite file: also assessment,
normalisation, evidence and the incremental id lookup). A second stored crawl shows the cost of
an incremental crawl when nothing is new.

Prints the figures and writes a "## Crawling" section into docs/BENCHMARKS.md (other sections
are kept). Usage: ``python bench/crawl/run.py [--pages 20] [--per-page 25] [--no-write]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from analysis.assess import Assessor  # noqa: E402
from bench.common import write_section  # noqa: E402
from crawlers.runner import CrawlOptions, crawl_source  # noqa: E402
from crawlers.web import fetch_web_source  # noqa: E402
from ledger.db import make_engine, session_scope  # noqa: E402
from ledger.migrate import upgrade  # noqa: E402
from ledger.posts.sources import add_source  # noqa: E402
from tests.sitesrv import SiteServer  # noqa: E402

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def site_config(srv: SiteServer, pages: int) -> dict:
    return {
        "list_urls": [srv.url("/gen/list1.html")],
        "item_links": "ul.list a",
        "next_page": "a.next",
        "max_pages": pages,
        "title": "h1.title",
        "body": "div.content",
        "published_at": ".time",
        "author": ".author",
        "politeness": {"autothrottle": False, "delay": 0.0, "concurrency": 16},
        "scrapy": {"CONCURRENT_REQUESTS": 32},
        "time_limit": 1800,
    }


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--per-page", type=int, default=25)
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = ap.parse_args()
    n = args.pages * args.per_page
    rows = []
    with SiteServer() as srv, tempfile.TemporaryDirectory() as tmp:
        srv.gen_pages, srv.gen_per_page = args.pages, args.per_page
        cfg = site_config(srv, args.pages)

        # fixed cost of one crawl: child process start-up and a one-page crawl
        t0, c0 = time.perf_counter(), child_cpu()
        tiny = fetch_web_source(SimpleNamespace(id=0, kind="html", url=None, config=cfg), CrawlOptions(), NOW,
                                limit=1)
        startup_wall, startup_cpu = time.perf_counter() - t0, child_cpu() - c0
        assert len(tiny.items) == 1

        t0, c0 = time.perf_counter(), child_cpu()
        fetched = fetch_web_source(SimpleNamespace(id=0, kind="html", url=None, config=cfg), CrawlOptions(), NOW)
        wall, cpu = time.perf_counter() - t0, child_cpu() - c0
        assert len(fetched.items) == n, (len(fetched.items), fetched.notes[:3])
        assert all(i.published_at is not None and i.title for i in fetched.items)
        rows.append(("fetch + extract, no storing", n, wall, cpu, fetched.requests))

        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        with session_scope(engine) as s:
            sid = add_source(s, name="bench", kind="html", url=None, config=cfg, interval_seconds=None, cron=None,
                             enabled=True, actor="bench", now=NOW).id
        assessor = Assessor()
        assessor.assess_batch(["预热"])  # load the sentiment model outside the timing
        t0, c0, s0 = time.perf_counter(), child_cpu(), own_cpu()
        report = crawl_source(engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
        wall, cpu = time.perf_counter() - t0, (child_cpu() - c0) + (own_cpu() - s0)
        assert report.ok and report.inserted == n, report
        rows.append(("fetch + extract + assess + store (SQLite)", n, wall, cpu, None))

        before = len(srv.requests)
        t0, c0, s0 = time.perf_counter(), child_cpu(), own_cpu()
        again = crawl_source(engine, sid, options=CrawlOptions(), assessor=assessor, now=NOW)
        wall, cpu = time.perf_counter() - t0, (child_cpu() - c0) + (own_cpu() - s0)
        assert again.ok and again.inserted == 0
        rows.append(("incremental re-crawl, nothing new", n, wall, cpu, len(srv.requests) - before))
        engine.dispose()

    load = os.getloadavg()[0]
    lines = [
        f"Generic list → detail spider on a generated local site: {args.pages} GBK list pages × "
        f"{args.per_page} links = {n} detail pages (about 2 KB each), served by a threaded HTTP server "
        "on 127.0.0.1; throttling off (no AutoThrottle, no delay, 16 requests per domain), robots.txt "
        "obeyed. Each crawl runs in its own child process (Twisted's reactor cannot be restarted), "
        "so the figures include the process start-up.",
        "",
        "| crawl | items | wall s | items / s (wall) | items / s (wall, after start-up) "
        "| CPU s | items / CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, items, wall, cpu, _ in rows[:2]:
        steady = items / max(wall - startup_wall, 1e-6) if wall > startup_wall else float("nan")
        lines.append(f"| {name} | {items} | {wall:.1f} | {items / wall:.0f} | {steady:.0f} | {cpu:.1f} "
                     f"| {items / cpu:.0f} |")
    name, items, wall, cpu, _ = rows[2]
    lines.append(f"| {name} | 0 new of {items} | {wall:.1f} | – | – | {cpu:.1f} | – |")
    lines += [
        "",
        f"Fixed cost of one crawl (child process start-up, robots.txt, one list and one detail page): "
        f"{startup_wall:.1f} s wall, {startup_cpu:.1f} s CPU. The incremental re-crawl made "
        f"{rows[2][4]} requests (robots.txt and the {args.pages} list pages), no detail page.",
        "",
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores shared with other "
        f"jobs (load average {load:.1f} at the end of the run: wall times grow with the load, CPU times much less). "
        "CPU times are those of the crawl process and, when storing, of the storing process (which also "
        "runs the test site's HTTP server).",
        "",
        "Reproduce: `python bench/crawl/run.py` (options `--pages`, `--per-page`, `--no-write`).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("Crawling", body)


if __name__ == "__main__":
    main()
