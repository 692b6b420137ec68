"""Crash safety of imports: ``yuqing import posts`` is SIGKILLed after its first batch committed,
run again, and every distinct row ends up stored exactly once (nothing lost, nothing doubled)."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.conftest import shared_data
from tests.test_import_hotline import CHILD, REPO

WORDS = ["口罩", "物资", "医院", "发热门诊", "封城", "武汉", "加油", "志愿者", "捐款", "双黄连", "辟谣", "物价"]


def make_csv(path: Path, rows: int) -> set[tuple[str, str]]:
    """A stream-like file: ~1 row in 10 repeats an earlier one exactly; returns the distinct rows."""
    distinct: set[tuple[str, str]] = set()
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["userid", "text"])
        for i in range(rows):
            k = i - 7 if i % 10 == 9 else i
            row = (str(1_000_000 + k % 997), f"第{k}条 {WORDS[k % 12]}{WORDS[(k * 7) % 12]} 今天的情况 #{k}")
            w.writerow(row)
            distinct.add(row)
    return distinct


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM post").fetchone()[0]
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def kill_after_first_batch(args: list[str], db: Path, total: int, timeout: float = 600) -> tuple[int, int]:
    """Start the import as a child, SIGKILL it as soon as some (not all) rows are committed;
    (rows stored at the kill, worker processes the import had then)."""
    env = {**os.environ, "YUQING_DATABASE_URL": f"sqlite:///{db}", "YUQING_DATA_DIR": str(db.parent)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    seen = 0
    helpers: list[psutil.Process] = []
    try:
        while time.monotonic() < deadline and child.poll() is None:
            seen = _count(db)
            if seen > 0:
                helpers = psutil.Process(child.pid).children(recursive=True)
                child.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        child.wait(timeout=30)
        # the import's worker processes (batch preparation) die with it: no orphans left running
        _gone, alive = psutil.wait_procs(helpers, timeout=10)
        assert not alive, f"worker processes outlived the killed import: {alive}"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL, f"import ended before it was killed: {child.stderr.read()!r}"
    at_kill = _count(db)
    assert 0 < at_kill < total, f"not killed part-way: {at_kill} of {total} stored"
    return at_kill, len(helpers)


def run_to_end(args: list[str], db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "YUQING_DATABASE_URL": f"sqlite:///{db}", "YUQING_DATA_DIR": str(db.parent)}
    res = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=REPO, env=env, capture_output=True, text=True, check=False,
                         timeout=900)
    assert res.returncode == 0, res.stderr
    return res


def stored_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT author, text FROM post").fetchall()


def test_killed_import_resumes_without_loss_or_duplicates(tmp_path):
    src = tmp_path / "stream.csv"
    distinct = make_csv(src, 30_000)
    db = tmp_path / "crash.db"
    args = ["import", "posts", str(src), "--text-col", "text", "--author-col", "userid", "--batch-size", "2000",
            "--workers", "1"]
    at_kill, workers = kill_after_first_batch(args, db, len(distinct))
    assert workers == 1  # the batches were being prepared in a worker process when it was killed
    assert at_kill % 2000 == 0 or at_kill <= 2000  # whole batches only: a batch is one transaction
    res = run_to_end(args, db)
    assert "读取 30000 行" in res.stdout
    rows = stored_rows(db)
    assert len(rows) == len(set(rows)) == len(distinct)
    assert set(rows) == distinct
    # and once more: nothing new
    res = run_to_end(args, db)
    assert "新增 0 条" in res.stdout and len(stored_rows(db)) == len(distinct)


def test_killed_import_of_real_stream_file(tmp_path):
    """Acceptance: the 2020-01-25 Weibo stream, killed part-way and run again."""
    src = shared_data("weibo_stream/2020-01-25.csv")
    with src.open(encoding="utf-8", newline="") as fh:
        distinct = {(r["userid"].strip(), r["text"].strip()) for r in csv.DictReader(fh) if r["text"].strip()}
    db = tmp_path / "stream.db"
    args = ["import", "posts", str(src), "--text-col", "text", "--author-col", "userid"]
    kill_after_first_batch(args, db, len(distinct))
    run_to_end(args, db)
    with sqlite3.connect(db) as conn:
        n, ids = conn.execute("SELECT count(*), count(DISTINCT external_id) FROM post").fetchone()
        authors = conn.execute("SELECT count(DISTINCT author) FROM post").fetchone()[0]
    assert n == ids == len(distinct)
    assert authors == len({a for a, _ in distinct})


def test_refused_file_changes_nothing(tmp_path):
    """A refused file (bad row) stores nothing even on a database a killed run left behind."""
    src = tmp_path / "ok.csv"
    make_csv(src, 5)
    db = tmp_path / "x.db"
    run_to_end(["import", "posts", str(src), "--text-col", "text"], db)
    before = len(stored_rows(db))
    bad = tmp_path / "bad.csv"
    bad.write_text("text,when\n新的一条,2020-01-25\n又一条,明年某天\n", encoding="utf-8")
    env = {**os.environ, "YUQING_DATABASE_URL": f"sqlite:///{db}", "YUQING_DATA_DIR": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", CHILD, "import", "posts", str(bad), "--text-col", "text",
                          "--time-col", "when"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode != 0 and "第 3 行" in res.stderr and "when" in res.stderr
    assert len(stored_rows(db)) == before
