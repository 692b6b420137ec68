"""Crash safety of the service's work: a real child process is SIGKILLed mid-crawl, mid-``tick`` and
mid-delivery, then the work is run again; nothing stored is lost and nothing is doubled.

* crawl — ``yuqing crawl`` over a slow local site, killed while detail pages are being fetched;
* tick — ``yuqing tick --now T`` over 2,000 clocks, killed while it holds the write transaction;
  the rerun's result and the clocks equal a clean run's on a copy of the same database;
* delivery — ``yuqing alerts deliver`` to a slow webhook, killed while a message is in flight.
  The outbox promises at-least-once: the message in flight at the kill was received but its
  success was never recorded, so it is sent again once its lease runs out — exactly that one
  message, exactly once more; every other message is received exactly once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.db import make_engine, session_scope
from ledger.migrate import upgrade
from tests.alert_sinks import WebhookSink
from tests.sitesrv import Handler, SiteServer

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ, YUQING_DATABASE_URL=db_url, YUQING_SENTIMENT_ENGINE="snownlp", **extra)
    env.pop("YUQING_CONFIG_DIR", None)
    env.pop("YUQING_ALERT_URLS", None)
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "config.cli.main", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    proc = subprocess.run([sys.executable, "-m", "config.cli.main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _kill_when(child: subprocess.Popen, condition, timeout: float = 120) -> None:
    """SIGKILL ``child`` as soon as ``condition()`` holds; fail if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            pytest.fail(f"the child finished before it could be killed: {child.communicate()[1][-1500:]}")
        if condition():
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=30)
            assert child.returncode == -signal.SIGKILL
            return
        time.sleep(0.01)
    child.kill()
    pytest.fail("the kill point was never reached")


