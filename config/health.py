"""Health of the long-running service: its log file and what each scheduled job last did.

- :func:`setup_logging` sends the service's log to the console and to a file rotated by size
  (``log_file``, ``log_max_bytes``, ``log_backups``), so months of running never fill the disk
  and yesterday's errors can still be read.
- :class:`JobHealth` records, per job (``tick``, ``crawl:<id>``, ``sync-sources``, the weekly
  export), the last start, end, duration, error and scheduling delay, and writes them with the
  jobs' next run times to a small JSON status file (``status_file``) every few seconds: a
  separate process reads it without touching the database or the scheduler.
- :func:`read_status` turns that file into a verdict for ``yuqing status``: the service is down
  when its heartbeat is old; a job is late when its next run is past by more than the grace time.

Bounds: one record per job currently scheduled (records of removed jobs are dropped at the next
write); the log file holds at most ``log_max_bytes × (log_backups + 1)`` bytes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from config.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HEARTBEAT_SECONDS = 10
# the service is reported down when its status file is older than this many heartbeats
DOWN_AFTER_HEARTBEATS = 6
_HANDLER_NAME = "yuqing-file"


def setup_logging(settings: Settings) -> Path | None:
    """Console logging at ``log_level`` plus the rotating log file; returns the file's path.

    Idempotent: a second call replaces the file handler of the first instead of adding another
    (a handler per call would write every line twice and keep files open)."""
    level = getattr(logging, str(settings.log_level).upper(), logging.INFO)
    logging.basicConfig(level=level, format=FORMAT)
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
            handler.close()
    path = settings.effective_log_file
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=settings.log_max_bytes, backupCount=settings.log_backups,
                                  encoding="utf-8")
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    root.addHandler(handler)
    return path


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


@dataclass
class JobRecord:
    """What one job last did."""

    name: str = ""
    runs: int = 0
    errors: int = 0
    running: bool = False
    last_scheduled: datetime | None = None
    last_start: datetime | None = None
    last_end: datetime | None = None
    last_duration_s: float | None = None
    last_delay_s: float | None = None
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "runs": self.runs, "errors": self.errors, "running": self.running,
                "last_scheduled": _iso(self.last_scheduled), "last_start": _iso(self.last_start),
                "last_end": _iso(self.last_end), "last_duration_s": self.last_duration_s,
                "last_delay_s": self.last_delay_s, "last_error": self.last_error, **self.extra}


class JobHealth:
    """Per-job records of one service process and the status file they are written to."""

    def __init__(self, path: Path, *, started_at: datetime) -> None:
        self.path = Path(path)
        self.started_at = started_at
        self._jobs: dict[str, JobRecord] = {}
        self._lock = threading.Lock()

    def _record(self, job_id: str) -> JobRecord:
        rec = self._jobs.get(job_id)
        if rec is None:
            rec = self._jobs[job_id] = JobRecord()
        return rec

    def started(self, job_id: str, now: datetime, *, name: str = "", due: datetime | None = None) -> float | None:
        """The job's work starts; ``due``: when it should have (its delay is recorded then)."""
        with self._lock:
            rec = self._record(job_id)
            rec.name = name or rec.name
            rec.running = True
            rec.last_start = now
            rec.last_delay_s = round(max(0.0, (now - due).total_seconds()), 3) if due is not None else None
            return rec.last_delay_s

    def scheduler_ran(self, job_id: str, scheduled: datetime, now: datetime) -> None:
        """The scheduler ran the job for its run due at ``scheduled`` (APScheduler's executed
        event). A job that records its own start gets its delay from it; the scheduler's own
        lateness is kept as ``scheduler_late_s``; a job that records nothing itself (the weekly
        export) is recorded as run."""
        with self._lock:
            rec = self._record(job_id)
            rec.last_scheduled = scheduled
            rec.extra["scheduler_late_s"] = round(max(0.0, (now - scheduled).total_seconds()), 3)
            if rec.last_start is not None and rec.last_delay_s is None and rec.last_start >= scheduled:
                rec.last_delay_s = round((rec.last_start - scheduled).total_seconds(), 3)

    def finished(self, job_id: str, now: datetime, *, error: str | None = None, **extra: Any) -> float:
        """The job's work ended (``error``: why it failed); returns its duration in seconds."""
        with self._lock:
            rec = self._record(job_id)
            rec.running = False
            rec.runs += 1
            rec.last_end = now
            rec.last_duration_s = (round((now - rec.last_start).total_seconds(), 3)
                                   if rec.last_start is not None else None)
            if error:
                rec.errors += 1
                rec.last_error = error[:500]
            else:
                rec.last_error = None
            rec.extra.update(extra)
            return rec.last_duration_s or 0.0

    def snapshot(self, now: datetime, next_runs: dict[str, tuple[str, datetime | None]],
                 *, grace_seconds: int, pid: int, rss_bytes: int | None = None) -> dict[str, Any]:
        """The status document; drops records of jobs no longer scheduled (``next_runs`` holds
        every scheduled job: id → (name, next run time))."""
        with self._lock:
            for job_id in [j for j in self._jobs if j not in next_runs and not self._jobs[j].running]:
                del self._jobs[job_id]
            jobs = {}
            for job_id, (name, next_run) in sorted(next_runs.items()):
                rec = self._jobs.get(job_id)
                doc = rec.as_dict() if rec is not None else JobRecord().as_dict()
                doc["name"] = name or doc["name"]
                doc["next_run"] = _iso(next_run)
                jobs[job_id] = doc
        return {"pid": pid, "started_at": _iso(self.started_at), "heartbeat": _iso(now),
                "heartbeat_seconds": HEARTBEAT_SECONDS, "grace_seconds": grace_seconds,
                "rss_bytes": rss_bytes, "jobs": jobs}

    def write(self, doc: dict[str, Any]) -> None:
        """Write the status file atomically (a reader never sees half a file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


@dataclass
class JobVerdict:
    job_id: str
    name: str
    state: str  # 正常 / 运行中 / 迟滞 / 出错 / 未运行
    last_start: datetime | None
    last_duration_s: float | None
    next_run: datetime | None
    error: str | None


@dataclass
class ServiceVerdict:
    running: bool
    heartbeat: datetime | None
    problem: str | None
    jobs: list[JobVerdict]
    memory: dict[str, Any] | None = None  # the service's last memory report (config.memory)

    @property
    def healthy(self) -> bool:
        return self.running and self.problem is None and all(j.state not in ("迟滞", "出错") for j in self.jobs)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def read_status(path: Path, now: datetime, tz: tzinfo = UTC) -> ServiceVerdict:
    """Judge the status file at ``now`` (times in messages in ``tz``). A missing or unreadable
    file: the service is not running."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        heartbeat = _dt(doc["heartbeat"])
        every = float(doc.get("heartbeat_seconds") or HEARTBEAT_SECONDS)
        grace = float(doc.get("grace_seconds") or 60)
        raw_jobs = dict(doc.get("jobs") or {})
    except FileNotFoundError:
        return ServiceVerdict(False, None, f"未找到服务状态文件 (no status file): {path}；服务可能未启动", [])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return ServiceVerdict(False, None, f"服务状态文件无法读取 (unreadable status file) {path}: {exc}", [])
    jobs = []
    for job_id, j in raw_jobs.items():
        next_run, last_start = _dt(j.get("next_run")), _dt(j.get("last_start"))
        if j.get("running"):
            state = "运行中"
        elif next_run is not None and now - next_run > timedelta(seconds=grace) + timedelta(seconds=every):
            state = "迟滞"
        elif j.get("last_error"):
            state = "出错"
        elif last_start is None:
            state = "未运行"
        else:
            state = "正常"
        jobs.append(JobVerdict(job_id, j.get("name") or job_id, state, last_start, j.get("last_duration_s"),
                               next_run, j.get("last_error")))
    memory = doc.get("memory") if isinstance(doc.get("memory"), dict) else None
    if doc.get("stopped_at"):
        return ServiceVerdict(False, heartbeat, f"服务已于 {_dt(doc['stopped_at']).astimezone(tz):%Y-%m-%d %H:%M:%S} 停止 "
                              "(service stopped)", jobs, memory)
    age = (now - heartbeat).total_seconds() if heartbeat else None
    if age is None or age > every * DOWN_AFTER_HEARTBEATS:
        return ServiceVerdict(False, heartbeat, f"服务心跳已停止 {int(age or 0)} 秒 (service not running or hung)", jobs,
                              memory)
    return ServiceVerdict(True, heartbeat, None, jobs, memory)


