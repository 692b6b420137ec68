"""Duty roster: xlsx import (both layouts), who is on duty at an instant, bad files rejected whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import Session, select

from ledger.alerts.duty import DutyError, add_shift, import_roster_xlsx, on_duty_at
from ledger.db import session_scope
from ledger.models.alerts import DutyShift, Person
from tests.cli import run_cli


def roster(path: Path, shifts: list[list], people: list[list] | None = None, *, span: bool = False) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "值班表"
    sheet.append(["日期", "班次", "值班人员", "带班领导", "备注"] if span else
                 ["开始时间", "结束时间", "值班人员", "带班领导", "备注"])
    for row in shifts:
        sheet.append(row)
    if people is not None:
        ps = book.create_sheet("人员")
        ps.append(["姓名", "角色", "单位", "电话", "通知地址"])
        for row in people:
            ps.append(row)
    book.save(path)
    return path


def test_import_and_who_is_on_duty(sqlite_engine, tmp_path, fixed_now):
    path = roster(tmp_path / "r.xlsx", [
        [datetime(2026, 3, 2, 8, 0), datetime(2026, 3, 2, 18, 0), "张三、李四", "王五", "白班"],
        ["2026-03-02 18:00", "2026-03-03 08:00", "赵六", "王五", "夜班"],
    ], people=[["张三", "值班人员", "网信办", "13912345678", "json://127.0.0.1:1/a, mailto://u:p@example.org"],
               ["王五", "带班领导", "网信办", None, "json://127.0.0.1:1/b"]])
    with session_scope(sqlite_engine) as s:
        result = import_roster_xlsx(s, path=path, now=fixed_now)
    assert result.as_dict() == {"people": 2, "shifts": 2}
    with Session(sqlite_engine) as s:
        # fixed_now is 10:00 Asia/Shanghai: the day shift; 18:00 sharp belongs to the night shift
        day = on_duty_at(s, at=fixed_now)
        assert day.people == ["张三", "李四"] and day.leaders == ["王五"]
        night = on_duty_at(s, at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        assert night.people == ["赵六"]
        assert on_duty_at(s, at=datetime(2026, 3, 3, 0, 0, tzinfo=UTC)).people == []
        zs = s.exec(select(Person).where(Person.name == "张三")).one()
        assert zs.urls == ["json://127.0.0.1:1/a", "mailto://u:p@example.org"] and zs.unit == "网信办"
        assert s.exec(select(Person).where(Person.name == "赵六")).one().role == "值班人员"  # created from the roster
    with session_scope(sqlite_engine) as s:  # importing the same file again changes nothing
        import_roster_xlsx(s, path=path, now=fixed_now)
    with Session(sqlite_engine) as s:
        assert len(s.exec(select(DutyShift)).all()) == 2


def test_date_and_span_layout_crossing_midnight(sqlite_engine, tmp_path, fixed_now):
    path = roster(tmp_path / "r.xlsx", [[datetime(2026, 3, 2), "18:00-08:00", "夜班员", "领导"]], span=True)
    with session_scope(sqlite_engine) as s:
        import_roster_xlsx(s, path=path, now=fixed_now)
    with Session(sqlite_engine) as s:
        shift = s.exec(select(DutyShift)).one()
        assert shift.start_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        assert shift.end_at - shift.start_at == timedelta(hours=14)


def test_one_bad_row_rejects_the_file_and_keeps_what_was_stored(sqlite_engine, tmp_path, fixed_now):
    with session_scope(sqlite_engine) as s:
        add_shift(s, start_at=fixed_now, end_at=fixed_now + timedelta(hours=8), on_duty=["原值班"], now=fixed_now)
    path = roster(tmp_path / "bad.xlsx", [
        ["2026-03-05 08:00", "2026-03-05 18:00", "甲", "乙"],
        ["2026-03-06 18:00", "2026-03-06 08:00", "丙", "乙"],  # ends before it starts
        ["明天", "2026-03-07 08:00", "丁", "乙"],
    ])
    with session_scope(sqlite_engine) as s, pytest.raises(DutyError) as err:
        import_roster_xlsx(s, path=path, now=fixed_now)
    assert "第3行" in str(err.value) and "第4行" in str(err.value)
    with Session(sqlite_engine) as s:
        assert [sh.on_duty for sh in s.exec(select(DutyShift)).all()] == [["原值班"]]
        assert s.exec(select(Person).where(Person.name == "甲")).first() is None


def test_cli_import_now_and_errors(tmp_path):
    db = f"sqlite:///{tmp_path / 'y.db'}"
    env = {"YUQING_DATA_DIR": str(tmp_path)}
    path = roster(tmp_path / "r.xlsx", [["2026-03-02 08:00", "2026-03-02 18:00", "张三", "王五"]])
    r = run_cli("duty", "import", str(path), db_url=db, env=env)
    assert r.code == 0 and "班次 1" in r.out, r.err
    r = run_cli("duty", "now", "--now", "2026-03-02T09:00:00+08:00", "--json", db_url=db, env=env)
    data = json.loads(r.out)
    assert data["on_duty"] == ["张三"] and data["leaders"] == ["王五"]
    r = run_cli("duty", "now", "--now", "2026-03-02T19:00:00+08:00", db_url=db, env=env)
    assert r.code == 1 and "无人值班" in r.err
    (tmp_path / "junk.xlsx").write_text("not a workbook")
    r = run_cli("duty", "import", str(tmp_path / "junk.xlsx"), db_url=db, env=env)
    assert r.code != 0 and "无法读取值班表" in r.err and "Traceback" not in r.err
