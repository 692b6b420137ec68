"""File importers: 12345 / 领导信箱 / 问政 exports and any table of posts (CSV, XLSX, XLS).

An import is all-or-nothing: the whole file is read and checked first (required columns present,
every row readable: times parse, counts are numbers, the text is there) without storing anything;
a refused file names the missing column or the rows and their problem. Only then is it stored,
in batches of a few thousand rows, each batch one transaction, so memory stays flat on files of
millions of rows. Posts are unique per (source, external id) and existing ones are skipped, so a
run killed part-way and run again stores every distinct row exactly once.

Reading: CSV in UTF-8 (with or without BOM), UTF-16 with BOM or GB18030, detected; XLSX streamed
with openpyxl in read-only mode with cached formula values, merged cells filled from their
top-left cell, dates as date cells or Excel serial numbers; legacy XLS through python-calamine.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import math
import re
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from analysis.assess import Assessor
from crawlers.dates import parse_cn_datetime
from crawlers.pipeline import MIN_ROWS_FOR_WORKERS, import_gc, prepared_batches, ramped
from ledger import audit
from ledger.db import PlannerStats, session_scope
from ledger.messages.intake import MessageResult, RawMessage, store_messages
from ledger.models.core import Message, Source
from ledger.posts.intake import RawPost, post_ids, store_posts
from ledger.posts.sources import add_source

MAX_FIELD_CHARS = 16 * 1024 * 1024  # a cell larger than this makes the row unreadable
MAX_ERRORS_SHOWN = 10
HEADER_SCAN_ROWS = 10  # title rows above the header are allowed in spreadsheets
DEFAULT_BATCH = 2_000
TRUE_WORDS = frozenset({"是", "1", "true", "yes", "y", "简单", "简易", "√", "✓", "x"})

# hotline standard columns: field → column name
HOTLINE_REQUIRED = {"id": "留言编号", "title": "留言主题", "time": "留言时间", "text": "留言详情"}
HOTLINE_OPTIONAL = {"author": "留言用户", "reply": "答复意见", "reply_time": "答复时间",
                    "likes": "点赞数", "dislikes": "反对数", "unit": "办理单位"}


SKIP = None  # what a spec's parse returns for a row that is not an error but holds nothing to store


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


@contextmanager
def _xlsx_rows(path: Path) -> Iterator[Iterator[tuple[int, list[Any]]]]:
    import openpyxl

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
        return parse_cn_datetime(value if not isinstance(value, str) else value.strip(), now=now)
    except ValueError as exc:
        raise RowError(f"{column} 无法解析 ({exc})") from exc


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


# ---------------------------------------------------------------- table specs


@dataclass
class TableSpec:
    """Which columns an import needs (field → column name) and how to turn a row into records."""

    required: dict[str, str]
    optional: dict[str, str]
    parse: Callable[[dict[str, Any], int], Any]  # values by field, row number → record
    check: Callable[[dict[str, Any], int], Any] | None = None  # cheaper parse for the validation pass


def _locate(rows: Iterator[tuple[int, list[Any]]], spec: TableSpec, rename: dict[str, str]):
    """Find the header row (within the first rows) and the column index of each field."""
    first_header: list[str] | None = None
    for number, values in rows:
        names = [rename.get(cell_text(v).lstrip("\ufeff").strip(), cell_text(v).lstrip("\ufeff").strip())
                 for v in values]
        if not any(names):
            continue
        first_header = first_header or names
        if all(col in names for col in spec.required.values()):
            wanted = {**spec.required, **{k: v for k, v in spec.optional.items() if v in names}}
            return number, {f: names.index(col) for f, col in wanted.items()}, len(names)
        if number >= HEADER_SCAN_ROWS:
            break
    if first_header is None:
        raise ImportFileError("文件没有表头或没有内容 (no header row)")
    missing = [col for col in spec.required.values() if col not in first_header]
    shown = ", ".join(n for n in first_header if n)[:300]
    raise ImportFileError(f"缺少必需的列: {', '.join(missing)} (表头: {shown}); 可用 --map 原列名=标准列名 对应")


def _records(path: Path, spec: TableSpec, *, rename: dict[str, str], encoding: str | None,
             on_error: Callable[[int, str], None], checking: bool = False) -> Iterator[Any]:
    """Parse every data row; rows that cannot be read go to ``on_error`` (row number, problem)."""
    parse = spec.check if checking and spec.check is not None else spec.parse
    with open_rows(path, encoding=encoding) as rows:
        _header_row, index, width = _locate(rows, spec, rename)
        for number, values in rows:
            if all(_blank(v) for v in values):
                continue
            extra = [v for v in values[width:] if not _blank(v)]
            if extra:
                on_error(number, f"列数多于表头 ({len(values)} > {width}), 可能是未加引号的逗号")
                continue
            mapped = {f: (values[i] if i < len(values) else None) for f, i in index.items()}
            try:
                yield parse(mapped, number)
            except RowError as exc:
                on_error(number, str(exc))


def validate(path: Path, spec: TableSpec, *, rename: dict[str, str], encoding: str | None) -> int:
    """Read the whole file without storing; the number of data rows, or ImportFileError."""
    errors: list[str] = []
    bad = 0

    def note(number: int, problem: str) -> None:
        nonlocal bad
        bad += 1
        if len(errors) < MAX_ERRORS_SHOWN:
            errors.append(f"第 {number} 行: {problem}")

    count = sum(1 for _ in _records(path, spec, rename=rename, encoding=encoding, on_error=note, checking=True))
    if bad:
        more = f" (另有 {bad - len(errors)} 行)" if bad > len(errors) else ""
        raise ImportFileError(f"{bad} 行无法读取, 未导入任何内容:\n  " + "\n  ".join(errors) + more)
    return count


def _strict(number: int, problem: str) -> None:
    raise ImportFileError(f"第 {number} 行: {problem} (文件在校验后被修改?)")


def _text(mapped: dict[str, Any], key: str) -> str:
    return cell_text(mapped.get(key))


def hotline_spec(*, channel: str, now: datetime, simple_col: str | None = None) -> TableSpec:
    """Columns of a 12345 / 留言 export; each row → (RawPost, RawMessage)."""
    optional = dict(HOTLINE_OPTIONAL)
    if simple_col:
        optional["simple"] = simple_col

    def parse(m: dict[str, Any], number: int) -> tuple[RawPost, RawMessage]:
        ext = _text(m, "id")
        if not ext:
            raise RowError("留言编号 为空")
        received = cell_time(m.get("time"), now=now, column="留言时间")
        if received is None:
            raise RowError("留言时间 为空")
        title, text = _text(m, "title"), _text(m, "text")
        if not title and not text:
            raise RowError("留言主题 和 留言详情 都为空")
        replied = cell_time(m.get("reply_time"), now=now, column="答复时间")
        likes, dislikes = cell_int(m.get("likes"), column="点赞数"), cell_int(m.get("dislikes"), column="反对数")
        author = _text(m, "author") or None
        post = RawPost(external_id=ext, text=f"{title}\n{text}" if title else text, author=author,
                       published_at=received, likes=likes, dislikes=dislikes)
        message = RawMessage(
            external_id=ext, channel=channel, received_at=received, title=title or None, text=text,
            author=author, simple=_text(m, "simple").lower() in TRUE_WORDS, unit=_text(m, "unit") or None,
            reply_text=_text(m, "reply") or None, replied_at=replied, likes=likes, dislikes=dislikes,
        )
        return post, message

    return TableSpec(required=dict(HOTLINE_REQUIRED), optional=optional, parse=parse)


def posts_spec(*, text_col: str, now: datetime, title_col: str | None = None, time_col: str | None = None,
               author_col: str | None = None, id_col: str | None = None) -> TableSpec:
    """Columns of a generic table of posts; each row → RawPost. Without an id column the external
    id is a hash of the row's mapped values, so identical rows are one post."""
    required = {"text": text_col}
    for key, col in (("title", title_col), ("time", time_col), ("author", author_col), ("id", id_col)):
        if col:
            required[key] = col

    def check(m: dict[str, Any], number: int) -> bool:
        if not _text(m, "text"):
            return False  # an empty post (streams have them): skipped, counted
        if time_col:
            cell_time(m.get("time"), now=now, column=time_col)
        if id_col and not _text(m, "id"):
            raise RowError(f"{id_col} 为空")
        return True

    def parse(m: dict[str, Any], number: int) -> RawPost | None:
        if not check(m, number):
            return SKIP
        text = _text(m, "text")
        title = _text(m, "title") if title_col else ""
        when = _text(m, "time") if time_col else ""
        author = _text(m, "author") if author_col else ""
        published = cell_time(m.get("time"), now=now, column=time_col) if time_col else None
        if id_col:
            ext = _text(m, "id")
        else:
            key = f"{text}\x1f{title}\x1f{when}\x1f{author}"
            ext = "h:" + hashlib.sha1(key.encode("utf-8")).hexdigest()
        return RawPost(external_id=ext, text=text, title=title or None, author=author or None,
                       published_at=published)

    return TableSpec(required=required, optional={}, parse=parse, check=check)


