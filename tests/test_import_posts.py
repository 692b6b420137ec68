"""Generic post-table imports: column options, stable ids from row content, encodings, idempotence."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from crawlers.importers import ImportFileError, ensure_source, import_file, posts_spec
from ledger.db import session_scope
from ledger.models.core import Post, Source
from tests.test_import_hotline import _cli, fast_assessor


@pytest.fixture(scope="module")
def assessor():
    return fast_assessor()


def write(path: Path, header, rows, encoding="utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def do_import(engine, path, assessor, now, *, source="posts", batch_size=2000, **cols):
    spec = posts_spec(now=now, **cols)
    sid, _ = ensure_source(engine, name=source, kind="file", config={}, actor="test", now=now)
    return import_file(engine, path, spec, source_id=sid, assessor=assessor, now=now, batch_size=batch_size)


def stored(engine) -> list[Post]:
    with session_scope(engine) as s:
        return list(s.execute(select(Post).order_by(Post.id)).scalars())


def test_identical_rows_are_one_post_and_reimport_adds_nothing(any_engine, tmp_path, assessor, fixed_now):
    rows = [["u1", "武汉加油"], ["u2", "口罩买不到了"], ["u1", "武汉加油"], ["u3", "武汉加油"], ["u2", "口罩买不到了"]]
    path = write(tmp_path / "p.csv", ["userid", "text"], rows)
    # batches of 2 rows: duplicates fall in different batches too
    rep = do_import(any_engine, path, assessor, fixed_now, text_col="text", author_col="userid", batch_size=2)
    assert rep.rows == 5 and rep.inserted == 3
    posts = stored(any_engine)
    assert sorted((p.author, p.text) for p in posts) == [("u1", "武汉加油"), ("u2", "口罩买不到了"), ("u3", "武汉加油")]
    assert len({p.external_id for p in posts}) == 3
    again = do_import(any_engine, path, assessor, fixed_now, text_col="text", author_col="userid")
    assert again.inserted == 0 and again.unchanged == 3
    assert len(stored(any_engine)) == 3
    # posts are assessed on the way in
    assert all(p.sentiment in ("positive", "neutral", "negative") for p in posts)


def test_empty_posts_are_skipped_and_counted(sqlite_engine, tmp_path, assessor, fixed_now):
    """Streams hold posts with no text: skipped and counted, not a reason to refuse the file."""
    path = write(tmp_path / "p.csv", ["userid", "text"], [["1", "有内容"], ["2", ""], ["3", "   "], ["1", "有内容"]])
    rep = do_import(sqlite_engine, path, assessor, fixed_now, text_col="text", author_col="userid")
    assert (rep.rows, rep.skipped, rep.inserted) == (4, 2, 1)
    assert "正文为空跳过 2 行" in rep.summary() and "文件内重复 1 行" in rep.summary()
    assert [p.text for p in stored(sqlite_engine)] == ["有内容"]


def test_id_title_time_columns(sqlite_engine, tmp_path, assessor, fixed_now):
    rows = [["a1", "标题一", "正文一 13912345678", "2020年1月6日 12:09", "甲"],
            ["a2", "", "正文二", "2020-01-07 08:00", "乙"],
            ["a1", "标题一", "正文一 改", "2020年1月6日 12:09", "甲"]]  # same id later in the file wins
    path = write(tmp_path / "p.csv", ["id", "title", "body", "when", "who"], rows)
    rep = do_import(sqlite_engine, path, assessor, fixed_now, text_col="body", title_col="title",
                    time_col="when", author_col="who", id_col="id")
    assert rep.inserted == 2
    posts = {p.external_id: p for p in stored(sqlite_engine)}
    assert posts["a1"].title == "标题一" and posts["a1"].text == "正文一 改"
    assert posts["a1"].published_at == datetime(2020, 1, 6, 4, 9, tzinfo=UTC)
    assert posts["a2"].title is None and posts["a2"].author == "乙"
    # the content changed at the source: re-import updates and keeps the earlier version
    rows[2][2] = "正文一 再改"
    rep = do_import(sqlite_engine, write(tmp_path / "p2.csv", ["id", "title", "body", "when", "who"], rows),
                    assessor, fixed_now, text_col="body", title_col="title", time_col="when",
                    author_col="who", id_col="id")
    assert rep.updated == 1 and rep.inserted == 0
    posts = {p.external_id: p for p in stored(sqlite_engine)}
    assert posts["a1"].text == "正文一 再改" and posts["a1"].version == 2


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_encodings_are_detected(sqlite_engine, tmp_path, assessor, fixed_now, encoding):
    rows = [["疫情防控指挥部发布通告", "2020/1/25 9:00"], ["醫院物資緊缺", "2020/1/25 10:00"]]
    path = write(tmp_path / "p.csv", ["内容", "时间"], rows, encoding=encoding)
    rep = do_import(sqlite_engine, path, assessor, fixed_now, text_col="内容", time_col="时间")
    assert rep.inserted == 2
    texts = {p.text for p in stored(sqlite_engine)}
    assert texts == {"疫情防控指挥部发布通告", "医院物资紧缺"}  # traditional → simplified


def test_xlsx_posts_and_missing_text_column(sqlite_engine, tmp_path, assessor, fixed_now):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["正文", "作者"])
    ws.append(["第一条", "甲"])
    ws.append(["第二条", 12345])
    wb.save(tmp_path / "p.xlsx")
    rep = do_import(sqlite_engine, tmp_path / "p.xlsx", assessor, fixed_now, text_col="正文", author_col="作者")
    assert rep.inserted == 2
    assert {p.author for p in stored(sqlite_engine)} == {"甲", "12345"}
    with pytest.raises(ImportFileError, match="内容"):
        do_import(sqlite_engine, tmp_path / "p.xlsx", assessor, fixed_now, text_col="内容")


def test_cli_posts_summary_and_refusal(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    path = write(tmp_path / "weibo.csv", ["userid", "text"], [["1", "第一条"], ["2", "第二条"], ["1", "第一条"]])
    res = _cli(["import", "posts", str(path), "--text-col", "text", "--author-col", "userid"], db, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "读取 3 行" in res.stdout and "新增 2 条" in res.stdout and "秒" in res.stdout
    res = _cli(["import", "posts", str(path), "--text-col", "正文"], db, tmp_path)
    assert res.returncode != 0 and "正文" in res.stderr and "Traceback" not in res.stderr
    from ledger.db import make_engine

    engine = make_engine(db)
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(Post)).scalar_one() == 2
        names = set(s.execute(select(Source.name)).scalars())
    engine.dispose()
    assert names == {"文件导入:weibo.csv"}  # the refused run created no source


def test_cli_imports_several_files_in_one_run_and_refuses_all_if_one_is_bad(tmp_path):
    db = f"sqlite:///{tmp_path / 'multi.db'}"
    a = write(tmp_path / "a.csv", ["userid", "text"], [["1", "甲文件第一条"], ["2", "甲文件第二条"]])
    b = write(tmp_path / "b.csv", ["userid", "text"], [["3", "乙文件第一条"]])
    bad = write(tmp_path / "bad.csv", ["userid", "内容"], [["4", "没有正文列"]])
    # one bad file among several: nothing at all is stored, and the message names the file
    res = _cli(["import", "posts", str(a), str(bad), "--text-col", "text"], db, tmp_path)
    assert res.returncode == 2 and "bad.csv" in res.stderr and "Traceback" not in res.stderr
    res = _cli(["import", "posts", str(a), str(a), "--text-col", "text"], db, tmp_path)
    assert res.returncode == 2 and "两次" in res.stderr
    from ledger.db import make_engine

    engine = make_engine(db)
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(Post)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(Source)).scalar_one() == 0
    res = _cli(["import", "posts", str(a), str(b), "--text-col", "text", "--author-col", "userid"], db, tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("导入完成")]
    assert len(lines) == 2 and "新增 2 条" in lines[0] and "新增 1 条" in lines[1]
    with session_scope(engine) as s:
        per_source = dict(s.execute(select(Source.name, func.count(Post.id)).join(Post, Post.source_id == Source.id)
                                    .group_by(Source.name)).all())
    engine.dispose()
    assert per_source == {"文件导入:a.csv": 2, "文件导入:b.csv": 1}
