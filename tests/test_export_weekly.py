"""Weekly export read back with openpyxl and python-docx, figures checked against the ledger:
a week of the real hotline replies (imported with the real importer), cases with their clocks
and commitments, masking, the ASCII chart fallback, and the Monday job mailing the files."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlmodel import Session, select

from config import alerting, ticking
from config.caseconfig import load_case_env
from config.jobs import WEEKLY_JOB_ID, install_jobs, run_weekly_export
from config.settings import get_settings
from ledger.alerts import duty
from ledger.cases import items as caseitems
from ledger.cases import workflow as cases
from ledger.db import session_scope
from ledger.models.clocks import Clock
from ledger.models.core import Message
from ledger.reports.export import export_weekly
from ledger.reports.weekly import collect_week, parse_week, previous_week
from ledger.reports.weekly_docx import chart_png
from tests.alert_sinks import SmtpSink
from tests.cli import run_cli
from tests.conftest import shared_data

SH = ZoneInfo("Asia/Shanghai")
WEEK = "2018-W48"


def _parse(text: str) -> datetime:
    text = text.strip().replace("/", "-")
    d, t = text.split(" ")
    y, m, dd = (int(x) for x in d.split("-"))
    hh, mi, ss = (int(x) for x in t.split(":"))
    return datetime(y, m, dd, hh, mi, ss, tzinfo=SH)


@pytest.fixture(scope="module")
def hotline_week(tmp_path_factory):
    """The rows of hotline_replies.csv received in 2018-W48 plus those of the neighbouring days
    (boundary cases), written to a temporary CSV; and the ids expected in the week."""
    src = shared_data("hotline_replies.csv")
    week = parse_week(WEEK)
    lo, hi = week.start - timedelta(days=2), week.end + timedelta(days=2)
    with src.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [r for r in reader if lo <= _parse(r[3]) < hi]
    # every message open at some point in the week: received in it, or received before it and
    # not answered before it began (carried over)
    expected = {r[0]: r for r in rows if _parse(r[3]) < week.end
                and (not r[6].strip() or _parse(r[6]) >= week.start)}
    assert 0 < len(expected) < len(rows)  # neighbours exist on both sides
    assert any(_parse(r[3]) < week.start for r in expected.values())  # some carried over
    path = tmp_path_factory.mktemp("hotline") / "week.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path, expected


def test_weekly_export_lists_exactly_the_messages_of_the_week(tmp_path, hotline_week):
    csv_path, expected = hotline_week
    db = f"sqlite:///{tmp_path / 'y.db'}"
    env = {"YUQING_DATA_DIR": str(tmp_path), "YUQING_SENTIMENT_ENGINE": "snownlp"}  # no trained model needed
    r = run_cli("import", "hotline", str(csv_path), db_url=db, env=env, timeout=300)
    assert r.code == 0, r.err
    out = tmp_path / "out"
    r = run_cli("export", "weekly", "--week", WEEK, "--out", str(out), "--json", db_url=db, env=env)
    assert r.code == 0, r.err
    result = json.loads(r.out)
    xlsx, docx = out / f"台账_{WEEK}.xlsx", out / f"周报_{WEEK}.docx"
    assert Path(result["xlsx"]) == xlsx and xlsx.is_file() and docx.is_file()

    book = load_workbook(xlsx)
    assert book.sheetnames == ["案件台账", "信息发布", "承诺事项", "留言办理", "逾期未办", "政策解读", "承诺待公开", "统计"]
    ws = book["留言办理"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, row, strict=True)) for row in ws.iter_rows(min_row=2, values_only=True)]
    assert {str(row["留言编号"]) for row in rows} == set(expected)
    for row in rows:  # reply times are the export's local times of the source file's times
        src = expected[str(row["留言编号"])]
        assert row["收到时间"] == _parse(src[3]).replace(tzinfo=None)
        assert row["答复时间"] == _parse(src[6]).replace(tzinfo=None)
    # figures against the ledger
    from ledger.db import make_engine

    engine = make_engine(db)
    week = parse_week(WEEK)
    with Session(engine) as s:
        msgs = s.exec(select(Message)).all()
    engine.dispose()
    received = [m for m in msgs if week.start <= m.received_at < week.end]
    # the rate's basis: replies due in the week or given in the week (every one here is answered)
    counted = [m for m in msgs if m.external_id in expected and (week.start <= m.due_at < week.end
                                                                 or week.start <= m.replied_at < week.end)]
    on_time = sum(1 for m in counted if m.on_time is True)
    late = sum(1 for m in counted if m.on_time is False)
    assert on_time + late == len(counted) > 0
    stats = {row[0]: row[1] for row in book["统计"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert stats["收到留言"] == len(received) < len(expected) and stats["按时答复"] == on_time
    assert stats["往周结转留言"] == len(expected) - len(received)
    assert stats["超时答复或逾期未答复"] == late
    assert "本周答复到期或本周答复" in stats["留言按时答复率口径"]
    rule_row = next(r for r in book["统计"].iter_rows(values_only=True) if r[0] == "留言答复")
    assert rule_row[2:5] == (on_time, late, len(counted))
    new_ids = {m.external_id for m in received}
    for row in rows:  # each row says which section it belongs to
        if str(row["留言编号"]) in new_ids:
            assert "本周新收" in row["本周归类"]
        else:  # carried over from the week before
            assert "本周新收" not in row["本周归类"]
        replied = _parse(expected[str(row["留言编号"])][6])
        assert ("本周办结" in row["本周归类"]) == (week.start <= replied < week.end)

    doc = Document(docx)
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "2018年第48周（11月26日—12月2日）" in text
    assert f"本周新收群众留言 {len(received)} 件，往周结转 {len(expected) - len(received)} 件" in text
    assert f"按时答复率 {on_time / len(counted) * 100:.1f}%" in text
    assert len(doc.inline_shapes) == 1  # the chart
    rate_table = next(t for t in doc.tables if t.rows[0].cells[0].text == "时限")
    assert [c.text for c in rate_table.rows[1].cells][:5] == ["留言答复", "—", str(on_time), str(late), str(len(counted))]


def _world(engine, url, tmp_path, monkeypatch):
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    monkeypatch.setattr(alerting, "TICK_HOOKS", [])
    monkeypatch.setattr(alerting, "AFTER_COMMIT_HOOKS", [])
    cfg = get_settings(database_url=url, data_dir=tmp_path, alert_urls=[])
    return engine, cfg


@pytest.fixture
def case_world(sqlite_engine, sqlite_url, tmp_path, monkeypatch):
    return _world(sqlite_engine, sqlite_url, tmp_path, monkeypatch)


@pytest.fixture
def any_case_world(any_engine, any_url, tmp_path, monkeypatch):
    """The same on a SQLite file and on PostgreSQL (where the export reads on two connections)."""
    return _world(any_engine, any_url, tmp_path, monkeypatch)


def test_cases_clocks_commitments_and_masking_read_back(any_case_world, tmp_path):
    engine, cfg = any_case_world
    env = load_case_env(cfg)
    week = parse_week("2026-W10")  # Monday 2026-03-02
    mon = week.start + timedelta(hours=2)  # 10:00 local
    with session_scope(engine) as s:
        major = cases.open_case(s, title="化工厂爆炸 联系人13912345678", grade="重大", discovered_at=mon, now=mon,
                                actor="值班", env=env, responsible_unit="应急管理局")
        cases.report_to_leadership(s, case_id=major.id, reported_at=mon + timedelta(minutes=20),
                                   now=mon + timedelta(minutes=20), actor="值班", env=env)
        minor = cases.open_case(s, title="小区停水", grade="较大", discovered_at=mon, now=mon, actor="值班", env=env,
                                responsible_unit="住建局")
        caseitems.add_commitment(s, case_id=minor.id, text="三日内恢复供水", owner_unit="住建局",
                                 due_date=date(2026, 3, 4), now=mon, actor="值班", env=env)
        caseitems.add_release(s, case_id=major.id, kind="权威信息", title="情况通报", text="正文", now=mon,
                              actor="编辑", env=env)
        s.add(Message(source_id=_source(s, mon), external_id="m1", title="噪音扰民", text="电话 13812345678",
                      author="张先生 13812345678", received_at=mon, due_at=mon + timedelta(days=7)))
        major_id, minor_id = major.id, minor.id
    ticking.run_tick(engine, cfg, week.end - timedelta(minutes=1))  # 48 h limit and 3/5 h clocks overdue
    with Session(engine) as s:
        data = collect_week(s, week, now=week.end + timedelta(days=1))
        result = export_weekly(s, week=week, out_dir=tmp_path / "x", now=week.end + timedelta(days=1))
    with Session(engine) as s:  # on PostgreSQL: the driver and its two connections against SQLAlchemy's rows
        assert collect_week(s, week, now=week.end + timedelta(days=1), read_ahead=False) == data
    with Session(engine) as s:  # a change of the session's own, not yet committed, is in its export
        source_id = s.exec(select(Message.source_id)).first()
        s.add(Message(source_id=source_id, external_id="m2", title="未提交", text="", received_at=mon))
        s.flush()
        assert [m["external_id"] for m in collect_week(s, week, now=week.end).messages] == ["m1", "m2"]
        s.rollback()
    book = load_workbook(result.xlsx)
    ws = book["案件台账"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert [r["分级"] for r in rows] == ["重大", "较大"]
    # reported 20 minutes after discovery: on time on the case sheet and in the rates alike
    assert rows[0]["第一时间向本级党委政府报告(1小时内)·状态"] == "已按时完成"
    assert rows[0]["发布权威信息(最迟5小时)·状态"] == "已超时限"
    assert rows[1]["回应其他政务舆情(48小时)·状态"] == "已超时限"
    assert rows[1]["发布权威信息(最迟5小时)·状态"] is None  # not a rule of a 较大 case
    all_cells = " ".join(str(c) for sheet in book for row in sheet.iter_rows(values_only=True) for c in row if c)
    assert "13912345678" not in all_cells and "13812345678" not in all_cells
    assert "139****5678" in all_cells
    releases = list(book["信息发布"].iter_rows(min_row=2, values_only=True))
    # the release with the review steps it requires (counted by the database)
    assert [(r[1], r[5]) for r in releases] == [("情况通报", len(env.policy.review_steps))]
    assert len(env.policy.review_steps) >= 3
    coms = list(book["承诺事项"].iter_rows(min_row=2, values_only=True))
    assert len(coms) == 1 and coms[0][5] == "逾期未落实"
    rates = {r["rule"]: r for r in data.clock_rates}
    with Session(engine) as s:  # every clock due in the week is counted once, as the ledger says
        clocks = s.exec(select(Clock).where(Clock.subject == "case", Clock.status != "cancelled")).all()
    in_week = [c for c in clocks if week.start <= c.due_at < week.end]
    for c in in_week:
        r = rates[c.rule_name]
        assert (r["on_time"], r["late"]) == ((1, 0) if c.status == "met" and not c.late else (0, 1))
    report = next(c for c in in_week if c.rule_id == "leadership_report")
    assert report.status == "met" and rows[0]["第一时间向本级党委政府报告(1小时内)·完成时间"] == (mon + timedelta(minutes=20)).astimezone(SH).replace(tzinfo=None)
    lead = rates["第一时间向本级党委政府报告(1小时内)"]
    assert (lead["on_time"], lead["late"], lead["grade"]) == (1, 0, "重大")
    assert rates["回应其他政务舆情(48小时)"]["late"] == 1
    units = {u["unit"]: u for u in data.unit_rates}
    assert units["住建局"]["on_time"] == 0 and units["住建局"]["late"] == 1
    assert units["应急管理局"]["total"] == sum(1 for c in in_week if c.subject_id == major_id)
    assert data.figures["new_cases"] == 2 and data.figures["new_重大"] == 1 and data.figures["commitments_overdue"] == 1
    doc = Document(result.docx)
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "本周新立舆情案件 2 件（重大1件，较大1件）" in body and "13912345678" not in body
    top = next(t for t in doc.tables if t.rows[0].cells[0].text == "案件编号")
    assert [r.cells[2].text for r in top.rows[1:]] == ["重大", "较大"]
    assert {major_id, minor_id} == {c["id"] for c in data.cases}


def _source(session, now):
    from ledger.models.core import Source

    src = Source(name="留言", kind="hotline", created_at=now)
    session.add(src)
    session.flush()
    return src.id


def test_chart_without_cjk_font_and_week_parsing(case_world):
    engine, _ = case_world
    with Session(engine) as s:
        data = collect_week(s, parse_week("2026-W10"), now=datetime(2026, 3, 10, tzinfo=UTC))
    for use_cjk in (False, None):
        png = chart_png(data, use_cjk=use_cjk)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    w = parse_week("2026-W01")
    assert w.start == datetime(2025, 12, 28, 16, 0, tzinfo=UTC)  # Monday 2025-12-29 00:00 +08:00
    assert previous_week(datetime(2026, 3, 9, 0, 5, tzinfo=UTC)).label == "2026-W10"  # Monday 08:05 local
    from ledger.reports.weekly import ExportError

    for bad in ("2026-10", "2026-W54", "W10"):
        with pytest.raises(ExportError):
            parse_week(bad)


def test_monday_job_mails_both_files_once(case_world, tmp_path, monkeypatch):
    engine, cfg = case_world
    with SmtpSink() as smtp:
        cfg = get_settings(database_url=str(engine.url), data_dir=tmp_path, alert_urls=[],
                           export_dir=tmp_path / "exports")
        with session_scope(engine) as s:
            duty.upsert_person(s, name="丙", role="分管领导", urls=[smtp.url("vice@example.org")],
                               now=datetime(2026, 3, 1, tzinfo=UTC))
        monday = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)  # 08:00 Asia/Shanghai
        result = run_weekly_export(engine, cfg, now=monday)
        assert result.week == "2026-W10" and result.xlsx.parent == tmp_path / "exports" / "2026-W10"
        run_weekly_export(engine, cfg, now=monday + timedelta(minutes=5))  # a re-run sends nothing new
        assert len(smtp.messages) == 1
        msg = smtp.messages[0]
        assert msg["to"] == ["vice@example.org"] and "2026-W10" in msg["subject"]
        assert sorted(msg["files"]) == sorted(["台账_2026-W10.xlsx", "周报_2026-W10.docx"])


def test_install_jobs_schedules_monday_morning(case_world):
    from apscheduler.schedulers.background import BackgroundScheduler

    engine, cfg = case_world
    sched = BackgroundScheduler(timezone=SH)
    sched.start(paused=True)
    try:
        install_jobs(sched, cfg, lambda: None)
        install_jobs(sched, cfg, lambda: None)  # replace_existing: still one job
        jobs = sched.get_jobs()
    finally:
        sched.shutdown(wait=False)
    assert [j.id for j in jobs] == [WEEKLY_JOB_ID]
    job = jobs[0]
    assert job.coalesce and job.misfire_grace_time >= 60
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 3, 4, 12, 0, tzinfo=SH))
    assert fire == datetime(2026, 3, 9, 8, 0, tzinfo=SH)


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    """Formula injection: a title written by a citizen as =HYPERLINK(...) is stored as text."""
    from openpyxl import Workbook, load_workbook

    from ledger.reports.weekly_xlsx import _sheet

    book = Workbook()
    _sheet(book, "留言", ["主题"], [['=HYPERLINK("http://127.0.0.1/x","点我")'], ["+1"], ["正常标题"]])
    path = tmp_path / "t.xlsx"
    book.save(path)
    cells = list(load_workbook(path)["留言"]["A"])[1:]
    assert [c.data_type for c in cells] == ["s", "s", "s"]
    assert cells[0].value.startswith("=HYPERLINK")
