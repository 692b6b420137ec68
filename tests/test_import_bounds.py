"""Issue #22.10 and #22.11: hotline files with one id on two different rows, impossible dates and
XLSX files that inflate past the bound are refused through the real CLI, with nothing stored."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

from tests.cli import run_cli

HEADER = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情"]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def _stored(db_url: str) -> int:
    listed = run_cli("posts", "list", "--json", "--limit", "100", db_url=db_url)
    assert listed.code == 0, listed.err
    return len(json.loads(listed.out))


def test_one_id_on_two_different_rows_refuses_the_file_naming_both_rows(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    path = _csv(tmp_path / "hotline.csv", [
        ["A001", "张某", "路灯不亮", "2026-03-01 09:00", "清河路路灯坏了"],
        ["A002", "李某", "噪音扰民", "2026-03-01 10:00", "夜间施工"],
        ["A003", "王某", "垃圾清运", "2026-03-01 11:00", "小区垃圾未清运"],
        ["A002", "赵某", "停车难", "2026-03-02 08:00", "医院门口停车难"],
    ])
    res = run_cli("import", "hotline", str(path), "--channel", "12345", db_url=db_url)
    assert res.code == 2
    assert "A002" in res.err and "第 3 行" in res.err and "第 5 行" in res.err
    assert "未保存任何内容" in res.err
    assert _stored(db_url) == 0

    # the same row twice is a repeat, not a conflict: imported once
    path = _csv(tmp_path / "repeat.csv", [
        ["A001", "张某", "路灯不亮", "2026-03-01 09:00", "清河路路灯坏了"],
        ["A001", "张某", "路灯不亮", "2026-03-01 09:00", "清河路路灯坏了"],
    ])
    res = run_cli("import", "hotline", str(path), "--channel", "12345", db_url=db_url)
    assert res.code == 0, res.err
    assert "新增 1 条" in res.out


def test_impossible_dates_are_refused_with_the_row_and_nothing_stored(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'd.db'}"
    path = _csv(tmp_path / "dates.csv", [
        ["B001", "张某", "路灯不亮", "2026-03-01 09:00", "清河路路灯坏了"],
        ["B002", "李某", "噪音扰民", "1900-01-01", "夜间施工"],
        ["B003", "王某", "垃圾清运", "2999-12-31 00:00", "小区垃圾未清运"],
    ])
    res = run_cli("import", "hotline", str(path), "--channel", "12345", db_url=db_url)
    assert res.code == 2
    assert "第 3 行" in res.err and "第 4 行" in res.err and "超出合理范围" in res.err
    assert _stored(db_url) == 0


def _inflating_xlsx(path: Path, padding: int) -> Path:
    """A minimal valid XLSX as Excel writes it (text in a shared-strings part), that part padded
    with ``padding`` bytes of whitespace: compresses to almost nothing, inflates to ``padding``."""
    row = ["C001", "张某", "路灯不亮", "2026-03-01 09:00", "清河路路灯坏了"]
    strings = HEADER + row
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    cells = ["".join(f'<c r="{chr(65 + c)}{r + 1}" t="s"><v>{r * 5 + c}</v></c>' for c in range(5)) for r in range(2)]
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            "</Types>"),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="{rel}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}><sheetData>'
            + "".join(f'<row r="{r + 1}">{cells[r]}</row>' for r in range(2)) + "</sheetData></worksheet>"),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text.encode("utf-8"))
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
            out.write(f'<?xml version="1.0" encoding="UTF-8"?><sst {ns} count="10" uniqueCount="10">'.encode())
            chunk = b" " * (1024 * 1024)
            for _ in range(padding // len(chunk)):
                out.write(chunk)
            out.write("".join(f"<si><t>{t}</t></si>" for t in strings).encode("utf-8") + b"</sst>")
    return path


def test_an_xlsx_that_inflates_past_the_bound_is_refused(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'x.db'}"
    bomb = _inflating_xlsx(tmp_path / "bomb.xlsx", 200 * 1024 * 1024)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    res = run_cli("import", "hotline", str(bomb), "--channel", "12345", db_url=db_url)
    assert res.code == 2
    assert "过大" in res.err and "bomb.xlsx" in res.err
    assert _stored(db_url) == 0
    ok = _inflating_xlsx(tmp_path / "ok.xlsx", 1024 * 1024)
    res = run_cli("import", "hotline", str(ok), "--channel", "12345", db_url=db_url)
    assert res.code == 0, res.err
    assert "新增 1 条" in res.out
