"""Hostile and broken import files: each is either stored as safe plain text or refused with a
clear message naming the file problem, the column or the row — never a crash, never a partial import."""

from __future__ import annotations

import csv
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from crawlers.importers import ImportFileError, ensure_source, hotline_spec, import_file, posts_spec
from ledger.db import session_scope
from ledger.models.core import Message, Post
from ledger.posts.intake import MAX_TEXT_CHARS
from tests.test_import_hotline import HEADER, ROWS, fast_assessor

FILES = Path(__file__).parent / "files"


@pytest.fixture(scope="module")
def assessor():
    return fast_assessor()


def hotline(engine, path, assessor, now):
    sid, _ = ensure_source(engine, name="h", kind="hotline", config={}, actor="test", now=now)
    return import_file(engine, path, hotline_spec(channel="12345", now=now), source_id=sid, assessor=assessor,
                       now=now)


def posts(engine, path, assessor, now, **cols):
    sid, _ = ensure_source(engine, name="p", kind="file", config={}, actor="test", now=now)
    return import_file(engine, path, posts_spec(now=now, **cols), source_id=sid, assessor=assessor, now=now)


def count(engine, model=Post) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def texts(engine) -> dict[str, Post]:
    with session_scope(engine) as s:
        return {p.external_id: p for p in s.execute(select(Post)).scalars()}


