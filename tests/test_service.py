"""The service: one scheduler with explicit jobs; it crawls on its own and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from config.service import Service
from config.settings import get_settings
from ledger.db import session_scope
from ledger.models import Post
from ledger.posts.sources import add_source
from tests.feedsrv import FeedServer
from tests.test_feed_crawl import RSS


def test_jobs_have_explicit_ids_and_policies(sqlite_engine, sqlite_url):
    now = datetime(2026, 3, 2, tzinfo=UTC)
    with session_scope(sqlite_engine) as s:
        a = add_source(s, name="a", kind="rss", url="http://127.0.0.1:9/a", interval_seconds=120, actor="t", now=now).id
        b = add_source(s, name="b", kind="rss", url="http://127.0.0.1:9/b", cron="*/5 * * * *", actor="t", now=now).id
        add_source(s, name="c", kind="rss", url="http://127.0.0.1:9/c", enabled=False, actor="t", now=now)
    cfg = get_settings(database_url=sqlite_url, misfire_grace_seconds=42)
    service = Service(sqlite_engine, cfg)
    service.sync_sources()
    jobs = {j.id: j for j in service.scheduler.get_jobs()}
    assert set(jobs) == {f"crawl:{a}", f"crawl:{b}"}
    for job in jobs.values():
        assert job.coalesce is True and job.misfire_grace_time == 42 and job.max_instances == 1
    assert "interval" in str(jobs[f"crawl:{a}"].trigger) and "cron" in str(jobs[f"crawl:{b}"].trigger)
    assert str(service.scheduler.timezone) == "Asia/Shanghai"
    # disabling a source removes its job on the next sync
    with session_scope(sqlite_engine) as s:
        from ledger.models import Source

        s.get(Source, b).enabled = False
    service.sync_sources()
    assert {j.id for j in service.scheduler.get_jobs()} == {f"crawl:{a}"}
    service.stop()


def test_run_polls_sources_and_stops_on_sigterm(sqlite_engine, sqlite_url, tmp_path):
    with FeedServer() as srv:
        srv.set("/rss", RSS.encode())
        with session_scope(sqlite_engine) as s:
            add_source(s, name="feed", kind="rss", url=srv.base + "/rss", interval_seconds=30, actor="t",
                       now=datetime.now(UTC))
        env = dict(os.environ, YUQING_DATABASE_URL=sqlite_url, YUQING_LOG_LEVEL="INFO")
        proc = subprocess.Popen([sys.executable, "-m", "config.cli.main", "run"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 90
            count = 0
            while time.monotonic() < deadline:
                with Session(sqlite_engine) as s:
                    count = s.exec(select(func.count()).select_from(Post)).one()[0]
                if count == 2:
                    break
                time.sleep(0.5)
            assert count == 2
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, out
    assert "服务已停止" in out


def test_demo_runs_the_whole_path_offline(tmp_path):
    """`yuqing demo` serves its own platform, crawls it, seeds the ledger and stops when told."""
    env = dict(os.environ)
    env.pop("YUQING_DATABASE_URL", None)
    env["YUQING_DATA_DIR"] = str(tmp_path / "var")
    proc = subprocess.run([sys.executable, "-m", "config.cli.main", "demo", "--duration", "25", "--no-dashboard",
                           "--step", "1", "--interval", "10"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "演示已结束" in proc.stdout
    from ledger.db import make_engine
    from ledger.models.cases import Case
    from ledger.models.users import User

    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'yuqing.db'}")
    with Session(engine) as s:
        posts = s.exec(select(func.count()).select_from(Post)).one()[0]
        cases = s.exec(select(func.count()).select_from(Case)).one()[0]
        users = s.exec(select(func.count()).select_from(User)).one()[0]
    # the demo's cases: 3 opened by the seed, 2 more by the demo day and 3 taken through to
    # 已回应 / 办结 / 归档 (config.demo_day)
    assert posts >= 8 + 300 and cases == 8 and users == 4
    # a day of a county office: several sources, hot and quiet events, cases at several stages, alerts
    from ledger.models.alerts import Alert
    from ledger.models.events import Event

    with Session(engine) as s:
        statuses = set(s.exec(select(Case.status)).scalars())
        events = s.exec(select(func.count()).select_from(Event)).one()[0]
        triggers = set(s.exec(select(Alert.trigger)).scalars())
    assert {"发现", "研判", "交办", "处置"} <= statuses and events >= 5
    assert {"clock_breached", "commitment_overdue", "sensitive_post"} <= triggers
    # the printed accounts are not buried under the scheduler's INFO lines
    assert "演示账号" in proc.stdout and "apscheduler" not in proc.stderr


def test_dashboard_command_stops_streamlit_on_sigterm(tmp_path):
    """`yuqing dashboard` runs Streamlit as a child: a SIGTERM to the command (kill, systemd stop)
    must stop that child too, not leave it serving the port."""
    import psutil

    from tests.browser import free_port, healthy, wait_healthy

    port = free_port()
    env = dict(os.environ, YUQING_DATABASE_URL=f"sqlite:///{tmp_path / 'd.db'}",
               YUQING_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "config.cli.main", "dashboard", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    children: list[psutil.Process] = []
    try:
        wait_healthy(base, proc)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the dashboard command has no Streamlit child"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"Streamlit still running after SIGTERM: {[p.pid for p in alive]}"
        assert not healthy(base)
    finally:
        for child in children:  # never leave a server behind, whatever failed
            if child.is_running():
                child.kill()
        if proc.poll() is None:
            proc.kill()


def _status(data_dir) -> dict:
    import json

    from tests.cli import run_cli

    res = run_cli("status", "--json", env={"YUQING_DATA_DIR": str(data_dir)})
    return {j["id"]: j for j in json.loads(res.out)["jobs"]}


def test_the_tick_and_the_weekly_export_run_in_child_processes_and_their_failures_show(tmp_path):
    """The scheduler process only schedules: its tick and weekly export are `yuqing` child
    processes (their memory goes back when they exit). What they did reaches the ledger and
    the webhook; a tick or an export that fails is the job's error in `yuqing status`, and the
    service goes on."""
    from ledger.db import make_engine
    from ledger.models.clocks import Clock
    from tests.alert_sinks import WebhookSink
    from tests.cli import run_cli
    from tests.test_cli_alerts import _calendar_for

    now = datetime.now(UTC).replace(microsecond=0)
    db = f"sqlite:///{tmp_path / 'y.db'}"
    conf = _calendar_for(tmp_path, now)
    with WebhookSink() as sink:
        env = dict(os.environ, YUQING_DATABASE_URL=db, YUQING_DATA_DIR=str(tmp_path), YUQING_CONFIG_DIR=conf,
                   YUQING_ALERT_URLS=sink.url, YUQING_EXPORT_DIR=str(tmp_path / "exports"))
        for key in ("YUQING_LOG_FILE", "YUQING_STATUS_FILE"):
            env.pop(key, None)
        opened = run_cli("case", "open", "--grade", "重大", "--title", "化工园区爆炸",
                         "--discovered-at", (now - timedelta(hours=6)).isoformat(), env=env)
        assert opened.code == 0, opened.err
        cfg = get_settings(database_url=db, data_dir=tmp_path, config_dir=conf, export_dir=tmp_path / "exports",
                           tick_interval_seconds=3600)  # scheduled, but run here by hand
        engine = make_engine(db)
        service = Service(engine, cfg, child_env=env)
        try:
            service.start()
            service.tick()
            with Session(engine) as s:
                states = {c.rule_name: c.status for c in s.exec(select(Clock)).scalars()}
            assert states and "breached" in states.values(), states  # 6 hours on: the 5-hour limit is past
            assert any("化工园区爆炸" in t for t in sink.titles())  # delivered by the child's after-commit step
            service.weekly_export()
            assert sorted(p.name for p in (tmp_path / "exports").rglob("*.*")) == sorted(
                p.name for p in (tmp_path / "exports").rglob("*") if p.suffix in (".xlsx", ".docx")) != []
            service.write_status()
            jobs = _status(tmp_path)
            assert jobs["tick"]["state"] == "正常" and not jobs["tick"]["error"], jobs["tick"]
            assert jobs["weekly-export"]["state"] == "正常" and not jobs["weekly-export"]["error"]

            holidays = tmp_path / "conf" / "holidays.toml"
            good = holidays.read_text(encoding="utf-8")
            holidays.write_text("[years.2026\nbroken", encoding="utf-8")
            service.tick()  # the child fails on the configuration; the service does not
            holidays.write_text(good, encoding="utf-8")
            (tmp_path / "blocked").write_text("a file where the export directory should be", encoding="utf-8")
            service.child_env = dict(env, YUQING_EXPORT_DIR=str(tmp_path / "blocked"))
            service.weekly_export()
            service.write_status()
            jobs = _status(tmp_path)
        finally:
            service.stop()
            engine.dispose()
    assert jobs["tick"]["state"] == "出错" and "exit" in jobs["tick"]["error"], jobs["tick"]
    assert "配置错误" in jobs["tick"]["error"]
    assert jobs["weekly-export"]["state"] == "出错" and "无法写入导出文件" in jobs["weekly-export"]["error"]


def test_a_stop_signalled_to_the_whole_process_group_ends_a_running_tick_quietly(sqlite_url, tmp_path):
    """systemd's stop and Ctrl-C signal the whole process group: a tick child running then ends
    with the scheduler (its transaction rolls back). That is a stop, not a failure: no ERROR in
    the log, exit status 0."""
    import psutil

    env = dict(os.environ, YUQING_DATABASE_URL=sqlite_url, YUQING_DATA_DIR=str(tmp_path),
               YUQING_TICK_INTERVAL_SECONDS="2", YUQING_LOG_LEVEL="INFO")
    for key in ("YUQING_LOG_FILE", "YUQING_STATUS_FILE", "YUQING_CONFIG_DIR"):
        env.pop(key, None)
    proc = subprocess.Popen([sys.executable, "-m", "config.cli.main", "run"], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        ticking = False
        while time.monotonic() < deadline and not ticking:
            try:
                ticking = any("tick" in c.cmdline() for c in psutil.Process(proc.pid).children())
            except psutil.Error:  # a child that ended between the listing and the look
                pass
            time.sleep(0.05)
        assert ticking, "no tick child process seen"
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    log = (tmp_path / "log" / "yuqing.log").read_text(encoding="utf-8")
    assert "tick interrupted: the service is stopping" in log and "service stopped" in log
    assert " ERROR " not in log and "Traceback" not in log, log[-3000:]