# ---------------------------------------------------------------- storing


@dataclass
class ImportReport:
    rows: int = 0
    skipped: int = 0  # rows with nothing to store (an empty post text)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    messages: MessageResult = field(default_factory=MessageResult)
    seconds: float = 0.0
    source_id: int | None = None
    source_name: str = ""

    def summary(self) -> str:
        """One Chinese line for the user."""
        repeats = self.rows - self.skipped - self.inserted - self.unchanged - self.updated
        line = (f"导入完成: 读取 {self.rows} 行, 新增 {self.inserted} 条, 已存在 {self.unchanged} 条"
                f"{f', 更新 {self.updated} 条' if self.updated else ''}"
                f"{f', 文件内重复 {repeats} 行' if repeats > 0 else ''}"
                f"{f', 正文为空跳过 {self.skipped} 行' if self.skipped else ''}")
        if self.messages.inserted or self.messages.unchanged or self.messages.updated:
            line += (f"; 留言 新增 {self.messages.inserted} 条, 已存在 {self.messages.unchanged} 条"
                     f"{f', 补录答复 {self.messages.updated} 条' if self.messages.updated else ''}")
        return line + f"; 来源 {self.source_name} (#{self.source_id}); 用时 {self.seconds:.1f} 秒"


def ensure_source(engine: Engine, *, name: str, kind: str, config: dict[str, Any], actor: str,
                  now: datetime) -> tuple[int, str]:
    """The id of the source called ``name``, created (with ``kind``) on first use."""
    with session_scope(engine) as session:
        src = session.execute(select(Source).where(Source.name == name)).scalars().first()
        if src is None:
            src = add_source(session, name=name, kind=kind, url=None, config=config, actor=actor, now=now)
        return int(src.id), src.name  # type: ignore[arg-type]