class MemoryTracer:
    """Memory diagnostics of a running service (``YUQING_TRACE_MEMORY=<minutes>``): Python's
    tracemalloc from the start, and every so many minutes the ten places whose allocations grew
    most since the first report, in the log. Costs CPU and memory; for finding growth, not for
    everyday running."""

    def __init__(self, every_minutes: float) -> None:
        import tracemalloc

        self.every = every_minutes * 60
        tracemalloc.start(12)
        self._first = None
        self._last = time.monotonic()

    @classmethod
    def from_env(cls) -> MemoryTracer | None:
        value = os.environ.get("YUQING_TRACE_MEMORY")
        try:
            return cls(float(value)) if value else None
        except ValueError:
            logging.getLogger("yuqing.memory").warning("YUQING_TRACE_MEMORY=%r is not a number of minutes", value)
            return None

    def heartbeat(self) -> None:
        import gc
        import tracemalloc

        if time.monotonic() - self._last < self.every:
            return
        self._last = time.monotonic()
        gc.collect()
        snap = tracemalloc.take_snapshot()
        log = logging.getLogger("yuqing.memory")
        current, _peak = tracemalloc.get_traced_memory()
        if self._first is None:
            self._first = snap
            log.info("traced Python memory %.1f MB (baseline)", current / 2**20)
            return
        log.info("traced Python memory %.1f MB", current / 2**20)
        for stat in snap.compare_to(self._first, "traceback")[:10]:
            frames = " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in list(stat.traceback)[-6:][::-1])
            log.info("grew %+.1f KB in %d blocks: %s", stat.size_diff / 1024, stat.count_diff, frames)
