"""File importers: 12345 / 领导信箱 / 问政 exports and any table of posts (CSV, XLSX, XLS).

An import is all-or-nothing: the whole file is read and checked first (required columns present,
every row readable: times parse, counts are numbers, the text is there) without storing anything;
a refused file names the missing column or the rows and their problem. Only then is it stored,
in batches of a few thousand rows, each batch one transaction, so memory stays flat on files of
millions of rows. Posts are unique per (source, external id) and existing ones are skipped, so a
run killed part-way and run again stores every distinct row exactly once.

Reading the files is in ``crawlers.tables`` (CSV, XLSX, XLS; cells), the column specs and the
whole-file check in ``crawlers.tablespec``; this module holds the formats (``hotline_spec``,
``posts_spec``) and the storing, and re-exports the public names of the other two.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from analysis.assess import Assessor
from crawlers.pipeline import MIN_ROWS_FOR_WORKERS, import_gc, prepared_batches, ramped
from crawlers.tables import (
    ImportFileError,
    RowError,
    cell_int,
    cell_text,
    cell_time,
    detect_encoding,
    open_rows,
)
from crawlers.tablespec import TableSpec, _records, validate
from ledger import audit
from ledger.db import PlannerStats, session_scope
from ledger.messages.intake import MessageResult, RawMessage, store_messages
from ledger.models.core import Message, Source
from ledger.posts.intake import RawPost, post_ids, store_posts
from ledger.posts.sources import add_source

DEFAULT_BATCH = 2_000
TRUE_WORDS = frozenset({"是", "1", "true", "yes", "y", "简单", "简易", "√", "✓", "x"})

# hotline standard columns: field → column name
HOTLINE_REQUIRED = {"id": "留言编号", "title": "留言主题", "time": "留言时间", "text": "留言详情"}
HOTLINE_OPTIONAL = {"author": "留言用户", "reply": "答复意见", "reply_time": "答复时间",
                    "likes": "点赞数", "dislikes": "反对数", "unit": "办理单位"}


SKIP = None  # what a spec's parse returns for a row that is not an error but holds nothing to store


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

    def identity(record: tuple[RawPost, RawMessage]) -> tuple[str, bytes]:
        message = record[1]
        return message.external_id, repr(message).encode("utf-8")

    return TableSpec(required=dict(HOTLINE_REQUIRED), optional=optional, parse=parse, identity=identity)


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