def _batches(records: Iterator[Any], size: int | Iterator[int]) -> Iterator[list[Any]]:
    """Consecutive batches of ``records``: all of ``size`` rows, or of the sizes ``size`` yields."""
    sizes = itertools.repeat(size) if isinstance(size, int) else size
    want = next(sizes)
    batch: list[Any] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= want:
            yield batch
            batch = []
            want = next(sizes)
    if batch:
        yield batch


def _posts_of(batch: list[Any]) -> list[RawPost]:
    """The posts of a batch of records (hotline records are post/message pairs)."""
    return [r[0] if isinstance(r, tuple) else r for r in batch]


@dataclass
class FileJob:
    """One file of a multi-file import: where it is, the source it goes into and, when the caller
    has just checked it with :func:`validate`, the row count that gave (the check is not repeated)."""

    path: Path
    source_id: int
    validated_rows: int | None = None


def import_file(engine: Engine, path: Path, spec: TableSpec, *, source_id: int,
                validated_rows: int | None = None, **options: Any) -> ImportReport:
    """Validate the whole file, then store it in batches (one transaction each).

    Records are ``RawPost`` (posts) or ``(RawPost, RawMessage)`` pairs (hotline exports).
    Raises ImportFileError, with nothing stored, when the file is refused. ``validated_rows``:
    the caller has just run :func:`validate` (the row count it gave); the check is not repeated.
    ``options`` are those of :func:`import_files` (``assessor`` and ``now`` required); among them
    ``workers``: processes that prepare (normalise, assess, featurise) the next batches while
    one is stored (``crawlers.pipeline``), used for files of at least ``min_rows_for_workers``
    rows (starting a worker costs more than it saves on a small file).
    """
    (report,) = import_files(engine, [FileJob(Path(path), source_id, validated_rows)], spec, **options)
    return report


