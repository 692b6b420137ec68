"""Table specs for the file importers: which columns an import needs, where the header row is,
and the all-or-nothing check of a whole file before anything is stored.

A ``TableSpec`` maps fields to column names and turns each row into records; ``validate`` reads
the whole file with it and refuses the file, naming the rows and their problem, if any row
cannot be read. The specs of the formats themselves (``hotline_spec``, ``posts_spec``) and the
storing are in ``crawlers.importers``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crawlers.tables import ImportFileError, RowError, _blank, cell_text, open_rows

MAX_ERRORS_SHOWN = 10
HEADER_SCAN_ROWS = 10  # title rows above the header are allowed in spreadsheets


@dataclass
class TableSpec:
    """Which columns an import needs (field → column name) and how to turn a row into records."""

    required: dict[str, str]
    optional: dict[str, str]
    parse: Callable[[dict[str, Any], int], Any]  # values by field, row number → record
    check: Callable[[dict[str, Any], int], Any] | None = None  # cheaper parse for the validation pass
    # a record's (external id, fingerprint of its content): one id on two different rows refuses the file
    identity: Callable[[Any], tuple[str, bytes] | None] | None = None


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

    if spec.identity is None:
        count = sum(1 for _ in _records(path, spec, rename=rename, encoding=encoding, on_error=note, checking=True))
    else:
        count = _check_ids(path, spec, rename=rename, encoding=encoding, note=note)
    if bad:
        more = f" (另有 {bad - len(errors)} 行)" if bad > len(errors) else ""
        raise ImportFileError(f"{bad} 行无法读取, 未导入任何内容:\n  " + "\n  ".join(errors) + more)
    return count


def _check_ids(path: Path, spec: TableSpec, *, rename: dict[str, str], encoding: str | None,
               note: Callable[[int, str], None]) -> int:
    """Count the rows like :func:`validate`, and note every id that appears on two rows with
    different content (naming both rows); identical repeated rows are allowed. Memory: one small
    integer pair per distinct id (hashed), not the rows."""
    numbered = replace(spec, parse=lambda m, n: (n, spec.parse(m, n)), check=None)
    first: dict[int, tuple[int, int]] = {}  # hash of id -> (first row number, content fingerprint)
    count = 0
    for number, record in _records(path, numbered, rename=rename, encoding=encoding, on_error=note):
        count += 1
        ident = spec.identity(record) if record is not None else None  # type: ignore[misc]
        if ident is None:
            continue
        ext, content = ident
        key = int.from_bytes(hashlib.blake2b(ext.encode("utf-8"), digest_size=8).digest(), "big")
        fp = int.from_bytes(hashlib.blake2b(content, digest_size=8).digest(), "big")
        seen = first.get(key)
        if seen is None:
            first[key] = (number, fp)
        elif seen[1] != fp:
            note(number, f"编号 {ext} 与第 {seen[0]} 行相同但内容不同 (one id on two different rows: "
                         f"rows {seen[0]} and {number})")
    return count
