"""CLI: file imports (``yuqing import hotline FILE`` for 12345 / 留言 exports, ``yuqing import posts FILE``)."""

from __future__ import annotations

from pathlib import Path

import typer

from config.cli.common import echo_err, fail, open_engine, settings
from ledger.types import utcnow

import_app = typer.Typer(help="导入文件 (import hotline exports and tables of posts).", no_args_is_help=True)


def _reply_clock(cfg, now):
    """``apply_reply_clock`` bound to the configured calendar and rules; a message imported when
    its reply was already overdue for longer than ``message_lookback_hours`` (escalation.toml) is
    marked as noted, so a historical import raises no overdue alert."""
    from datetime import timedelta
    from functools import partial

    from config.alerting import alert_context
    from config.clockconfig import load_calendar, load_clock_rules
    from ledger.clocks.replies import apply_reply_clock

    try:
        noted_before = now - timedelta(hours=alert_context(cfg).policy.message_lookback_hours)
        return partial(apply_reply_clock, calendar=load_calendar(cfg), rules=load_clock_rules(cfg),
                       noted_before=noted_before)
    except Exception as exc:  # noqa: BLE001 - a broken holidays.toml / clocks.toml
        fail(f"时限配置错误 (clock configuration error): {exc}")


def _run(paths: list[Path], spec_factory, *, source_of, kind: str, config_of, rename: dict[str, str],
         encoding: str | None, batch_size: int, with_clock: bool, workers: int | None = None) -> None:
    """Import ``paths`` in turn in this process, through one pipeline (one assessor, one set of
    workers, which prepare the next file's first rows while the last ones of a file are stored).

    Every file is checked before anything is stored: if one is refused, none is imported."""
    import config.alerting  # noqa: F401  (monitoring schemes checked on new posts; alert routing)
    from config.wiring import build_assessor
    from crawlers.importers import FileJob, ImportFileError, ensure_source, import_files, validate
    from crawlers.pipeline import auto_workers

    for path in paths:
        if not path.exists():
            fail(f"文件不存在 (no such file): {path}", code=2)
    if len(set(map(Path.resolve, paths))) != len(paths):
        fail("同一文件给了两次 (a file is given twice)", code=2)
    if batch_size < 1:
        fail("--batch-size 至少为 1", code=2)
    if workers is not None and workers < 0:
        fail("--workers 不能为负数", code=2)
    cfg = settings()
    now = utcnow()
    engine = open_engine(cfg)
    try:
        spec = spec_factory(now)
        reply_clock = _reply_clock(cfg, now) if with_clock else None
        # check every file before creating anything (a refused file leaves no trace)
        rows: dict[Path, int] = {}
        for path in paths:
            try:
                rows[path] = validate(path, spec, rename=rename, encoding=encoding)
            except ImportFileError as exc:
                more = f" ({len(paths)} 个文件均未导入)" if len(paths) > 1 else ""
                fail(f"导入被拒绝, 未保存任何内容 (import refused, nothing stored): {path.name}: {exc}{more}", code=2)
        assessor = build_assessor(cfg)
        n_workers = auto_workers(cfg.import_workers if workers is None else workers)

        def progress(rep) -> None:
            echo_err(f"  已处理 {rep.inserted + rep.unchanged + rep.updated} 条 (新增 {rep.inserted})")

        jobs = [FileJob(path, ensure_source(engine, name=source_of(path), kind=kind, config=config_of(path),
                                            actor="cli", now=now)[0], rows[path]) for path in paths]
        try:
            import_files(engine, jobs, spec, assessor=assessor, now=now, rename=rename, encoding=encoding,
                         batch_size=batch_size, reply_clock=reply_clock, actor="cli", on_batch=progress,
                         on_file=lambda report: typer.echo(report.summary()), workers=n_workers)
        except ImportFileError as exc:  # a file changed after it was checked
            fail(f"导入中止 (import stopped): {exc}", code=2)
    finally:
        engine.dispose()