def import_files(
    engine: Engine,
    jobs: Sequence[FileJob],
    spec: TableSpec,
    *,
    assessor: Assessor,
    now: datetime,
    rename: dict[str, str] | None = None,
    encoding: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    reply_clock: Callable[[Message], Any] | None = None,
    actor: str = "import",
    on_batch: Callable[[ImportReport], None] | None = None,
    on_file: Callable[[ImportReport], None] | None = None,
    workers: int = 0,
    min_rows_for_workers: int = MIN_ROWS_FOR_WORKERS,
) -> list[ImportReport]:
    """Import ``jobs`` in turn, each file as :func:`import_file` does (validated first unless the
    job says it was, stored in batches of one transaction each, audited when done), through one
    pipeline: the workers are started once and prepare the next file's first batches while the
    last ones of a file are stored, so the cores stay busy across file boundaries. A batch never
    holds rows of two files. ``on_file(report)`` is called as each file is finished; the reports
    are returned in the order of ``jobs``. Every file is checked before anything is stored; a file
    that changes after its check and can no longer be read raises ImportFileError (naming it)
    after everything read before the bad row is stored, as a killed import would leave it."""
    rename = rename or {}
    reports = [ImportReport(source_id=job.source_id) for job in jobs]
    for job, report in zip(jobs, reports, strict=True):
        report.rows = job.validated_rows if job.validated_rows is not None else validate(
            job.path, spec, rename=rename, encoding=encoding)

    use = workers if sum(r.rows for r in reports) >= min_rows_for_workers else 0
    sizes = ramped(batch_size) if use else itertools.repeat(batch_size)  # with workers: short first batches

    def tagged() -> Iterator[tuple[int, list[Any]]]:
        for n, (job, report) in enumerate(zip(jobs, reports, strict=True)):
            records = _records(job.path, spec, rename=rename, encoding=encoding, on_error=_strict)

            def kept(records=records, report=report) -> Iterator[Any]:
                for rec in records:
                    if rec is SKIP:
                        report.skipped += 1
                    else:
                        yield rec

            try:
                for batch in _batches(kept(), sizes):
                    yield n, batch
            except ImportFileError as exc:  # the file changed after it was checked: say which
                raise ImportFileError(f"{job.path.name}: {exc}") from exc
            yield n, []  # the file's end: finished here, in order, before the next file's rows

    with import_gc():
        _store_batches(engine, jobs, reports, prepared_batches(tagged(), assessor, workers=use,
                                                               posts_of=lambda tb: _posts_of(tb[1])),
                       assessor=assessor, now=now, reply_clock=reply_clock, actor=actor,
                       on_batch=on_batch, on_file=on_file)
    return reports


def _store_batches(engine: Engine, jobs: Sequence[FileJob], reports: list[ImportReport], stream: Iterator, *,
                   assessor: Assessor, now: datetime, reply_clock, actor: str, on_batch, on_file) -> None:
    """Store the prepared batches of :func:`import_files` (an empty batch ends its file)."""
    stats = PlannerStats("post")  # PostgreSQL: the planner sees the table as it grows
    started = time.perf_counter()
    for (n, batch), prepared in stream:
        job, report = jobs[n], reports[n]
        if not batch:
            _finish_file(engine, job, report, actor=actor, now=now, seconds=time.perf_counter() - started)
            started = time.perf_counter()
            if on_file is not None:
                on_file(report)
            continue
        with session_scope(engine) as session:
            res = store_posts(session, source_id=job.source_id, items=_posts_of(batch), assessor=assessor,
                              now=now, prepared=prepared)
            report.inserted += res.inserted
            report.updated += res.updated
            report.unchanged += res.unchanged
            messages = [r[1] for r in batch if isinstance(r, tuple)]
            if messages:
                links = post_ids(session, source_id=job.source_id,
                                 external_ids=[m.external_id for m in messages])
                report.messages.merge(store_messages(session, source_id=job.source_id, items=messages,
                                                     post_ids=links, reply_clock=reply_clock, now=now))
        stats.grew(engine, res.inserted)
        if on_batch is not None:
            on_batch(report)


def _finish_file(engine: Engine, job: FileJob, report: ImportReport, *, actor: str, now: datetime,
                 seconds: float) -> None:
    """Record a file's import in the audit log and complete its report."""
    report.seconds = seconds
    with session_scope(engine) as session:
        src = session.get(Source, job.source_id)
        report.source_name = src.name if src else ""
        audit.record(session, actor=actor, action="import.file", entity="source", entity_id=job.source_id,
                     now=now, after={"file": job.path.name, "rows": report.rows, "inserted": report.inserted,
                                     "unchanged": report.unchanged, "updated": report.updated,
                                     "messages_inserted": report.messages.inserted})


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["来信时间=留言时间", ...]`` → {file column: standard column}."""
    out: dict[str, str] = {}
    for pair in pairs:
        src, sep, dst = pair.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise ImportFileError(f"--map 需要 原列名=标准列名 的形式: {pair!r}")
        out[src.strip()] = dst.strip()
    return out


__all__ = [
    "FileJob",
    "ImportFileError",
    "ImportReport",
    "TableSpec",
    "detect_encoding",
    "ensure_source",
    "hotline_spec",
    "import_file",
    "import_files",
    "open_rows",
    "parse_mapping",
    "posts_spec",
    "validate",
]