def write_csv(path: Path, header, rows, encoding="utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.mark.parametrize("name", ["empty.csv", "empty.xlsx"])
def test_zero_byte_file(sqlite_engine, tmp_path, assessor, fixed_now, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(ImportFileError, match="文件为空"):
        hotline(sqlite_engine, tmp_path / name, assessor, fixed_now)
    assert count(sqlite_engine) == 0


def test_blank_file_and_header_only(sqlite_engine, tmp_path, assessor, fixed_now):
    (tmp_path / "blank.csv").write_text("\n \n\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="表头"):
        hotline(sqlite_engine, tmp_path / "blank.csv", assessor, fixed_now)
    rep = hotline(sqlite_engine, write_csv(tmp_path / "h.csv", HEADER, []), assessor, fixed_now)
    assert rep.rows == 0 and count(sqlite_engine) == 0


def test_binary_garbage_is_refused(sqlite_engine, tmp_path, assessor, fixed_now):
    (tmp_path / "x.csv").write_bytes(bytes(range(0x80, 0x100)) * 50)
    with pytest.raises(ImportFileError, match="编码"):
        hotline(sqlite_engine, tmp_path / "x.csv", assessor, fixed_now)


def test_corrupt_xlsx_is_refused(sqlite_engine, tmp_path, assessor, fixed_now):
    (tmp_path / "x.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 300)
    with pytest.raises(ImportFileError, match="Excel"):
        hotline(sqlite_engine, tmp_path / "x.xlsx", assessor, fixed_now)


def test_wrong_encoding_late_in_file_refuses_all(sqlite_engine, tmp_path, assessor, fixed_now):
    """UTF-8 for the first 100 KB (so detection says UTF-8), then a row saved as GBK."""
    path = tmp_path / "mixed.csv"
    good = "".join(f"{i},用户,主题{i},2019/4/25 9:32:09,{'详情' * 40}\n" for i in range(700))
    bad = "9999,用户,停水,2019/4/25 9:32:09,三天没有水了\n".encode("gbk")
    path.write_bytes(("留言编号,留言用户,留言主题,留言时间,留言详情\n" + good).encode("utf-8") + bad)
    with pytest.raises(ImportFileError, match="编码") as err:
        hotline(sqlite_engine, path, assessor, fixed_now)
    assert "第 702 行" in str(err.value)
    assert count(sqlite_engine) == 0 and count(sqlite_engine, Message) == 0
    # told the right encoding of that row the user can see the problem; GB18030 files import
    gbk = write_csv(tmp_path / "gbk.csv", HEADER, ROWS, encoding="gb18030")
    assert hotline(sqlite_engine, gbk, assessor, fixed_now).messages.inserted == 3
    assert "路灯不亮" in texts(sqlite_engine)["1002"].text


def test_missing_column_is_named_and_nothing_stored(sqlite_engine, tmp_path, assessor, fixed_now):
    header = [h for h in HEADER if h != "留言详情"]
    rows = [r[:4] + r[5:] for r in ROWS]
    with pytest.raises(ImportFileError, match="留言详情"):
        hotline(sqlite_engine, write_csv(tmp_path / "h.csv", header, rows), assessor, fixed_now)
    assert count(sqlite_engine) == 0


def test_unreadable_rows_are_named(sqlite_engine, tmp_path, assessor, fixed_now):
    rows = [r[:] for r in ROWS]
    rows.append(["1004", "A4", "主题", "2019/4/25 9:32:09", "详情", "", "", "", "", "多出来的列"])
    rows.append(["", "A5", "主题", "2019/4/25 9:32:09", "详情", "", "", "", ""])
    rows.append(["1006", "A6", "", "2019/4/25 9:32:09", "", "", "", "", ""])
    rows.append(["1007", "A7", "主题", "2019/4/25 9:32:09", "详情", "", "下周", "", ""])
    with pytest.raises(ImportFileError) as err:
        hotline(sqlite_engine, write_csv(tmp_path / "h.csv", HEADER, rows), assessor, fixed_now)
    msg = str(err.value)
    assert "4 行无法读取" in msg
    assert re.search("第 5 行: 列数多于表头", msg) and "第 6 行: 留言编号 为空" in msg
    assert "第 7 行" in msg and "第 8 行: 答复时间" in msg
    assert count(sqlite_engine) == 0


def test_enormous_fields(sqlite_engine, tmp_path, assessor, fixed_now):
    big = "很长" * 500_000  # 1,000,000 characters: stored, bounded
    rep = posts(sqlite_engine, write_csv(tmp_path / "big.csv", ["text"], [[big], ["短的"]]), assessor, fixed_now,
                text_col="text")
    assert rep.inserted == 2
    lengths = sorted(len(p.text) for p in texts(sqlite_engine).values())
    assert lengths == [2, MAX_TEXT_CHARS]
    huge = "x" * (17 * 1024 * 1024)  # beyond the field limit: the row is named, nothing stored
    path = write_csv(tmp_path / "huge.csv", ["text"], [["第一条"], [huge]])
    with pytest.raises(ImportFileError, match="第 3 行"):
        posts(sqlite_engine, path, assessor, fixed_now, text_col="text")
    assert count(sqlite_engine) == 2


def test_long_labels_fit_their_columns(any_engine, tmp_path, assessor, fixed_now):
    """A post naming thirty districts: the jurisdiction label is bounded (PostgreSQL refuses
    strings longer than the column), the text is kept whole."""
    districts = ["沙坪坝区", "万州区", "渝中区", "江北区", "九龙坡区", "渝北区", "长寿区", "合川区", "荣昌区", "垫江县", "云阳县", "石柱县", "江津区", "开州区", "涪陵区", "大渡口区", "南岸区", "巴南区", "永川区", "大足区", "铜梁区", "潼南区", "梁平区", "武隆区", "城口县", "奉节县"]
    text = "重庆市疫情通报：" + "、".join(districts) + "均有新增病例"
    rep = posts(any_engine, write_csv(tmp_path / "d.csv", ["text"], [[text]]), assessor, fixed_now, text_col="text")
    assert rep.inserted == 1
    (p,) = texts(any_engine).values()
    assert p.text == text
    assert p.jurisdiction is None or len(p.jurisdiction) <= 100


def test_script_injection_becomes_plain_text(sqlite_engine, assessor, fixed_now):
    rep = posts(sqlite_engine, FILES / "posts_hostile.csv", assessor, fixed_now, id_col="id", text_col="正文",
                title_col="标题", time_col="时间")
    assert rep.inserted == 4
    got = texts(sqlite_engine)
    for p in got.values():
        for text in (p.text, p.title or ""):
            assert not re.search(r"<[a-zA-Z/!]", text)  # no markup left at all
            for bad in ("<script", "onerror", "javascript:", "alert("):
                assert bad not in text.lower()
    assert got["x1"].title == "通知" and "市民反映" in got["x1"].text and "停水三天" in got["x1"].text
    assert got["x2"].text.split("\n") == ["第一行", "第二行", "第三行"]
    # a formula-looking cell in a CSV is just text (nothing evaluates it); its time is an Excel serial
    assert got["x3"].text.startswith("=cmd")
    assert got["x3"].published_at == datetime(2020, 1, 25, 4, 0, tzinfo=UTC)
    assert "转义的脚本" in got["x4"].title and "双重转义" in got["x4"].text


def _set_cached_values(path: Path, values: dict[str, str]) -> None:
    """Give formula cells a cached value, as Excel does when it saves (openpyxl writes none)."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    xml = members["xl/worksheets/sheet1.xml"].decode()
    for ref, value in values.items():
        xml = re.sub(rf'(<c r="{ref}"[^>]*>)(<f>[^<]*</f>)<v\s*/?>(</v>)?', rf"\g<1>\g<2><v>{value}</v>", xml)
    members["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_xlsx_merged_cells_formulas_and_numeric_dates(sqlite_engine, tmp_path, assessor, fixed_now):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["某市12345热线 2019年4月 留言导出"])  # title row merged over the header width
    ws.merge_cells("A1:I1")
    ws.append(HEADER)
    ws.append([2001, "A1", "停车难", datetime(2019, 4, 25, 9, 32, 9), "第一条", "答复", 43585.4375, "=1+2", 0])
    ws.append([2002, "A2", "停车难", None, "第二条（与上条合并了留言时间）", None, None, None, None])
    ws.merge_cells("D3:D4")  # one 留言时间 for two rows
    ws.merge_cells("C3:C4")
    ws.append([2003, "A3", "=CONCATENATE(\"路\",\"灯\")", 43580.5, "第三条", None, None, "=SUM(H3:H3)", None])
    path = tmp_path / "merged.xlsx"
    wb.save(path)
    _set_cached_values(path, {"H3": "3"})  # H5 and C5 keep no cached value
    rep = hotline(sqlite_engine, path, assessor, fixed_now)
    assert rep.rows == 3 and rep.messages.inserted == 3
    with session_scope(sqlite_engine) as s:
        msgs = {m.external_id: m for m in s.execute(select(Message)).scalars()}
    got = texts(sqlite_engine)
    t = datetime(2019, 4, 25, 1, 32, 9, tzinfo=UTC)
    assert msgs["2001"].received_at == t and msgs["2002"].received_at == t
    assert msgs["2002"].title == "停车难"
    assert msgs["2001"].replied_at == datetime(2019, 4, 30, 2, 30, tzinfo=UTC)  # serial 43585.4375
    assert got["2001"].likes == 3  # the formula's cached value, not its text
    assert got["2003"].likes == 0 and msgs["2003"].received_at == datetime(2019, 4, 25, 4, 0, tzinfo=UTC)
    for p in got.values():
        assert "SUM" not in p.text and "CONCATENATE" not in p.text and "=" not in p.text


def test_hostile_hotline_row_in_xlsx_is_plain_text(sqlite_engine, tmp_path, assessor, fixed_now):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(["3001", "<b>u</b>", "<svg onload=alert(1)></svg>标题", "2019-04-08 08:37:20",
               "正文<script>document.cookie</script>结束", "<a href='javascript:x()'>已办理</a>", None, None, None])
    wb.save(tmp_path / "h.xlsx")
    hotline(sqlite_engine, tmp_path / "h.xlsx", assessor, fixed_now)
    with session_scope(sqlite_engine) as s:
        m = s.execute(select(Message)).scalar_one()
    assert m.title == "标题" and m.text == "正文结束" and m.reply_text == "已办理"
    assert m.author == "u"
    # a NUL or other control character in a CSV cell is dropped, not stored (PostgreSQL refuses NUL)
    path = write_csv(tmp_path / "nul.csv", ["text", "who"], [["有\x00空字符", "a\x00b"]])
    posts(sqlite_engine, path, assessor, fixed_now, text_col="text", author_col="who")
    p = texts(sqlite_engine)
    assert {(x.text, x.author) for x in p.values() if x.source_id != m.source_id} == {("有空字符", "ab")}