@import_app.command("hotline")
def hotline_cmd(
    files: list[Path] = typer.Argument(..., help="12345 / 领导信箱 / 问政 导出文件 (.xlsx / .csv), 可给多个"),
    source: str | None = typer.Option(None, "--source", help="来源名称 (默认: 每个渠道一个来源)"),
    channel: str = typer.Option("网上留言", "--channel", help="渠道 (messages.toml channels): 12345热线 / 领导信箱 / 网上留言 / 问政 / …"),
    mapping: list[str] = typer.Option([], "--map", help="列名对应: 原列名=标准列名 (可重复), 如 来信时间=留言时间"),
    simple_col: str | None = typer.Option(None, "--simple-col", help="标记简单问题的列 (值为 是/1/简单 时按3个工作日计)"),
    encoding: str | None = typer.Option(None, "--encoding", help="CSV 编码 (默认自动识别 UTF-8 / GB18030)"),
    batch_size: int = typer.Option(2_000, "--batch-size", help="每个事务的行数"),
    workers: int | None = typer.Option(None, "--workers", help="预处理进程数 (默认: 与核数相同, 最多4; 0 = 不另开进程)"),
) -> None:
    """导入留言导出文件: 每行存为一条帖子和一条留言(含受理与答复时间、答复时限).

    需要的列: 留言编号, 留言主题, 留言时间, 留言详情; 可选: 留言用户, 答复意见, 答复时间, 点赞数, 反对数,
    办理单位。可一次给多个文件; 所有文件先校验, 有缺列或无法读取的行则拒绝导入且不保存任何内容; 重复导入不会重复保存。
    """
    from config.messageconfig import load_channels
    from crawlers.importers import ImportFileError, hotline_spec, parse_mapping

    try:
        channels = load_channels(settings())
    except ValueError as exc:
        fail(f"配置错误: {exc}")
    try:
        channel = channels.canonical(channel)
    except ValueError as exc:
        fail(str(exc), code=2)
    try:
        rename = parse_mapping(mapping)
    except ImportFileError as exc:
        fail(str(exc), code=2)
    _run(files, lambda now: hotline_spec(channel=channel, now=now, simple_col=simple_col),
         source_of=lambda _path: source or f"{channel}导入", kind="hotline",
         config_of=lambda _path: {"channel": channel},
         rename=rename, encoding=encoding, batch_size=batch_size, with_clock=True, workers=workers)


@import_app.command("posts")
def posts_cmd(
    files: list[Path] = typer.Argument(..., help="帖子表格 (.csv / .xlsx), 可给多个 (依次导入, 每个文件一个来源)"),
    text_col: str = typer.Option(..., "--text-col", help="正文列"),
    title_col: str | None = typer.Option(None, "--title-col", help="标题列"),
    time_col: str | None = typer.Option(None, "--time-col", help="发布时间列"),
    author_col: str | None = typer.Option(None, "--author-col", help="作者列"),
    id_col: str | None = typer.Option(None, "--id-col", help="编号列 (默认: 按行内容生成稳定编号)"),
    source: str | None = typer.Option(None, "--source", help="来源名称 (默认: 文件导入:文件名)"),
    encoding: str | None = typer.Option(None, "--encoding", help="CSV 编码 (默认自动识别 UTF-8 / GB18030)"),
    batch_size: int = typer.Option(2_000, "--batch-size", help="每个事务的行数"),
    workers: int | None = typer.Option(None, "--workers", help="预处理进程数 (默认: 与核数相同, 最多4; 0 = 不另开进程)"),
) -> None:
    """导入任意帖子表格: 规范化、研判、去重、聚类后保存。

    可一次给多个文件 (在同一进程中依次导入, 省去每个文件的启动开销)。所有文件先校验, 任一文件缺列或有无法读取的行
    则拒绝导入且不保存任何内容。未给 --id-col 时按所选列的内容生成编号,
    相同的行只保存一次, 重复导入(包括中断后重跑)不会重复保存。
    """
    from crawlers.importers import posts_spec

    _run(files, lambda now: posts_spec(text_col=text_col, now=now, title_col=title_col, time_col=time_col,
                                       author_col=author_col, id_col=id_col),
         source_of=lambda path: source or f"文件导入:{path.name}", kind="file",
         config_of=lambda path: {"file": path.name},
         rename={}, encoding=encoding, batch_size=batch_size, with_clock=False, workers=workers)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(import_app, name="import")
