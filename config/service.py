"""The service: one APScheduler 3.x scheduler polling each enabled source and running ``tick``.

The scheduler process only schedules; the work runs in child processes that exit when done:
each crawl (``yuqing crawl --source ID``; Twisted's reactor cannot be restarted inside a
long-lived process), each tick (``yuqing tick --json``) and the weekly export (``yuqing export
weekly --send --json``). Whatever a run needs, however large the ledger has grown, goes back to
the system when its process exits, so the scheduler's memory does not follow the ledger's size,
and a run that hangs is killed at its time limit (``crawl_time_limit_seconds``,
``tick_time_limit_seconds``, ``export_time_limit_seconds``) without touching the scheduler. At
most ``max_concurrent_crawls`` crawls run at once.
Jobs have explicit ids (``crawl:<source id>``, ``tick``, ``sync-sources``, ``weekly-export``)
with ``replace_existing=True``, ``coalesce=True`` and an explicit ``misfire_grace_time``.
SIGINT / SIGTERM stop the scheduler cleanly.

Every job's last run (start, duration, delay, error) is recorded by :class:`config.health.JobHealth`
and written with the next run times to the status file every ``HEARTBEAT_SECONDS``; ``yuqing
status`` reads it. What the process keeps between runs is bounded: one record per scheduled job,
the set of crawls running (at most the number of sources), the scheduler's own job store.
"""

from __future__ import annotations

import json
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
        return job_id in ("tick", "sync-sources", "weekly-export") or job_id.startswith("crawl:")

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
            try:
                proc = self._child(["crawl", "--source", str(source_id)], timeout=self.settings.crawl_time_limit_seconds)
                output = (proc.stdout + proc.stderr).strip()[:500]
                if proc.returncode != 0 and self._stopping(proc.returncode):
                    error = "随服务停止而中断 (interrupted by the service's stop)"
                    log.info("crawl %s interrupted: the service is stopping (exit %s)", source_id, proc.returncode)
                else:
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

    def _stopping(self, returncode: int) -> bool:
        """Whether a child ended because the service is stopping: systemd's stop and Ctrl-C signal
        the whole process group, so a running child ends with the scheduler (its transaction
        rolls back). A child killed by a signal gets two seconds for the stop to be seen."""
        return self.stopped.is_set() or (returncode < 0 and self.stopped.wait(2))

    def _child(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess:
        """Run ``yuqing <args>`` in a child process, its output captured; killed at ``timeout``
        (raises :class:`subprocess.TimeoutExpired`)."""
        return subprocess.run([sys.executable, "-m", "config.cli.main", *args], check=False, capture_output=True,
                              text=True, env=self.child_env, timeout=timeout)

    def _json_child(self, job_id: str, args: list[str], *, timeout: float) -> tuple[dict | None, str | None]:
        """Run a ``--json`` command as a child: (its JSON output, None) or (None, why it failed),
        the failure logged with the end of the child's error output."""
        try:
            proc = self._child(args, timeout=timeout)
        except subprocess.TimeoutExpired:
            log.error("%s killed at its time limit (%ss)", job_id, timeout)
            return None, f"超时被终止 (killed at its time limit, {timeout}s)"
        if proc.returncode != 0:
            if self._stopping(proc.returncode):
                log.info("%s interrupted: the service is stopping (exit %s)", job_id, proc.returncode)
                return None, "随服务停止而中断 (interrupted by the service's stop)"
            output = (proc.stderr or proc.stdout).strip()
            log.error("%s failed (exit %s): %s", job_id, proc.returncode, output[-2000:])
            return None, f"exit {proc.returncode}: {output[-300:]}"
        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            log.error("%s printed no JSON: %s", job_id, (proc.stdout + proc.stderr).strip()[-2000:])
            return None, "输出无法解析 (no JSON output)"
        if proc.stderr.strip():  # tracebacks of a failed alert step, warnings
            log.warning("%s: %s", job_id, proc.stderr.strip()[-4000:])
        return doc, None

    def tick(self) -> None:
        """Run one pass of time (clocks, escalations, delivery) as of now, in a child process."""
        self.health.started("tick", datetime.now(UTC), name="推进时钟")
        summary, error = self._json_child("tick", ["tick", "--json"], timeout=self.settings.tick_time_limit_seconds)
        if summary is not None:
            failed = summary.get("hook_errors") or []
            if failed:  # the clocks moved; an alert step did not: the job is not healthy
                error = "告警步骤出错: " + "; ".join(f"{e.get('hook')}: {e.get('error')}" for e in failed)
                log.error("tick: %s", error)
            changed = {k: summary.get(k) for k in ("clocks_changed", "messages_changed", "commitments_overdue")}
            if any(changed.values()):
                log.info("tick changed: %s", ", ".join(f"{k} {v}" for k, v in changed.items()))
        took = self.health.finished("tick", datetime.now(UTC), error=error)
        inside = summary.get("took_s") if summary is not None else None
        trim_heap()
        log.info("tick done: %.3f s, process %.3f s, rss %.1f MB", inside if inside is not None else took, took,
                 rss_mb())

    def weekly_export(self) -> None:
        """Write and send the weekly ledger export (the week before now), in a child process."""
        self.health.started("weekly-export", datetime.now(UTC), name="每周台账导出")
        result, error = self._json_child("weekly-export", ["export", "weekly", "--send", "--json"],
                                         timeout=self.settings.export_time_limit_seconds)
        self.health.finished("weekly-export", datetime.now(UTC), error=error)
        if result is not None:
            log.info("weekly export %s written: %s, %s", result.get("week"), result.get("xlsx"), result.get("docx"))

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

        install_jobs(self.scheduler, self.settings, self.weekly_export)
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
