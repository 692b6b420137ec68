"""``yuqing backup`` / ``yuqing restore`` through the real CLI, on a SQLite file and on a PostgreSQL
schema (pg_dump / pg_restore): data written → backup → more data → restore → exactly the
backed-up data; a database holding data is refused without --force; a bad file is refused."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ledger.db import make_engine, session_scope
from ledger.migrate import upgrade
from ledger.models import AuditLog, Source
from ledger.posts.sources import add_source
from tests.cli import run_cli

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _add(url: str, names: list[str]) -> None:
    engine = make_engine(url)
    with session_scope(engine) as s:
        for i, name in enumerate(names):
            add_source(s, name=name, kind="rss", url=f"http://127.0.0.1:9/{name}.xml", config={}, interval_seconds=None,
                       cron=None, enabled=True, actor="test", now=NOW + timedelta(minutes=i))
    engine.dispose()


def _state(url: str) -> tuple[list, list]:
    engine = make_engine(url)
    with session_scope(engine) as s:
        sources = [(r.id, r.name, r.url, r.enabled) for r in s.exec(select(Source).order_by(Source.id)).scalars()]
        audit = [(r.id, r.action, r.entity_id) for r in s.exec(select(AuditLog).order_by(AuditLog.id)).scalars()]
    engine.dispose()
    return sources, audit


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'yuqing.db'}"
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump / pg_restore not installed")
    return request.getfixturevalue("pg_url")


def test_backup_then_restore_gives_back_exactly_the_backed_up_data(db_url, tmp_path):
    upgrade(db_url)
    _add(db_url, ["市政务网", "县融媒体", "问政平台"])
    snapshot = _state(db_url)
    out = tmp_path / "snap" / "yuqing.backup"

    res = run_cli("backup", "--out", str(out), db_url=db_url)
    assert res.code == 0, res.err
    assert out.is_file() and out.stat().st_size > 0

    _add(db_url, ["后来的来源", "又一个来源"])
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        first = s.get(Source, snapshot[0][0][0])
        first.enabled = False
        s.add(first)
    engine.dispose()
    assert _state(db_url) != snapshot

    refused = run_cli("restore", str(out), db_url=db_url)
    assert refused.code == 3 and "--force" in refused.err and "Traceback" not in refused.err
    assert len(_state(db_url)[0]) == 5  # nothing touched

    res = run_cli("restore", str(out), "--force", db_url=db_url)
    assert res.code == 0, res.err
    assert _state(db_url) == snapshot

    # the restored database is fully usable: new rows get fresh ids after the restored ones
    _add(db_url, ["恢复后新增"])
    sources, _ = _state(db_url)
    assert [s[1] for s in sources] == ["市政务网", "县融媒体", "问政平台", "恢复后新增"]
    assert sources[-1][0] > snapshot[0][-1][0]


def test_sqlite_restore_into_a_new_file_needs_no_force(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    _add(url, ["来源甲", "来源乙"])
    out = tmp_path / "a.backup"
    assert run_cli("backup", "--out", str(out), db_url=url).code == 0
    fresh = f"sqlite:///{tmp_path / 'new' / 'b.db'}"
    res = run_cli("restore", str(out), db_url=fresh)
    assert res.code == 0, res.err
    assert _state(fresh) == _state(url)


def test_sqlite_backup_is_consistent_while_a_writer_is_busy(tmp_path):
    """The online backup copies one committed state even while another connection keeps writing."""
    path = tmp_path / "busy.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    stop, warmed_up = threading.Event(), threading.Event()
    written: list[int] = []

    def writer() -> None:
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("CREATE TABLE IF NOT EXISTS pairs (n INTEGER PRIMARY KEY, twice INTEGER NOT NULL)")
        n = 0
        while not stop.is_set():
            with conn:  # each pair of rows is one transaction
                conn.execute("INSERT INTO pairs VALUES (?, ?)", (2 * n, 0))
                conn.execute("INSERT INTO pairs VALUES (?, ?)", (2 * n + 1, 0))
            n += 1
            if n == 200:
                warmed_up.set()
        written.append(n)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert warmed_up.wait(timeout=120)  # 200 pairs committed before the backup starts
        out = tmp_path / "busy.backup"
        res = run_cli("backup", "--out", str(out), db_url=url)
        assert res.code == 0, res.err
    finally:
        stop.set()
        thread.join()
    conn = sqlite3.connect(out)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    count, top = conn.execute("SELECT count(*), max(n) FROM pairs").fetchone()
    conn.close()
    # everything committed before the backup, never half a transaction, no hole: rows 0 .. count-1
    assert count >= 400 and count % 2 == 0 and top == count - 1
    assert count <= 2 * written[0]


def test_restore_refuses_a_file_that_is_not_a_snapshot(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    bad = tmp_path / "bad.backup"
    bad.write_bytes(b"this is not a database")
    res = run_cli("restore", str(bad), db_url=url)
    assert res.code == 2 and "Traceback" not in res.err
    missing = run_cli("restore", str(tmp_path / "nope.backup"), db_url=url)
    assert missing.code == 2 and "不存在" in missing.err


@pytest.mark.postgres
def test_postgres_backup_without_pg_dump_fails_clearly(pg_url, tmp_path):
    import sys
    from pathlib import Path

    upgrade(pg_url)
    bare = tmp_path / "bin"  # a PATH holding only the interpreter, no PostgreSQL client tools
    bare.mkdir()
    (bare / "python").symlink_to(Path(sys.executable))
    out = tmp_path / "x.backup"
    res = run_cli("backup", "--out", str(out), db_url=pg_url, env={"PATH": str(bare)})
    assert res.code != 0 and "pg_dump" in res.err and "Traceback" not in res.err
    assert not out.exists()
