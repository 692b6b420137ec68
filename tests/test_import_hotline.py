"""Hotline / 留言 export imports: each row becomes a post and a message with receipt and reply
times and the reply clock; all-or-nothing on a missing column or an unreadable row; idempotent."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import func, select

from config.clockconfig import load_calendar, load_clock_rules
from config.settings import get_settings
from config.wiring import build_assessor
from crawlers.importers import ImportFileError, ensure_source, hotline_spec, import_file
from ledger.clocks.replies import apply_reply_clock
from ledger.db import make_engine, session_scope
from ledger.migrate import upgrade
from ledger.models.core import Message, Post
from tests.conftest import shared_data

SH = ZoneInfo("Asia/Shanghai")
HEADER = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复意见", "答复时间", "点赞数", "反对数"]
ROWS = [
    ["1001", "A0001", "小区停车难", "2019/4/25 9:32:09", "晚上车位不够，希望规划停车场。", "已转交街道办理。", "2019/4/28 10:00:00", "3", "0"],
    ["1002", "A0002", "路灯不亮", "2019-04-08 08:37:20", "幸福路路灯坏了一个月。", "已安排维修。", "2019-04-30 16:00:00", "12", "1"],
    ["1003", "A0003", "噪音扰民", "2019/4/26 22:05:00", "工地夜间施工。", "", "", "", ""],
]


class NeutralSentiment:
    """Stands in for SnowNLP only (about 13 posts/s, which would make these file tests take many
    minutes); sentiment is not under test here. A faster configured engine is used as is."""

    name = "neutral"

    def predict(self, texts):
        from analysis.sentiment import SentimentResult

        return [SentimentResult("neutral", 0.5) for _ in texts]


def use_fast_sentiment() -> Callable[[], None]:
    """Make ``build_assessor`` swap SnowNLP for :class:`NeutralSentiment` (in this process); returns
    the function that puts the real loader back. The CLI child below keeps the swap for its life."""
    from config import wiring

    real = wiring.load_engine

    def load(spec):
        engine = real(spec)
        return NeutralSentiment() if getattr(engine, "name", "") == "snownlp" else engine

    wiring.load_engine = load

    def restore() -> None:
        wiring.load_engine = real

    return restore


def fast_assessor():
    """The configured assessor (rules, gazetteer, sentiment engine from settings; SnowNLP swapped
    while it is built, then the real loader is restored for every other test in the process)."""
    restore = use_fast_sentiment()
    try:
        return build_assessor(get_settings())
    finally:
        restore()


# the command line in a child process, with the same sentiment swap
CHILD = ("import sys; from tests.test_import_hotline import use_fast_sentiment; use_fast_sentiment(); "
         "from config.cli.main import main; main(sys.argv[1:])")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def assessor():
    return fast_assessor()


@pytest.fixture(scope="module")
def clock():
    cfg = get_settings()
    cal, rules = load_calendar(cfg), load_clock_rules(cfg)
    return lambda m: apply_reply_clock(m, calendar=cal, rules=rules)


def write_csv(path: Path, header, rows, encoding="utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def run_import(engine, path, assessor, clock, now, **kw):
    spec = hotline_spec(channel=kw.pop("channel", "网上留言"), now=now, simple_col=kw.pop("simple_col", None))
    sid, _ = ensure_source(engine, name="网上留言导入", kind="hotline", config={}, actor="test", now=now)
    return import_file(engine, path, spec, source_id=sid, assessor=assessor, now=now, reply_clock=clock, **kw)


def counts(engine) -> tuple[int, int]:
    with session_scope(engine) as s:
        return (s.execute(select(func.count()).select_from(Post)).scalar_one(),
                s.execute(select(func.count()).select_from(Message)).scalar_one())


def test_the_sentiment_swap_is_undone_after_building_the_assessor(assessor):
    from analysis import sentiment
    from config import wiring

    assert assessor is not None and wiring.load_engine is sentiment.load_engine


def test_rows_become_posts_and_messages_with_times_and_clock(any_engine, tmp_path, assessor, clock, fixed_now):
    path = write_csv(tmp_path / "export.csv", HEADER, ROWS)
    report = run_import(any_engine, path, assessor, clock, fixed_now)
    assert (report.rows, report.inserted, report.messages.inserted) == (3, 3, 3)
    assert "读取 3 行" in report.summary() and "新增 3 条" in report.summary()
    with session_scope(any_engine) as s:
        msgs = {m.external_id: m for m in s.execute(select(Message)).scalars()}
        posts = {p.external_id: p for p in s.execute(select(Post)).scalars()}
    m = msgs["1001"]
    # 2019/4/25 9:32:09 in Asia/Shanghai is 01:32:09 UTC
    assert m.received_at == datetime(2019, 4, 25, 1, 32, 9, tzinfo=UTC)
    assert m.replied_at == datetime(2019, 4, 28, 2, 0, tzinfo=UTC)
    assert m.reply_text == "已转交街道办理。" and m.channel == "网上留言" and m.author == "A0001"
    assert m.post_id == posts["1001"].id
    # 5 working days, the day of receipt not counted: received Thu 25 Apr 2019 → Fri 26, Sun 28 (a 调休
    # workday before 劳动节), Mon 29, Tue 30, then 1–4 May are holidays and Sun 5 May is a 调休 workday
    assert m.due_at == datetime(2019, 5, 5, 23, 59, 59, tzinfo=SH) and m.on_time is True
    assert m.late_working_days == 0
    late = msgs["1002"]  # received Mon 8 Apr: due Mon 15 Apr; replied Tue 30 Apr
    assert late.due_at == datetime(2019, 4, 15, 23, 59, 59, tzinfo=SH)
    # 16–19, 22–26 Apr, Sun 28 (调休), 29, 30: the 12th working day after the due date
    assert late.on_time is False and late.late_working_days == 12
    open_msg = msgs["1003"]  # received Fri 26 Apr 22:05: Sun 28, Mon 29, Tue 30, Sun 5, Mon 6 May
    assert open_msg.replied_at is None and open_msg.reply_text is None and open_msg.on_time is None
    assert open_msg.due_at == datetime(2019, 5, 6, 23, 59, 59, tzinfo=SH)
    p = posts["1002"]
    assert "路灯不亮" in p.text and "幸福路路灯坏了一个月" in p.text
    assert (p.likes, p.dislikes) == (12, 1)
    assert p.published_at == datetime(2019, 4, 8, 0, 37, 20, tzinfo=UTC)


def test_second_run_adds_nothing_and_a_new_reply_is_recorded(sqlite_engine, tmp_path, assessor, clock, fixed_now):
    path = write_csv(tmp_path / "export.csv", HEADER, ROWS)
    run_import(sqlite_engine, path, assessor, clock, fixed_now)
    again = run_import(sqlite_engine, path, assessor, clock, fixed_now)
    assert (again.inserted, again.unchanged, again.messages.inserted, again.messages.unchanged) == (0, 3, 0, 3)
    assert counts(sqlite_engine) == (3, 3)
    # a later export carries the reply to 1003
    rows = [r[:] for r in ROWS]
    rows[2][5:7] = ["已责令停工。", "2019/4/29 9:00:00"]
    later = run_import(sqlite_engine, write_csv(tmp_path / "later.csv", HEADER, rows), assessor, clock, fixed_now)
    assert later.messages.updated == 1 and later.messages.inserted == 0
    with session_scope(sqlite_engine) as s:
        m = s.execute(select(Message).where(Message.external_id == "1003")).scalar_one()
    assert m.reply_text == "已责令停工。" and m.on_time is True
    assert counts(sqlite_engine) == (3, 3)


def test_unreadable_row_refuses_whole_file(sqlite_engine, tmp_path, assessor, clock, fixed_now):
    rows = [r[:] for r in ROWS] + [["1004", "A4", "题", "去年春天", "内容", "", "", "", ""]]
    rows[1][7] = "很多"  # 点赞数 not a number
    path = write_csv(tmp_path / "bad.csv", HEADER, rows)
    with pytest.raises(ImportFileError) as err:
        run_import(sqlite_engine, path, assessor, clock, fixed_now)
    msg = str(err.value)
    assert "第 3 行" in msg and "点赞数" in msg
    assert "第 5 行" in msg and "留言时间" in msg and "去年春天" in msg
    assert counts(sqlite_engine) == (0, 0)


def test_xlsx_export_with_title_row_date_cells_and_serials(sqlite_engine, tmp_path, assessor, clock, fixed_now):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["12345热线留言导出"])
    ws.merge_cells("A1:I1")
    ws.append(HEADER)
    ws.append([1001, "A1", "停车", datetime(2019, 4, 25, 9, 32, 9), "详情一", "答复", datetime(2019, 4, 28, 10), 3, 0])
    ws.append([1002, "A2", "路灯", 43580.5, "详情二", None, None, None, None])  # serial: 2019-04-25 12:00
    path = tmp_path / "export.xlsx"
    wb.save(path)
    report = run_import(sqlite_engine, path, assessor, clock, fixed_now)
    assert report.messages.inserted == 2
    with session_scope(sqlite_engine) as s:
        msgs = {m.external_id: m for m in s.execute(select(Message)).scalars()}
    assert set(msgs) == {"1001", "1002"}  # integral numbers, not "1001.0"
    assert msgs["1001"].received_at == datetime(2019, 4, 25, 1, 32, 9, tzinfo=UTC)
    assert msgs["1002"].received_at == datetime(2019, 4, 25, 4, 0, tzinfo=UTC)


def test_simple_column_shortens_the_clock(sqlite_engine, tmp_path, assessor, clock, fixed_now):
    header = HEADER + ["简单问题"]
    rows = [ROWS[2] + ["是"], ["1005", "A5", "题", "2019/4/26 22:05:00", "内容", "", "", "", "", "否"]]
    run_import(sqlite_engine, write_csv(tmp_path / "s.csv", header, rows), assessor, clock, fixed_now,
               simple_col="简单问题")
    with session_scope(sqlite_engine) as s:
        msgs = {m.external_id: m for m in s.execute(select(Message)).scalars()}
    assert msgs["1003"].simple and not msgs["1005"].simple
    assert msgs["1003"].due_at < msgs["1005"].due_at


def _cli(args, db_url, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "YUQING_DATABASE_URL": db_url, "YUQING_DATA_DIR": str(cwd)}
    return subprocess.run([sys.executable, "-c", CHILD, *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600, check=False)


def test_cli_mapping_and_missing_column(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    header = ["编号", "留言用户", "留言主题", "来信时间", "留言详情"]
    rows = [r[:5] for r in ROWS[:2]]
    rows = [[r[0], r[1], r[2], r[3], r[4]] for r in rows]
    mapped = write_csv(tmp_path / "mapped.csv", header, rows)
    # without the mapping the file is refused and names the missing standard columns
    res = _cli(["import", "hotline", str(mapped)], db, tmp_path)
    assert res.returncode != 0 and "留言时间" in res.stderr and "留言编号" in res.stderr
    assert "Traceback" not in res.stderr
    res = _cli(["import", "hotline", str(mapped), "--channel", "12345", "--map", "编号=留言编号",
                "--map", "来信时间=留言时间"], db, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "新增 2 条" in res.stdout
    engine = make_engine(db)
    with session_scope(engine) as s:
        channels = set(s.execute(select(Message.channel)).scalars())
    assert channels == {"12345热线"} and counts(engine) == (2, 2)  # the alias in messages.toml
    engine.dispose()


def test_shared_hotline_replies(tmp_path, assessor, clock, fixed_now):
    """Acceptance: 2,816 messages with receipt and reply times; again adds none; a copy without
    留言时间 is refused naming it, count unchanged."""
    src = shared_data("hotline_replies.csv")
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url)
    engine = make_engine(url)
    report = run_import(engine, src, assessor, clock, fixed_now)
    assert report.messages.inserted == 2816
    with session_scope(engine) as s:
        n, received, replied, clocked = s.execute(
            select(func.count(), func.count(Message.received_at), func.count(Message.replied_at),
                   func.count(Message.on_time))
        ).one()
    assert (n, received, replied, clocked) == (2816, 2816, 2816, 2816)
    again = run_import(engine, src, assessor, clock, fixed_now)
    assert again.messages.inserted == 0 and again.inserted == 0
    # copy without 留言时间, through the command line
    with src.open(encoding="utf-8", newline="") as fh, (tmp_path / "copy.csv").open("w", encoding="utf-8",
                                                                                     newline="") as out:
        reader, writer = csv.reader(fh), csv.writer(out)
        header = next(reader)
        drop = header.index("留言时间")
        for row in [header, *reader]:
            writer.writerow(row[:drop] + row[drop + 1 :])
    res = _cli(["import", "hotline", str(tmp_path / "copy.csv")], url, tmp_path)
    assert res.returncode != 0 and "留言时间" in res.stderr
    assert counts(engine) == (2816, 2816)
    engine.dispose()
