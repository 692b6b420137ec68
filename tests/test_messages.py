"""Reply clocks of citizens' messages (留言): due times, replies, lateness, listing, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from config.clockconfig import load_clock_rules
from config.settings import get_settings
from ledger.clocks.calendar import WorkCalendar, calendar_from_config
from ledger.clocks.replies import apply_reply_clock, refresh_message_clocks
from ledger.db import make_engine, session_scope
from ledger.messages.service import MessageError, list_messages, message_row, record_reply
from ledger.migrate import upgrade
from ledger.models.core import AuditLog, Message, Source

SH = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def eod(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, tzinfo=SH)


@pytest.fixture(scope="module")
def rules():
    return load_clock_rules(get_settings())


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


def add_messages(engine, rows: list[dict], cal, rules) -> list[int]:
    with session_scope(engine) as s:
        src = Source(name="12345热线", kind="hotline")
        s.add(src)
        s.flush()
        ids = []
        for i, row in enumerate(rows):
            m = Message(source_id=src.id, external_id=row.pop("external_id", f"M{i:04d}"), **row)
            apply_reply_clock(m, calendar=cal, rules=rules)
            s.add(m)
            s.flush()
            ids.append(m.id)
        return ids


def test_reply_clock_over_spring_festival_2024(rules, cal) -> None:
    m = Message(source_id=1, external_id="a", received_at=at(2024, 2, 7, 10, 0))
    apply_reply_clock(m, calendar=cal, rules=rules)
    # Thu 8, Fri 9, Sun 18 (调休), Mon 19, Tue 20
    assert m.due_at == eod(2024, 2, 20) and m.due_provisional is False
    assert m.on_time is None and m.late_working_days is None
    simple = Message(source_id=1, external_id="b", received_at=at(2024, 2, 7, 10, 0), simple=True)
    assert apply_reply_clock(simple, calendar=cal, rules=rules).due_at == eod(2024, 2, 18)
    m.replied_at = at(2024, 2, 20, 23, 0)
    apply_reply_clock(m, calendar=cal, rules=rules)
    assert (m.on_time, m.late_working_days) == (True, 0)
    m.replied_at = at(2024, 2, 22, 9, 0)  # Wed 21 is day 1 over, Thu 22 day 2
    apply_reply_clock(m, calendar=cal, rules=rules)
    assert (m.on_time, m.late_working_days) == (False, 2)


def test_reply_clock_into_a_year_without_data(rules, cal) -> None:
    m = Message(source_id=1, external_id="c", received_at=at(2026, 12, 30, 9, 0))
    apply_reply_clock(m, calendar=cal, rules=rules)
    assert m.due_provisional is True
    assert m.due_at == eod(2027, 1, 7)  # Thu 31, (元旦), Mon 4 … Thu 7: weekends and law only
    supplied = calendar_from_config({"years": {"2027": {"holidays": ["2027-01-01", "2027-01-04"]}}})
    apply_reply_clock(m, calendar=supplied, rules=rules)
    assert m.due_provisional is False and m.due_at == eod(2027, 1, 8)


def test_record_reply_and_refusals(any_engine, rules, cal) -> None:
    (mid,) = add_messages(any_engine, [{"received_at": at(2025, 9, 26, 14, 0), "title": "路灯不亮"}], cal, rules)
    now = at(2025, 10, 20, 9, 0)
    with session_scope(any_engine) as s:
        for kwargs, msg in [
            ({"text": "  "}, "不能为空"),
            ({"replied_at": at(2025, 9, 25, 9, 0)}, "早于"),
            ({"replied_at": now + timedelta(days=1)}, "晚于当前"),
            ({"message_id": 99999}, "不存在"),
        ]:
            args = {"message_id": mid, "text": "已修复", "replied_at": at(2025, 10, 13, 10, 0), **kwargs}
            with pytest.raises(MessageError, match=msg):
                record_reply(s, actor="t", now=now, calendar=cal, rules=rules, **args)
    with session_scope(any_engine) as s:
        m = record_reply(s, message_id=mid, text="已修复", replied_at=at(2025, 10, 13, 10, 0), actor="张三",
                         now=now, calendar=cal, rules=rules)
        # due Fri 10 Oct (Sun 28 Sep and Sat 11 Oct are 调休 workdays): Sat 11 is 1, Mon 13 is 2
        assert m.due_at == eod(2025, 10, 10)
        assert (m.on_time, m.late_working_days) == (False, 2)
    with session_scope(any_engine) as s, pytest.raises(MessageError, match="已于"):
        record_reply(s, message_id=mid, text="再答", replied_at=at(2025, 10, 14, 10, 0), actor="t",
                     now=now, calendar=cal, rules=rules)
    with session_scope(any_engine) as s:
        stored = s.get(Message, mid)
        assert stored.reply_text == "已修复"  # the refused second reply changed nothing
        record_reply(s, message_id=mid, text="更正: 已于10日修复", replied_at=at(2025, 10, 10, 16, 0),
                     actor="李四", now=now, calendar=cal, rules=rules, replace=True)
    with session_scope(any_engine) as s:
        stored = s.get(Message, mid)
        assert (stored.on_time, stored.late_working_days) == (True, 0)
        log = list(s.exec(select(AuditLog).where(AuditLog.entity == "message").order_by(AuditLog.id)))
        assert [a.action for a in log] == ["message.reply", "message.reply.replace"]
        assert log[1].before["reply_text"] == "已修复" and log[1].actor == "李四"


def test_list_overdue_first_masks_personal_numbers(sqlite_engine, rules, cal) -> None:
    now = at(2026, 3, 20, 9, 0)
    add_messages(sqlite_engine, [
        {"external_id": "open", "received_at": at(2026, 3, 18, 9, 0)},
        {"external_id": "overdue", "received_at": at(2026, 3, 2, 9, 0), "title": "电话13812345678反映噪音"},
        {"external_id": "late", "received_at": at(2026, 3, 2, 9, 0), "replied_at": at(2026, 3, 12, 9, 0)},
        {"external_id": "ok", "received_at": at(2026, 3, 3, 9, 0), "replied_at": at(2026, 3, 4, 9, 0)},
        {"external_id": "overdue2", "received_at": at(2026, 3, 5, 9, 0), "simple": True},
    ], cal, rules)
    with session_scope(sqlite_engine) as s:
        ordered = [m.external_id for m in list_messages(s, now=now, overdue_first=True)]
        assert ordered == ["overdue", "overdue2", "late", "ok", "open"]
        only = [m.external_id for m in list_messages(s, now=now, overdue_only=True)]
        assert only == ["overdue", "overdue2", "late"]
        assert [m.external_id for m in list_messages(s, now=now, limit=2)] == ["open", "overdue2"]
        rows = {r["external_id"]: r for r in (message_row(m, now) for m in list_messages(s, now=now))}
        assert "13812345678" not in rows["overdue"]["title"]
        assert rows["overdue"]["status"] == "已超期未答复"
        assert rows["late"]["status"] == "超期答复" and rows["late"]["late_working_days"] == 3
        assert rows["ok"]["status"] == "按时答复" and rows["open"]["status"] == "办理中"
        # received Wed 18 Mar: due Wed 25 Mar, warning from the start of its last working day
        opened = next(m for m in list_messages(s, now=now) if m.external_id == "open")
        assert message_row(opened, at(2026, 3, 24, 23, 0), calendar=cal, rules=rules)["status"] == "办理中"
        assert message_row(opened, at(2026, 3, 25, 0, 0), calendar=cal, rules=rules)["status"] == "即将到期"


def test_refresh_fills_missing_and_provisional_clocks(sqlite_engine, rules, cal) -> None:
    with session_scope(sqlite_engine) as s:
        src = Source(name="问政", kind="hotline")
        s.add(src)
        s.flush()
        s.add(Message(source_id=src.id, external_id="x", received_at=at(2026, 3, 2, 9, 0)))
        s.add(Message(source_id=src.id, external_id="y", received_at=at(2026, 12, 30, 9, 0)))
    now = datetime(2026, 12, 30, 2, 0, tzinfo=UTC)
    with session_scope(sqlite_engine) as s:
        changed = refresh_message_clocks(s, now=now, calendar=cal, rules=rules)
        assert sorted(m.external_id for m in changed) == ["x", "y"]
        assert refresh_message_clocks(s, now=now, calendar=cal, rules=rules) == []  # y stays provisional
    supplied = calendar_from_config({"years": {"2027": {"holidays": ["2027-01-01"]}}})
    with session_scope(sqlite_engine) as s:
        changed = refresh_message_clocks(s, now=now, calendar=supplied, rules=rules)
        assert [(m.external_id, m.due_provisional) for m in changed] == [("y", False)]
        assert len(list(s.exec(select(AuditLog).where(AuditLog.action == "message.clock")))) == 3


def _yuqing(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "config.cli.main", *args], check=False, capture_output=True,
                          text=True, env=env, timeout=120, cwd=Path(__file__).resolve().parent.parent)


def _in_process(argv: list[str], capsys) -> tuple[int, str, str]:
    from config.cli.main import main

    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_messages_list_and_reply(tmp_path: Path, rules, cal, monkeypatch, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    (mid, _) = add_messages(engine, [
        {"external_id": "2549", "received_at": at(2026, 3, 2, 9, 0), "title": "身份证号 110101199003071234 的问题"},
        {"external_id": "2550", "received_at": at(2026, 3, 3, 9, 0), "replied_at": at(2026, 3, 4, 9, 0)},
    ], cal, rules)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if k != "YUQING_CONFIG_DIR"}
    env.update({"YUQING_DATABASE_URL": url, "YUQING_DATA_DIR": str(tmp_path)})
    # the real command once, in its own process
    out = _yuqing(["messages", "list", "--json", "--now", "2026-03-20T09:00:00+08:00"], env)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["external_id"] for r in rows} == {"2549", "2550"}
    first = next(r for r in rows if r["external_id"] == "2549")
    for key in ("external_id", "received_at", "due_at", "replied_at", "on_time", "late_working_days"):
        assert key in first
    assert first["due_at"] == "2026-03-09T23:59:59+08:00" and first["replied_at"] is None
    assert "110101199003071234" not in out.stdout
    # the rest in this process (same entry point, faster)
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    monkeypatch.setenv("YUQING_DATABASE_URL", url)
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    code, out, err = _in_process(["messages", "reply", "2549", "--text", "已处理", "--at", "2026-03-10T10:00:00"],
                                 capsys)
    assert code == 0, err
    assert "超期答复 1 个工作日" in out
    code, out, err = _in_process(["messages", "reply", str(mid), "--text", "再次", "--at", "2026-03-11T10:00:00"],
                                 capsys)
    assert code != 0 and "已于" in err and "Traceback" not in err
    code, out, _ = _in_process(["messages", "list", "--json", "--overdue", "--limit", "1"], capsys)
    assert [r["external_id"] for r in json.loads(out)] == ["2549"]
    code, out, err = _in_process(["messages", "reply", "nope", "--text", "x"], capsys)
    assert code != 0 and "不存在" in err
    code, out, _ = _in_process(["messages", "list"], capsys)
    assert code == 0 and "超期答复" in out and "110101199003071234" not in out
