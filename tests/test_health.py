"""The 24/7 service's health: its rotating log file, the status file of its jobs, ``yuqing status``
on a running, a stopped and a hung service, and late jobs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from config.health import JobHealth, read_status, setup_logging
from config.settings import get_settings
from tests.cli import run_cli

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_the_log_file_is_rotated_and_bounded(tmp_path):
    path = tmp_path / "log" / "yuqing.log"
    cfg = get_settings(log_file=str(path), log_max_bytes=2048, log_backups=2, log_level="INFO")
    root = logging.getLogger()
    try:
        assert setup_logging(cfg) == path
        assert setup_logging(cfg) == path  # a second call replaces its handler, never adds one
        ours = [h for h in root.handlers if h.get_name() == "yuqing-file"]
        assert len(ours) == 1
        log = logging.getLogger("yuqing.test")
        for i in range(400):
            log.info("第 %d 行：抓取完成", i)
        files = sorted(p.name for p in path.parent.iterdir())
        assert files == ["yuqing.log", "yuqing.log.1", "yuqing.log.2"]  # two backups kept, the rest deleted
        assert all(p.stat().st_size <= 2048 + 200 for p in path.parent.iterdir())
        assert "第 399 行" in path.read_text(encoding="utf-8")
    finally:
        for h in [h for h in root.handlers if h.get_name() == "yuqing-file"]:
            root.removeHandler(h)
            h.close()


def test_console_only_when_the_log_file_is_dash(tmp_path):
    cfg = get_settings(log_file="-", data_dir=tmp_path)
    assert setup_logging(cfg) is None
    assert not [h for h in logging.getLogger().handlers if h.get_name() == "yuqing-file"]
    assert not (tmp_path / "log").exists()


def _status(tmp_path: Path, *, next_tick: datetime, heartbeat: datetime, error: str | None = None,
            running: bool = False) -> Path:
    health = JobHealth(tmp_path / "status.json", started_at=T0)
    health.started("tick", heartbeat - timedelta(seconds=1), name="推进时钟", due=heartbeat - timedelta(seconds=3))
    health.finished("tick", heartbeat, error=error)
    if running:
        health.started("crawl:3", heartbeat, name="抓取来源 3")
    doc = health.snapshot(heartbeat, {"tick": ("推进时钟", next_tick), "crawl:3": ("抓取来源 3", next_tick),
                                      "gone": ("已删除", None)} if running else {"tick": ("推进时钟", next_tick)},
                          grace_seconds=60, pid=1)
    health.write(doc)
    return tmp_path / "status.json"


def test_a_job_past_its_next_run_by_more_than_the_grace_is_late(tmp_path):
    path = _status(tmp_path, next_tick=T0 + timedelta(minutes=1), heartbeat=T0)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["jobs"]["tick"]["last_delay_s"] == 2.0 and doc["jobs"]["tick"]["last_duration_s"] == 1.0
    ok = read_status(path, T0 + timedelta(seconds=30))
    assert ok.running and ok.healthy and [j.state for j in ok.jobs] == ["正常"]
    # the heartbeat goes on (the scheduler thread is alive) but the tick is 2 minutes overdue
    _status(tmp_path, next_tick=T0 + timedelta(minutes=1), heartbeat=T0 + timedelta(minutes=3))
    late = read_status(path, T0 + timedelta(minutes=3, seconds=5))
    assert late.running and not late.healthy and late.jobs[0].state == "迟滞"


def test_a_failed_job_and_a_silent_service_are_reported(tmp_path):
    path = _status(tmp_path, next_tick=T0 + timedelta(minutes=1), heartbeat=T0, error="OperationalError: locked")
    v = read_status(path, T0 + timedelta(seconds=5))
    assert v.running and not v.healthy and v.jobs[0].state == "出错" and "locked" in v.jobs[0].error
    silent = read_status(path, T0 + timedelta(minutes=2))  # no heartbeat for 2 minutes: hung or killed
    assert not silent.running and "心跳已停止" in silent.problem
    missing = read_status(tmp_path / "nothing.json", T0)
    assert not missing.running and "未找到服务状态文件" in missing.problem
    (tmp_path / "bad.json").write_text("{half", encoding="utf-8")
    assert "无法读取" in read_status(tmp_path / "bad.json", T0).problem


def test_records_of_removed_jobs_are_dropped(tmp_path):
    health = JobHealth(tmp_path / "s.json", started_at=T0)
    for i in range(50):
        health.started(f"crawl:{i}", T0)
        health.finished(f"crawl:{i}", T0 + timedelta(seconds=1))
    doc = health.snapshot(T0, {"crawl:1": ("抓取来源 1", None)}, grace_seconds=60, pid=1)
    assert list(doc["jobs"]) == ["crawl:1"]
    assert len(health._jobs) == 1  # bounded by the jobs scheduled, whatever ran before


def test_status_of_a_running_service_then_of_a_stopped_one(sqlite_url, tmp_path):
    env = dict(os.environ, YUQING_DATABASE_URL=sqlite_url, YUQING_DATA_DIR=str(tmp_path),
               YUQING_TICK_INTERVAL_SECONDS="2", YUQING_LOG_LEVEL="INFO")
    env.pop("YUQING_LOG_FILE", None)
    env.pop("YUQING_STATUS_FILE", None)
    proc = subprocess.Popen([sys.executable, "-m", "config.cli.main", "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status_env = {"YUQING_DATA_DIR": str(tmp_path)}
    try:
        deadline = time.monotonic() + 90
        res = None
        while time.monotonic() < deadline:
            res = run_cli("status", "--json", env=status_env)
            if res.code == 0 and any(j["id"] == "tick" and j["last_start"] for j in json.loads(res.out)["jobs"]):
                break
            time.sleep(1)
        doc = json.loads(res.out)
        assert res.code == 0 and doc["running"] and doc["healthy"], res.out + res.err
        jobs = {j["id"]: j for j in doc["jobs"]}
        assert {"tick", "sync-sources", "weekly-export"} <= set(jobs)
        assert jobs["tick"]["name"] == "推进时钟" and jobs["tick"]["state"] in ("正常", "运行中")
        mem = doc["memory"]  # the service's own memory report, written with each heartbeat
        assert mem["rss"] > 20 and 0 < mem["malloc_used"] < mem["rss"] and 0 < mem["sqlite"] < mem["malloc_used"]
        assert mem["compiled_cache"] > 0 and mem["python_blocks"] > 10
        text = run_cli("status", env=status_env)
        assert text.code == 0 and "服务运行中" in text.out and "推进时钟" in text.out
        assert "内存：常驻" in text.out and "SQLite" in text.out
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    log = (tmp_path / "log" / "yuqing.log").read_text(encoding="utf-8")
    assert "tick done:" in log and "service stopped" in log  # the log file, not only the console
    stopped = run_cli("status", env=status_env)
    assert stopped.code == 1 and "服务已于" in stopped.out and "停止" in stopped.out
    never = run_cli("status", env={"YUQING_DATA_DIR": str(tmp_path / "elsewhere")})
    assert never.code == 1 and "未找到服务状态文件" in never.out


def test_the_memory_report_follows_what_sqlite_and_malloc_hold(tmp_path):
    import sqlite3

    from config.memory import memory_report, sqlite_memory_bytes

    before = memory_report()
    con = sqlite3.connect(tmp_path / "m.db")
    con.execute("PRAGMA cache_size=-65536")  # let the page cache grow to 64 MB
    con.execute("CREATE TABLE t(x TEXT)")
    con.executemany("INSERT INTO t VALUES (?)", (("x" * 400,) for _ in range(60_000)))
    con.commit()
    con.execute("SELECT count(*), max(x) FROM t").fetchone()
    during = memory_report()
    held = sqlite_memory_bytes()
    con.close()
    after = memory_report()
    assert during["sqlite"] - before["sqlite"] > 15  # about 25 MB of pages cached
    assert during["malloc_used"] - before["malloc_used"] > 15
    assert after["sqlite"] < during["sqlite"] - 15 and sqlite_memory_bytes() < held  # closing frees it


def test_the_service_engine_keeps_few_connections_with_small_page_caches(tmp_path, monkeypatch):
    from sqlalchemy import text

    from config.cli.common import open_engine
    from config.settings import Settings

    monkeypatch.setenv("YUQING_SERVICE_SQLITE_CACHE_KIB", "256")
    cfg = Settings(data_dir=tmp_path)
    engine = open_engine(cfg, service=True)
    plain = open_engine(cfg)
    try:
        burst = [engine.connect() for _ in range(4)]  # four jobs at once: the pool opens what they need
        assert [c.execute(text("PRAGMA cache_size")).scalar() for c in burst] == [-256] * 4
        for c in burst:
            c.close()
        assert engine.pool.checkedin() == cfg.service_db_connections == 2  # and keeps only two of them
        with plain.connect() as c:  # other commands keep SQLite's default page cache
            assert c.execute(text("PRAGMA cache_size")).scalar() == -2000
    finally:
        engine.dispose()
        plain.dispose()


def test_stable_in_lists_keep_their_values_and_take_few_lengths():
    from ledger.db import stable_in

    lengths = set()
    for n in range(1, 1001):
        values = list(range(100, 100 + n))
        padded = stable_in(values)
        assert padded[:n] == values and set(padded) == set(values)
        lengths.add(len(padded))
    assert sorted(lengths) == [2**k for k in range(11)]  # 1 … 1024: eleven SQL texts, not a thousand
    assert stable_in([]) == []
