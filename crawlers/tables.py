"""Reading tables for the file importers: CSV, XLSX and XLS files as numbered rows of cells.

CSV in UTF-8 (with or without BOM), UTF-16 with BOM or GB18030, detected, each line decoded on
its own so that a wrongly encoded line is named exactly; XLSX streamed with openpyxl in
read-only mode with cached formula values, merged cells filled from their top-left cell; legacy
XLS through python-calamine. Cells become text, times (Chinese formats, Excel serial numbers) and
counts here, with a ``RowError`` naming the column when one cannot be read. No database here;
``crawlers.importers`` stores what is read.
"""

from __future__ import annotations

import codecs
import csv
import math
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from crawlers.dates import parse_cn_datetime

MAX_FIELD_CHARS = 16 * 1024 * 1024  # a cell larger than this makes the row unreadable
# An XLSX is a zip: what it inflates to is bounded before openpyxl reads it. The worksheets are
# streamed, but the shared strings (every distinct text cell) are held in memory whole.
MAX_XLSX_INFLATED = 1024**3  # all members together
MAX_XLSX_SHARED_STRINGS = 96 * 1024**2  # xl/sharedStrings.xml
# Times in an import must lie in this range: an earlier one is a typo or a placeholder
# (1900-01-01 is Excel's zero), a later one a typo or a wrong column.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


class ImportFileError(ValueError):
    """A file refused before anything was stored (message in Chinese for the user)."""


class RowError(ValueError):
    """One row that cannot be read."""


# ---------------------------------------------------------------- reading tables


def detect_encoding(head: bytes) -> str:
    """The encoding of a CSV from its first bytes: UTF-8 (BOM or not), UTF-16 (BOM) or GB18030."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for enc in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(enc)().decode(head, final=False)
            return enc
        except UnicodeDecodeError:
            continue
    raise ImportFileError("无法识别文件编码 (not UTF-8 / GB18030 text); 可用 --encoding 指定")


def _file_kind(path: Path) -> str:
    with path.open("rb") as fh:
        magic = fh.read(8)
    if not magic:
        raise ImportFileError(f"文件为空: {path.name}")
    if magic.startswith(b"PK\x03\x04"):
        return "xlsx"
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return "csv"


@contextmanager
def open_rows(path: Path, *, encoding: str | None = None) -> Iterator[Iterator[tuple[int, list[Any]]]]:
    """Rows of the first sheet / the CSV as ``(row number, values)``; row 1 is the first line."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"文件不存在: {path}")
    kind = _file_kind(path)
    if kind == "xlsx":
        with _xlsx_rows(path) as rows:
            yield rows
    elif kind == "xls":
        yield _xls_rows(path)
    else:
        with _csv_rows(path, encoding) as rows:
            yield rows


@contextmanager
def _csv_rows(path: Path, encoding: str | None) -> Iterator[Iterator[tuple[int, list[Any]]]]:
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    enc = encoding or detect_encoding(head)
    csv.field_size_limit(MAX_FIELD_CHARS)
    first_line = head.split(b"\n", 1)[0]
    delimiter = "\t" if b"\t" in first_line and b"," not in first_line else ","
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise ImportFileError(f"未知编码: {enc}") from exc
    raw = path.open("rb")
    physical = 0

    def lines() -> Iterator[str]:
        """Lines decoded one by one, so a wrongly encoded line is named exactly."""
        nonlocal physical
        if enc.startswith("utf-16"):  # two-byte units: let the codec split the lines
            text = codecs.getreader(enc)(raw, errors="strict")
            while True:
                try:
                    line = text.readline()
                except UnicodeDecodeError as exc:
                    raise ImportFileError(f"第 {physical + 1} 行: 不是 {enc} 编码的文本: {exc.reason}") from exc
                if not line:
                    return
                physical += 1
                yield line
        for data in raw:
            physical += 1
            try:
                yield data.decode(enc)
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    f"第 {physical} 行: 不是 {enc} 编码的文本 (第 {exc.start + 1} 字节); 请用 --encoding 指定编码"
                ) from exc

    def rows() -> Iterator[tuple[int, list[Any]]]:
        reader = csv.reader(lines(), delimiter=delimiter)
        number = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFileError(f"第 {number + 1} 行无法读取: {exc}") from exc
            number += 1
            yield number, row

    try:
        yield rows()
    finally:
        raw.close()


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+):([A-Z]+[0-9]+)"')


