"""``yuqing source test ID``: fetch a source without storing anything and show what would be extracted.

Staff use it to tune a source's selectors: it prints the first items (title, time, author, the
first 100 characters of the body, URL) and the pages that were skipped, with the reason.
"""

from __future__ import annotations

import typer

from config.cli.common import fail, iso_local, open_engine, print_json, settings
from ledger.types import utcnow


def run_source_test(source_id: int, *, limit: int, as_json: bool) -> None:
    from config.runtime import preview_source
    from crawlers.runner import CrawlError
    from ledger.posts.sources import SourceError

    if limit < 1:
        fail("--limit 必须大于 0 (must be positive)", code=2)
    cfg = settings()
    engine = open_engine(cfg)
    try:
        source, rows, total, notes = preview_source(engine, cfg, source_id, utcnow(), limit=limit)
    except SourceError as exc:
        fail(str(exc), code=2)
    except ValueError as exc:
        fail(str(exc), code=2)
    except CrawlError as exc:
        fail(f"试抓失败 (test fetch failed): {exc}")
    for row in rows:
        row["published_at"] = iso_local(row["published_at"])
    if as_json:
        print_json({"source_id": source_id, "items": rows, "total": total,
                    "skipped": [{"url": u, "reason": r} for u, r in notes]})
        return
    typer.echo(f"来源 {source_id} [{source.kind}] 试抓结果 (未入库 / nothing stored): 共 {total} 条, "
               f"显示前 {len(rows)} 条")
    for i, row in enumerate(rows, 1):
        typer.echo(f"\n[{i}] 标题: {row['title'] or '(无)'}")
        typer.echo(f"    时间: {row['published_at'] or '(未识别)'}")
        typer.echo(f"    作者: {row['author'] or '(无)'}")
        typer.echo(f"    正文: {row['body'] or '(空)'}")
        typer.echo(f"    链接: {row['url'] or '-'}")
    if notes:
        typer.echo(f"\n跳过或有问题的页面 (skipped pages / warnings): {len(notes)}")
        for url, reason in notes[:20]:
            typer.echo(f"  - {url}: {reason}")
