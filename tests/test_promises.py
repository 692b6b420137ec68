"""What the docs promise, checked through the real ``yuqing`` command in a child process.

Each test here guards one promise that a mutation review found unguarded (issue #26): an earlier
tick never moves a clock back (docs/CLOCKS.md), a database password is never printed, outbox and
duty listings hide credentials (docs/ALERTS.md, docs/SECURITY.md), dashboard passwords are stored
as argon2id (docs/SECURITY.md), and reply and commitment texts are masked in the weekly export
(DESIGN §2 privacy). Each was seen to fail with the promise broken in the code.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from docx import Document
from openpyxl import load_workbook

from tests.alert_sinks import WebhookSink
from tests.cli import run_cli

SH = ZoneInfo("Asia/Shanghai")


def _now() -> datetime:
    """`case open` records a case at the current time, so these checks run around it."""
    return datetime.now(UTC).replace(microsecond=0)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"YUQING_DATA_DIR": str(tmp_path), "YUQING_ALERT_URLS": "", **extra}


def _ok(*args: str, db: str, env: dict[str, str], stdin: str | None = None):
    r = run_cli(*args, db_url=db, env=env, stdin=stdin)
    assert r.code == 0, r.err
    return r


def _clock(db: str, env: dict[str, str], case_id: str, rule: str) -> str:
    shown = json.loads(_ok("case", "show", case_id, "--json", db=db, env=env).out)
    return next(c["status"] for c in shown["clocks"] if c["rule"] == rule)


# ----------------------------------------------------------------- an earlier tick moves no clock back
def test_an_earlier_tick_moves_no_clock_back(tmp_path):
    db, env = f"sqlite:///{tmp_path / 'y.db'}", _env(tmp_path)
    t0 = _now()

    def at(hours: float) -> str:
        return (t0 + timedelta(hours=hours)).isoformat()

    case_id = _ok("case", "open", "--grade", "重大", "--title", "化工园区泄漏", "--discovered-at", t0.isoformat(),
                  db=db, env=env).out.split()[0]
    assert _clock(db, env, case_id, "authoritative_release_target") == "running"
    # +2 h 30 min: the 3 h target warns (after 2 h), the 5 h limit is still running
    warned = json.loads(_ok("tick", "--now", at(2.5), "--json", db=db, env=env).out)
    assert ("authoritative_release_target", "running", "warning") in {
        (c["rule"], c["before"], c["after"]) for c in warned["clock_changes"]}
    # +1 h, an earlier instant (a late or replayed tick): the warning clock stays in warning
    earlier = json.loads(_ok("tick", "--now", at(1), "--json", db=db, env=env).out)
    assert earlier["clocks_changed"] == 0 and earlier["clock_changes"] == []
    assert _clock(db, env, case_id, "authoritative_release_target") == "warning"
    # +5 h 30 min: the limit is breached; a tick back at +2 h 30 min undoes neither the breach nor the miss
    _ok("tick", "--now", at(5.5), db=db, env=env)
    back = json.loads(_ok("tick", "--now", at(2.5), "--json", db=db, env=env).out)
    assert back["clocks_changed"] == 0
    assert _clock(db, env, case_id, "authoritative_release_limit") == "breached"
    assert _clock(db, env, case_id, "authoritative_release_target") == "missed"


# ----------------------------------------------------------------- a database password is never printed
PASSWORD = "Db5ecretPw"


@pytest.mark.parametrize("args", [("posts", "list"), ("tick",), ("case", "list"), ("alerts", "outbox")])
def test_a_database_password_is_never_printed(args, tmp_path):
    url = "postgresql+psycopg://yuqing:" + PASSWORD + "@127.0.0.1:1/none"  # nothing listens on port 1
    r = run_cli(*args, db_url=url, env=_env(tmp_path))
    assert r.code != 0 and "无法打开数据库" in r.err and "Traceback" not in r.err
    assert "yuqing:***@127.0.0.1:1/none" in r.err  # the URL is shown, its password hidden
    assert PASSWORD not in r.err and PASSWORD not in r.out


# ----------------------------------------------------------------- outbox and duty listings hide credentials
SECRETS = ("Al3rtPw", "Pers0nPw", "T0kenQ", "dutyuser", "leaderuser")


def test_outbox_and_duty_listings_hide_credentials(tmp_path):
    db = f"sqlite:///{tmp_path / 'y.db'}"
    with WebhookSink() as sink:
        always = f"json://dutyuser:Al3rtPw@127.0.0.1:{sink.port}/hook"
        personal = f"json://leaderuser:Pers0nPw@127.0.0.1:{sink.port}/hook?token=T0kenQ"
        env = _env(tmp_path, YUQING_ALERT_URLS=always)
        added = _ok("duty", "add-person", "王局长", "--role", "分管领导", "--unit", "应急管理局", "--url", personal,
                    db=db, env=env)
        # a 重大 case must be reported to leadership at once: both addresses get a message
        t0 = _now()
        _ok("case", "open", "--grade", "重大", "--title", "化工园区泄漏", "--discovered-at", t0.isoformat(),
            db=db, env=env)
        _ok("tick", "--now", (t0 + timedelta(minutes=1)).isoformat(), db=db, env=env)
        assert len(sink.bodies) >= 2  # the credentials were used to send; they are only hidden from view
        listing = _ok("alerts", "outbox", db=db, env=env)
        rows = json.loads(_ok("alerts", "outbox", "--json", db=db, env=env).out)
    assert {r["recipient"] for r in rows} >= {"王局长", "YUQING_ALERT_URLS"}
    assert all(r["destination"] == f"json://127.0.0.1:{sink.port}/…" for r in rows)
    assert f"127.0.0.1:{sink.port}" in listing.out
    for secret in SECRETS:
        assert secret not in listing.out + listing.err + added.out + added.err
        assert secret not in json.dumps(rows, ensure_ascii=False)
    # the person's record in the audit trail (what the duty pages list) keeps no credentials either
    con = sqlite3.connect(tmp_path / "y.db")
    try:
        trail = [r[0] + (r[1] or "") for r in con.execute(
            "SELECT coalesce(after, ''), before FROM audit_log WHERE entity = 'person'")]
    finally:
        con.close()
    assert trail and f"127.0.0.1:{sink.port}" in trail[0]
    for secret in SECRETS:
        assert all(secret not in t for t in trail)


# ----------------------------------------------------------------- passwords stored as argon2id
def test_user_add_stores_an_argon2id_hash_and_never_prints_the_password(tmp_path):
    db, env = f"sqlite:///{tmp_path / 'y.db'}", _env(tmp_path)
    password = "Zh1ban-Mima-2026"
    r = _ok("user", "add", "--username", "zhiban", "--role", "值班员", "--name", "值班员甲", "--password-stdin",
            db=db, env=env, stdin=password + "\n")
    assert r.out.strip().isdigit() and password not in r.out + r.err
    listed = _ok("user", "list", "--json", db=db, env=env)
    assert [u["username"] for u in json.loads(listed.out)] == ["zhiban"] and password not in listed.out

    def stored() -> str:
        con = sqlite3.connect(tmp_path / "y.db")
        try:
            (hashed,) = con.execute("SELECT password_hash FROM app_user WHERE username = 'zhiban'").fetchone()
            trail = " ".join(str(row) for row in con.execute("SELECT * FROM audit_log"))
        finally:
            con.close()
        assert password not in trail and new not in trail
        return hashed

    new = "Xin-Mima-2027!"
    hashed = stored()
    assert hashed.startswith("$argon2id$") and password not in hashed
    assert PasswordHasher().verify(hashed, password)
    # a reset stores a fresh argon2id hash of the new password
    r = _ok("user", "passwd", "zhiban", "--password-stdin", db=db, env=env, stdin=new + "\n")
    assert new not in r.out + r.err
    rehashed = stored()
    assert rehashed.startswith("$argon2id$") and rehashed != hashed and PasswordHasher().verify(rehashed, new)
    # a too short password is refused clearly and the stored hash stays
    r = run_cli("user", "passwd", "zhiban", "--password-stdin", db_url=db, env=env, stdin="short\n")
    assert r.code == 2 and "密码至少" in r.err and "short" not in r.err and "Traceback" not in r.err
    assert stored() == rehashed


# ----------------------------------------------------------------- texts masked in the weekly export
HOTLINE_HEADER = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复意见", "答复时间"]
PHONES = ("13812345678", "13912345678", "13700001111", "110101199003071234", "0571-87654321")


def test_reply_and_commitment_texts_are_masked_in_the_weekly_export(tmp_path):
    db = f"sqlite:///{tmp_path / 'y.db'}"
    env = _env(tmp_path, YUQING_SENTIMENT_ENGINE="snownlp")  # no trained model needed
    # cases and commitments are recorded at the current time: export the week that holds it
    now = _now().astimezone(SH)
    received = now - timedelta(minutes=10)
    year, week, _ = received.isocalendar()
    export = tmp_path / "hotline.csv"
    with export.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HOTLINE_HEADER)
        stamp = received.strftime("%Y/%m/%d %H:%M:%S")
        w.writerow(["W1", "A001", "小区停水", stamp, "停水三天了", "已联系供水公司，经办人电话13812345678。",
                    (received + timedelta(minutes=5)).strftime("%Y/%m/%d %H:%M:%S")])
        w.writerow(["W2", "A002", "路灯不亮", stamp, "幸福路路灯坏了", "", ""])
    _ok("import", "hotline", str(export), db=db, env=env)
    _ok("messages", "reply", "W2", "--text", "已安排维修，联系人身份证110101199003071234，座机0571-87654321。",
        "--at", now.isoformat(), db=db, env=env)
    case_id = _ok("case", "open", "--grade", "较大", "--title", "小区停水", "--discovered-at", received.isoformat(),
                  db=db, env=env).out.split()[0]
    _ok("case", "commitment", "add", case_id, "--text", "三日内恢复供水，进度请拨13912345678或13700001111查询",
        "--owner-unit", "住建局", "--due", (now + timedelta(days=3)).date().isoformat(), db=db, env=env)
    out = tmp_path / "out"
    result = json.loads(_ok("export", "weekly", "--week", f"{year}-W{week:02d}", "--out", str(out), "--now",
                            (now + timedelta(minutes=1)).isoformat(), "--json", db=db, env=env).out)
    book = load_workbook(result["xlsx"])
    cells = " ".join(str(c) for ws in book for row in ws.iter_rows(values_only=True) for c in row if c)
    doc = Document(result["docx"])
    words = "\n".join([p.text for p in doc.paragraphs]
                      + [cell.text for t in doc.tables for row in t.rows for cell in row.cells])
    for number in PHONES:
        assert number not in cells and number not in words
    # the texts are there, masked: the reply column of the messages and the commitment column
    messages = book["留言办理"]
    header = [c.value for c in messages[1]]
    replies = {row[header.index("留言编号")]: row[header.index("答复摘要")]
               for row in messages.iter_rows(min_row=2, values_only=True)}
    assert replies["W1"] == "已联系供水公司，经办人电话138****5678。"
    assert replies["W2"] == "已安排维修，联系人身份证110101********1234，座机****-******21。"
    commitments = list(book["承诺事项"].iter_rows(min_row=2, values_only=True))
    assert [c[1] for c in commitments] == ["三日内恢复供水，进度请拨139****5678或137****1111查询"]
    assert "139****5678" in words  # the weekly report lists the commitments not yet fulfilled
