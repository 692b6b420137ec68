"""The service: one APScheduler 3.x scheduler polling each enabled source and running ``tick``.

Crawls run in child processes (Twisted's reactor cannot be restarted inside a long-lived
process), at most ``max_concurrent_crawls`` at once, each killed at ``crawl_time_limit_seconds``.
Jobs have explicit ids (``crawl:<source id>``, ``tick``, ``sync-sources``) with
``replace_existing=True``, ``coalesce=True`` and an explicit ``misfire_grace_time``.
SIGINT / SIGTERM stop the scheduler cleanly.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from config.settings import Settings

log = logging.getLogger("yuqing.service")

class Service:
    """Owns the scheduler, the crawl workers and the stop event."""

    def __init__(self, engine: Engine, settings: Settings, *, child_env: dict[str, str] | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.scheduler = BackgroundScheduler(timezone=self.tz)
        self.pool = ThreadPoolExecutor(max_workers=max(1, settings.max_concurrent_crawls),
                                       thread_name_prefix="crawl")
        self.stopped = threading.Event()
        self.child_env = child_env
        self._running: set[int] = set()
        self._lock = threading.Lock()

    # --- jobs -------------------------------------------------------------------------------
    def sync_sources(self) -> None:
        """Add, update or remove crawl jobs so they match the enabled sources."""
        from ledger.db import session_scope
        from ledger.posts.sources import list_sources

        with session_scope(self.engine) as session:
            sources = [(s.id, s.kind, s.interval_seconds, s.cron) for s in list_sources(session, enabled_only=True)]
        wanted = set()
        for sid, kind, interval, cron in sources:
            if kind not in ("rss", "atom", "feed", "html", "json", "board"):  # crawlable kinds
                continue
            job_id = f"crawl:{sid}"
            wanted.add(job_id)
            trigger = (CronTrigger.from_crontab(cron, timezone=self.tz) if cron
                       else IntervalTrigger(seconds=interval or self.settings.default_interval_seconds, timezone=self.tz))
            existing = self.scheduler.get_job(job_id)
            if existing is not None and str(existing.trigger) == str(trigger):
                continue
            self.scheduler.add_job(
                self.submit_crawl, trigger=trigger, args=[sid], id=job_id, name=f"抓取来源 {sid}",
                replace_existing=True, coalesce=True, max_instances=1,
                misfire_grace_time=self.settings.misfire_grace_seconds,
                next_run_time=datetime.now(self.tz) if existing is None else existing.next_run_time,
            )
        for job in self.scheduler.get_jobs():
            if job.id.startswith("crawl:") and job.id not in wanted:
                job.remove()

    def submit_crawl(self, source_id: int) -> None:
        with self._lock:
            if source_id in self._running:
                return
            self._running.add(source_id)
        self.pool.submit(self._crawl_child, source_id)

    def _crawl_child(self, source_id: int) -> None:
        if self.settings.redis_url and self._seed(source_id):
            return
        cmd = [sys.executable, "-m", "config.cli.main", "crawl", "--source", str(source_id)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=self.child_env,
                                  timeout=self.settings.crawl_time_limit_seconds)
            level = logging.INFO if proc.returncode == 0 else logging.WARNING
            log.log(level, "crawl %s: %s", source_id, (proc.stdout + proc.stderr).strip()[:500])
        except subprocess.TimeoutExpired:
            log.error("crawl %s killed at its time limit (%ss)", source_id, self.settings.crawl_time_limit_seconds)
            self._record_timeout(source_id)
        finally:
            with self._lock:
                self._running.discard(source_id)

    def _seed(self, source_id: int) -> bool:
        """Distributed mode: queue the source for the crawl workers; False = crawl it locally."""
        from crawlers.distributed import seed_source

        try:
            queued = seed_source(self.engine, self.settings.redis_url, self.settings.redis_prefix, source_id,
                                 datetime.now(UTC))
        except Exception:  # Redis down or a bad config: logged; the next run tries again
            log.exception("seeding source %s into Redis failed", source_id)
            with self._lock:
                self._running.discard(source_id)
            return True
        if queued:
            log.info("source %s: %s list URLs queued for the crawl workers", source_id, queued)
            with self._lock:
                self._running.discard(source_id)
        return bool(queued)

    def _record_timeout(self, source_id: int) -> None:
        from ledger.db import session_scope
        from ledger.posts.sources import get_source, record_failure

        with session_scope(self.engine) as session:
            record_failure(session, source=get_source(session, source_id),
                           error=f"抓取超时被终止 (killed after {self.settings.crawl_time_limit_seconds}s)",
                           now=datetime.now(UTC), down_after=self.settings.source_down_after)

    def tick(self) -> None:
        """Run one pass of time (clocks, escalations, delivery) as of now."""
        from config.ticking import run_tick

        try:
            run_tick(self.engine, self.settings, datetime.now(UTC))
        except Exception:  # keep the service alive; the failure is logged
            log.exception("tick failed")

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self.scheduler.add_job(self.sync_sources, IntervalTrigger(seconds=30, timezone=self.tz),
                               id="sync-sources", replace_existing=True, coalesce=True,
                               misfire_grace_time=self.settings.misfire_grace_seconds,
                               next_run_time=datetime.now(self.tz))
        self.scheduler.add_job(self.tick, IntervalTrigger(seconds=self.settings.tick_interval_seconds, timezone=self.tz),
                               id="tick", replace_existing=True, coalesce=True, max_instances=1,
                               misfire_grace_time=self.settings.misfire_grace_seconds)
        from config.jobs import install_jobs  # the weekly export

        install_jobs(self.scheduler, self.engine, self.settings)
        self.scheduler.start()
        log.info("service started")

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.pool.shutdown(wait=True, cancel_futures=True)
        log.info("service stopped")

    def run_forever(self) -> None:
        """Start, block until SIGINT / SIGTERM, then stop cleanly."""
        def _handler(signum, _frame):
            log.info("signal %s received, stopping", signum)
            self.stopped.set()

        old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not self.stopped.wait(0.5):
                pass
        finally:
            self.stopped.clear()
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)
