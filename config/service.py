"""The service: one APScheduler 3.x scheduler polling each enabled source and running ``tick``.

Crawls run in child processes (Twisted's reactor cannot be restarted inside a long-lived
process), at most ``max_concurrent_crawls`` at once, each killed at ``crawl_time_limit_seconds``.
Jobs have explicit ids (``crawl:<source id>``, ``tick``, ``sync-sources``) with
``replace_existing=True``, ``coalesce=True`` and an explicit ``misfire_grace_time``.
SIGINT / SIGTERM stop the scheduler cleanly.

Every job's last run (start, duration, delay, error) is recorded by :class:`config.health.JobHealth`
and written with the next run times to the status file every ``HEARTBEAT_SECONDS``; ``yuqing
status`` reads it. What the process keeps between runs is bounded: one record per scheduled job,
the set of crawls running (at most the number of sources), the scheduler's own job store.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from config.health import HEARTBEAT_SECONDS, JobHealth, MemoryTracer
from config.memory import limit_malloc_arenas, memory_report, trim_heap
from config.settings import Settings

log = logging.getLogger("yuqing.service")


def rss_mb() -> float:
    """Resident memory of this process in MB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


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
        self._next_runs: dict[str, tuple[str, datetime | None]] = {}
        self.health = JobHealth(settings.effective_status_file, started_at=datetime.now(UTC))
        self.scheduler.add_listener(self._job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    # --- health -----------------------------------------------------------------------------
    @staticmethod
    def _self_recorded(job_id: str) -> bool:
        return job_id in ("tick", "sync-sources") or job_id.startswith("crawl:")

    def _job_event(self, event: JobExecutionEvent) -> None:
        """APScheduler ran a job: note when it was due; record jobs that do not record themselves."""
        now = datetime.now(UTC)
        if not self._self_recorded(event.job_id):
            self.health.started(event.job_id, now, due=event.scheduled_run_time)
            error = f"{type(event.exception).__name__}: {event.exception}" if event.exception else None
            self.health.finished(event.job_id, now, error=error)
        self.health.scheduler_ran(event.job_id, event.scheduled_run_time, now)

    def write_status(self, *, stopped: bool = False) -> None:
        """Write the status file (the heartbeat; ``stopped``: the last one, on a clean stop);
        a failure is logged, never raised."""
        try:
            import psutil

            if stopped:  # the scheduler is gone: the jobs it had, none of them due any more
                next_runs = {job_id: (name, None) for job_id, (name, _) in self._next_runs.items()}
            else:
                next_runs = self._next_runs = {job.id: (job.name, job.next_run_time) for job in self.scheduler.get_jobs()}
            rss = psutil.Process().memory_info().rss
            doc = self.health.snapshot(datetime.now(UTC), next_runs, grace_seconds=self.settings.misfire_grace_seconds,
                                       pid=os.getpid(), rss_bytes=rss)
            doc["memory"] = memory_report(self.engine, rss_bytes=rss)
            if stopped:
                doc["stopped_at"] = doc["heartbeat"]
            self.health.write(doc)
        except Exception:
            log.exception("writing the status file %s failed", self.health.path)

    # --- jobs -------------------------------------------------------------------------------
    def sync_sources(self) -> None:
        """Add, update or remove crawl jobs so they match the enabled sources."""
        from ledger.db import session_scope
        from ledger.posts.sources import list_sources

        self.health.started("sync-sources", datetime.now(UTC), name="同步来源")
        try:
            self._sync_sources(list_sources, session_scope)
        except Exception as exc:
            self.health.finished("sync-sources", datetime.now(UTC), error=f"{type(exc).__name__}: {exc}")
            raise
        self.health.finished("sync-sources", datetime.now(UTC))

    def _sync_sources(self, list_sources, session_scope) -> None:
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
        self.pool.submit(self._crawl_child, source_id, datetime.now(UTC))

    def _crawl_child(self, source_id: int, handed_over: datetime | None = None) -> None:
        job_id = f"crawl:{source_id}"
        waited = self.health.started(job_id, datetime.now(UTC), name=f"抓取来源 {source_id}", due=handed_over)
        error: str | None = None
        try:
            if self.settings.redis_url and self._seed(source_id):
                return
            cmd = [sys.executable, "-m", "config.cli.main", "crawl", "--source", str(source_id)]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, env=self.child_env,
                                      timeout=self.settings.crawl_time_limit_seconds)
                output = (proc.stdout + proc.stderr).strip()[:500]
                if proc.returncode != 0:
                    error = f"exit {proc.returncode}: {output[-300:]}"
                level = logging.INFO if proc.returncode == 0 else logging.WARNING
                log.log(level, "crawl %s: %s", source_id, output)
            except subprocess.TimeoutExpired:
                error = f"killed at its time limit ({self.settings.crawl_time_limit_seconds}s)"
                log.error("crawl %s killed at its time limit (%ss)", source_id, self.settings.crawl_time_limit_seconds)
                self._record_timeout(source_id)
        finally:
            with self._lock:
                self._running.discard(source_id)
            took = self.health.finished(job_id, datetime.now(UTC), error=error)
            log.info("crawl %s done: %.3f s, waited %.3f s for a crawl slot", source_id, took, waited or 0.0)

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

        self.health.started("tick", datetime.now(UTC), name="推进时钟")
        error = None
        try:
            run_tick(self.engine, self.settings, datetime.now(UTC))
        except Exception as exc:  # keep the service alive; the failure is logged
            error = f"{type(exc).__name__}: {exc}"
            log.exception("tick failed")
        took = self.health.finished("tick", datetime.now(UTC), error=error)
        trim_heap()
        log.info("tick done: %.3f s, rss %.1f MB", took, rss_mb())

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        limit_malloc_arenas()
        self.scheduler.add_job(self.sync_sources, IntervalTrigger(seconds=30, timezone=self.tz),
                               id="sync-sources", name="同步来源", replace_existing=True, coalesce=True,
                               misfire_grace_time=self.settings.misfire_grace_seconds,
                               next_run_time=datetime.now(self.tz))
        self.scheduler.add_job(self.tick, IntervalTrigger(seconds=self.settings.tick_interval_seconds, timezone=self.tz),
                               id="tick", name="推进时钟", replace_existing=True, coalesce=True, max_instances=1,
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
        self.write_status(stopped=True)
        log.info("service stopped")

    def run_forever(self) -> None:
        """Start, block until SIGINT / SIGTERM, then stop cleanly."""
        def _handler(signum, _frame):
            log.info("signal %s received, stopping", signum)
            self.stopped.set()

        old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            last = 0.0
            tracer = MemoryTracer.from_env()
            while not self.stopped.wait(0.5):
                if time.monotonic() - last >= HEARTBEAT_SECONDS:
                    self.write_status()
                    if tracer is not None:
                        tracer.heartbeat()
                    last = time.monotonic()
        finally:
            self.stopped.clear()
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)