def _merged_ranges(path: Path, member: str) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of every merged range, scanned from the sheet XML."""
    from openpyxl.utils.cell import range_boundaries

    out = []
    with zipfile.ZipFile(path) as zf, zf.open(member.lstrip("/")) as fh:
        tail = b""
        while chunk := fh.read(1 << 20):
            data = tail + chunk
            last_end = 0
            for m in _MERGE.finditer(data):
                out.append(range_boundaries(f"{m.group(1).decode()}:{m.group(2).decode()}"))
                last_end = m.end()
            tail = data[max(last_end, len(data) - 200):]
    return sorted(set(out), key=lambda r: r[1])


def _check_inflated_size(path: Path, *, total_limit: int | None = None,
                         shared_limit: int | None = None) -> None:
    """Refuse an XLSX whose members inflate past the bounds (counted while inflating, so a
    member that lies about its size in the zip directory is caught too)."""
    total_limit = MAX_XLSX_INFLATED if total_limit is None else total_limit
    shared_limit = MAX_XLSX_SHARED_STRINGS if shared_limit is None else shared_limit
    mb = 1024 * 1024
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            declared = sum(i.file_size for i in infos)
            if declared > total_limit:
                raise ImportFileError(f"Excel 文件解压后过大 ({declared // mb} MB > {total_limit // mb} MB), "
                                      f"拒绝读取: {path.name} (xlsx inflates past the limit)")
            total = 0
            for info in infos:
                limit = shared_limit if info.filename.lower().endswith("sharedstrings.xml") else total_limit
                size = 0
                with zf.open(info) as fh:
                    while chunk := fh.read(1024 * 1024):
                        size += len(chunk)
                        total += len(chunk)
                        if size > limit or total > total_limit:
                            what = "共享字符串表" if limit == shared_limit else "解压后的内容"
                            raise ImportFileError(
                                f"Excel 文件{what}过大 (超过 {min(limit, total_limit) // mb} MB), 拒绝读取: "
                                f"{path.name} (xlsx inflates past the limit)")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise ImportFileError(f"无法读取 Excel 文件 {path.name}: {exc.__class__.__name__}: {exc}") from exc


@contextmanager
def _xlsx_rows(path: Path) -> Iterator[Iterator[tuple[int, list[Any]]]]:
    import openpyxl

    _check_inflated_size(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError(f"无法读取 Excel 文件 {path.name}: {exc.__class__.__name__}: {exc}") from exc
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # exporters often write a wrong <dimension>: read every row
        merges = _merged_ranges(path, ws._worksheet_path)

        def rows() -> Iterator[tuple[int, list[Any]]]:
            pending = list(merges)
            active: list[tuple[int, int, int, int, Any]] = []
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
                row = list(values)
                while pending and pending[0][1] == number:
                    c1, r1, c2, r2 = pending.pop(0)
                    active.append((c1, r1, c2, r2, row[c1 - 1] if c1 - 1 < len(row) else None))
                if active:
                    for c1, _r1, c2, r2, value in active:
                        if len(row) < c2:
                            row.extend([None] * (c2 - len(row)))
                        for c in range(c1, c2 + 1):
                            row[c - 1] = value
                    active = [a for a in active if a[3] > number]
                yield number, row

        yield rows()
    finally:
        wb.close()


def _xls_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    from python_calamine import CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        data = sheet.to_python(skip_empty_area=False)
    except Exception as exc:
        raise ImportFileError(f"无法读取 Excel 文件 {path.name}: {exc.__class__.__name__}: {exc}") from exc
    for number, values in enumerate(data, start=1):
        yield number, [None if v == "" else v for v in values]


# ---------------------------------------------------------------- cells


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def cell_text(value: Any) -> str:
    """A cell as text: integral numbers without ``.0``, dates in ISO form, no control characters."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    text = str(value).strip()
    return text if text.isprintable() else _CONTROL.sub("", text).strip()


def cell_time(value: Any, *, now: datetime, column: str) -> datetime | None:
    if _blank(value):
        return None
    try:
        when = parse_cn_datetime(value if not isinstance(value, str) else value.strip(), now=now)
    except ValueError as exc:
        raise RowError(f"{column} 无法解析 ({exc})") from exc
    if when is not None and not EARLIEST_TIME <= when <= now + FUTURE_SLACK:
        shown = cell_text(value)[:30]
        raise RowError(f"{column} 超出合理范围 ({shown!r}: 须在 {EARLIEST_TIME:%Y-%m-%d} 与导入时之后一天之间) "
                       f"(time out of range)")
    return when


def cell_int(value: Any, *, column: str) -> int:
    if _blank(value):
        return 0
    try:
        number = float(str(value).strip().replace(",", "")) if not isinstance(value, int | float) else value
    except ValueError:
        raise RowError(f"{column} 不是数字: {cell_text(value)[:30]!r}") from None
    if math.isnan(number) or number < 0 or number > 2**62:
        raise RowError(f"{column} 不是有效的计数: {value!r}")
    return int(number)