def _settled(value, *, quiet: float, timeout: float = 60) -> int:
    """``value()`` once it has not changed for ``quiet`` seconds; fail if it never settles."""
    deadline = time.monotonic() + timeout
    last, since = value(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = value()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    pytest.fail(f"the value never settled (last {last})")


# -- crawl ---------------------------------------------------------------------------------------

class SlowDetailHandler(Handler):
    def route(self, path: str, query: dict) -> None:
        if path.startswith("/gen/item/"):
            time.sleep(0.1)
        super().route(path, query)


def test_crawl_killed_mid_crawl_then_rerun_stores_every_page_once(tmp_path):
    from ledger.models import Evidence, Post, PostVersion
    from ledger.posts.sources import add_source

    srv = SiteServer()
    srv.RequestHandlerClass = SlowDetailHandler
    srv.gen_pages, srv.gen_per_page = 2, 15
    total = 30
    db_url = f"sqlite:///{tmp_path / 'crawl.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    with srv:
        cfg = {"list_urls": [srv.url("/gen/list1.html")], "item_links": "ul.list a", "next_page": "a.next",
               "max_pages": 5, "title": "h1.title", "body": "div.content", "published_at": ".time",
               "politeness": {"autothrottle": False, "delay": 0}}
        with session_scope(engine) as s:
            sid = add_source(s, name="慢速留言板", kind="html", url=None, config=cfg, interval_seconds=None,
                             cron=None, enabled=True, actor="test", now=NOW).id
        env = _env(db_url)
        child = _start(["crawl", "--source", str(sid)], env)
        _kill_when(child, lambda: len(srv.fetched("/gen/item/")) >= 5)
        # the crawl's own child process notices its parent is gone and stops fetching: the count
        # of fetched pages settles (on a loaded machine that can take a few seconds) short of all
        settled = _settled(lambda: len(srv.fetched("/gen/item/")), quiet=2.0)
        assert settled < total

        def counts() -> tuple[int, int, int]:
            with session_scope(engine) as s:
                return tuple(s.execute(select(func.count()).select_from(m)).scalar_one()  # type: ignore[return-value]
                             for m in (Post, Evidence, PostVersion))

        assert counts() in ((0, 0, 0), (total, total, 0))  # all or nothing, never a partial crawl

        out = _run(["crawl", "--source", str(sid)], env)
        assert "抓取完成" in out
        with session_scope(engine) as s:
            ids = [r[0] for r in s.execute(select(Post.external_id).where(Post.source_id == sid))]
        assert len(ids) == len(set(ids)) == total
        assert set(ids) == {srv.url(f"/gen/item/{n}-{k}.html") for n in (1, 2) for k in range(15)}
        assert counts() == (total, total, 0)  # one evidence row per post, no spurious versions
    engine.dispose()


# -- tick ----------------------------------------------------------------------------------------

CASES = 1000


def _seed_cases(db_url: str) -> None:
    from config.caseconfig import load_case_env
    from config.settings import get_settings
    from ledger.cases import workflow as cases

    cfg = get_settings()
    env = load_case_env(cfg)
    engine = make_engine(db_url)
    grades = ["重大", "较大", "一般"]
    with session_scope(engine) as s:
        for i in range(CASES):
            discovered = NOW - timedelta(minutes=7 * i)
            cases.open_case(s, title=f"测试案件 {i}", grade=grades[i % 3], discovered_at=discovered, now=NOW,
                            actor="值班", env=env)
    engine.dispose()


def _clocks(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        cur = conn.execute("SELECT * FROM clock ORDER BY id")
        keep = [i for i, d in enumerate(cur.description) if d[0] != "updated_at"]
        return [tuple(row[i] for i in keep) for row in cur.fetchall()]
    finally:
        conn.close()


def _write_locked(path: Path) -> bool:
    """True while another connection holds the database's write transaction."""
    conn = sqlite3.connect(path, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.rollback()
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def test_tick_killed_mid_run_then_rerun_equals_a_clean_run(tmp_path):
    crashed, clean = tmp_path / "crashed.db", tmp_path / "clean.db"
    upgrade(f"sqlite:///{crashed}")
    _seed_cases(f"sqlite:///{crashed}")
    src, dst = sqlite3.connect(crashed), sqlite3.connect(clean)
    src.backup(dst)  # two identical databases
    src.close()
    dst.close()
    before = _clocks(crashed)
    assert len(before) >= 2 * CASES

    at = (NOW + timedelta(hours=5)).isoformat()
    clean_out = json.loads(_run(["tick", "--now", at, "--json"], _env(f"sqlite:///{clean}")))
    assert clean_out["clocks_changed"] > 100
    clean_clocks = _clocks(clean)

    env = _env(f"sqlite:///{crashed}")
    child = _start(["tick", "--now", at, "--json"], env)
    _kill_when(child, lambda: _write_locked(crashed))
    after_kill = _clocks(crashed)
    assert after_kill == before  # the killed pass left nothing half-done (its transaction rolled back)

    rerun = json.loads(_run(["tick", "--now", at, "--json"], env))
    assert rerun.pop("took_s") > 0 and clean_out.pop("took_s") > 0  # how long each took: not a result
    assert rerun == clean_out
    assert _clocks(crashed) == clean_clocks  # no clock lost, duplicated or moved differently
    again = json.loads(_run(["tick", "--now", at, "--json"], env))
    assert again["clocks_changed"] == 0


# -- alert delivery ------------------------------------------------------------------------------

KEY_RE = re.compile(r"通知编号 ([^）]+)）")


class SlowSink(WebhookSink):
    """A webhook that records each message on arrival and answers 0.3 s later."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[str] = []
        sink = self
        base = self.server.RequestHandlerClass

        class Slow(base):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw.decode("utf-8"))
                with sink.lock:
                    sink.arrived.append(KEY_RE.search(body.get("message", "")).group(1))
                time.sleep(0.3)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server.RequestHandlerClass = Slow


def test_delivery_killed_mid_send_delivers_everything_at_least_once(tmp_path):
    from ledger.alerts.outbox import SENDING, SENT, deliver_due, enqueue
    from ledger.models.alerts import Notification

    db_url = f"sqlite:///{tmp_path / 'outbox.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    n = 10
    with SlowSink() as sink:
        with session_scope(engine) as s:
            keys = [f"crash-test:{i}" for i in range(n)]
            for i, key in enumerate(keys):
                enqueue(s, key=key, destination=sink.url, subject=f"【预警】测试 {i}", body=f"第 {i} 条通知",
                        now=NOW)
        env = dict(_env(db_url), YUQING_ALERT_URLS=sink.url)  # the outbox stores only a reference to it
        child = _start(["alerts", "deliver", "--now", NOW.isoformat()], env)
        _kill_when(child, lambda: len(sink.arrived) >= 3)  # the 3rd message is in flight
        in_flight = sink.arrived[-1]
        with session_scope(engine) as s:
            status = {r.idempotency_key: r.status for r in s.exec(select(Notification)).scalars()}
        assert status[in_flight] == SENDING  # claimed and sent, success not recorded
        assert all(status[k] == SENT for k in sink.arrived[:-1])
        assert sum(v == SENT for v in status.values()) == len(sink.arrived) - 1

        # a rerun at once sends everything else, but not the leased message
        out = json.loads(_run(["alerts", "deliver", "--now", NOW.isoformat(), "--json"], env))
        assert out["sent"] == n - 3
        # after the lease (YUQING_OUTBOX_LEASE_SECONDS, 300 s) it is sent again, once
        later = (NOW + timedelta(seconds=301)).isoformat()
        out = json.loads(_run(["alerts", "deliver", "--now", later, "--json"], env))
        assert out["sent"] == 1
        assert deliver_due(engine, now=NOW + timedelta(seconds=400)).claimed == 0  # nothing left to send

        received = Counter(sink.arrived)
        assert set(received) == set(keys)  # nothing lost
        assert {k for k, c in received.items() if c > 1} == {in_flight}  # the one at-least-once duplicate
        assert received[in_flight] == 2
        with session_scope(engine) as s:
            assert {r.status for r in s.exec(select(Notification)).scalars()} == {SENT}
    engine.dispose()
