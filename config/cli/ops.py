"""CLI area 'ops': backup and restore of the database, and the distributed crawl worker.

* ``yuqing backup --out FILE`` — a consistent snapshot: SQLite through the online backup API
  (``sqlite3.Connection.backup``, safe while the service writes), PostgreSQL through
  ``pg_dump -Fc`` (one repeatable-read snapshot);
* ``yuqing restore FILE [--force]`` — puts a snapshot back into the configured database; refuses a
  database that holds data unless ``--force``; migrates the restored data to the current schema;
* ``yuqing worker`` — one crawl worker sharing the Redis queue (see :mod:`crawlers.distributed`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote

import typer
from sqlalchemy.engine import make_url

from config.cli.common import fail, open_engine, settings
from ledger.types import utcnow

SKIP_TABLES = {"alembic_version"}


# -- helpers ---------------------------------------------------------------------------------------

def _sqlite_path(url: str) -> Path:
    db = make_url(url).database
    if not db or db == ":memory:":
        fail("内存数据库无法备份或恢复 (an in-memory SQLite database cannot be backed up)")
    return Path(db)


def _pg_env(url: str) -> tuple[dict[str, str], str | None]:
    """libpq environment for the URL (the password never appears on a command line) and the schema
    named by a ``search_path`` option, if any."""
    u = make_url(url)
    env = dict(os.environ)
    for var, value in (("PGHOST", u.host), ("PGPORT", u.port), ("PGUSER", u.username),
                       ("PGPASSWORD", u.password), ("PGDATABASE", u.database)):
        if value is not None:
            env[var] = str(value)
    schema = None
    options = u.query.get("options")
    if isinstance(options, tuple):
        options = " ".join(options)
    if options:
        for part in unquote(options).split():
            for prefix in ("-csearch_path=", "search_path="):
                if part.startswith(prefix):
                    schema = part[len(prefix):].split(",")[0].strip('"')
    return env, schema


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        fail(f"找不到 {name} (PostgreSQL 客户端工具未安装; install postgresql-client, e.g. "
             f"`apt-get install postgresql-client`)")
    return path


def _has_data(engine) -> list[str]:
    """Names of tables holding at least one row (alembic_version not counted)."""
    from sqlalchemy import MetaData, func, select

    meta = MetaData()
    meta.reflect(bind=engine)
    full = []
    with engine.connect() as conn:
        for name, table in meta.tables.items():
            if name in SKIP_TABLES:
                continue
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                full.append(name)
    return sorted(full)


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])[-600:]
        fail(f"{what}失败 (exit {proc.returncode}): {tail}")


# -- backup / restore ------------------------------------------------------------------------------

def backup_cmd(out: Annotated[Path, typer.Option("--out", help="备份文件 (snapshot file to write)")]) -> None:
    """备份数据库到一个文件 (write a consistent snapshot of the database to FILE)."""
    cfg = settings()
    url = cfg.effective_database_url
    dialect = make_url(url).get_backend_name()
    out = out.expanduser()
    if out.exists() and out.is_dir():
        fail(f"--out 是目录 (is a directory): {out}", code=2)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    part.unlink(missing_ok=True)
    # a snapshot holds every account's hash and all personal data: readable by its owner only
    os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    if dialect == "sqlite":
        src_path = _sqlite_path(url)
        if not src_path.exists():
            fail(f"数据库文件不存在 (database file not found): {src_path}")
        src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)
        dst = sqlite3.connect(part)
        try:
            src.backup(dst)  # page-by-page copy of one consistent state
        finally:
            dst.close()
            src.close()
    elif dialect == "postgresql":
        env, schema = _pg_env(url)
        cmd = [_tool("pg_dump"), "-Fc", "--no-owner", "--no-privileges", "-f", str(part)]
        if schema:
            cmd += ["--schema", schema]
        _run(cmd, env, "pg_dump ")
    else:
        fail(f"不支持备份此数据库 (backup not supported for {dialect})")
    os.chmod(part, 0o600)
    os.replace(part, out)
    typer.echo(f"已备份 (backed up) → {out} ({out.stat().st_size} 字节)")


def restore_cmd(
    file: Annotated[Path, typer.Argument(help="备份文件 (snapshot written by `yuqing backup`)")],
    force: bool = typer.Option(False, "--force", help="目标库已有数据时仍然覆盖 (overwrite a database holding data)"),
) -> None:
    """从备份文件恢复数据库 (restore FILE into the configured database; refuses a non-empty one without --force)."""
    from config import snapshot
    from ledger.db import make_engine
    from ledger.migrate import upgrade

    cfg = settings()
    url = cfg.effective_database_url
    dialect = make_url(url).get_backend_name()
    if not file.is_file():
        fail(f"备份文件不存在 (snapshot not found): {file}", code=2)
    if dialect == "sqlite":
        target = _sqlite_path(url)
        try:
            src = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
            ok = src.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            has_version = src.execute("SELECT count(*) FROM sqlite_master WHERE name='alembic_version'"
                                      ).fetchone()[0] == 1
        except sqlite3.DatabaseError as exc:
            fail(f"不是有效的 SQLite 备份 (not a SQLite snapshot): {file}: {exc}", code=2)
        if not ok or not has_version:
            src.close()
            fail(f"不是本系统的完整备份 (not a complete snapshot of this system): {file}", code=2)
        problems = snapshot.sqlite_problems(src)
    elif dialect == "postgresql":
        if file.read_bytes()[:5] != b"PGDMP":
            fail(f"不是 pg_dump -Fc 备份 (not a pg_dump custom-format snapshot): {file}", code=2)
        problems = snapshot.postgres_problems(file, _tool("pg_restore"), _pg_env(url)[0])
    else:
        fail(f"不支持恢复此数据库 (restore not supported for {dialect})")
    if problems:
        if dialect == "sqlite":
            src.close()
        shown = "；".join(problems[: snapshot.MAX_SHOWN]) + (f"；等共 {len(problems)} 项" if len(problems) > snapshot.MAX_SHOWN else "")
        fail(f"备份的结构与本系统的迁移不符, 拒绝恢复, 未做任何改动 (snapshot schema does not match the "
             f"migrations): {shown}", code=2)

    exists = dialect != "sqlite" or target.exists()
    if exists:
        engine = make_engine(url)
        try:
            full = _has_data(engine)
        finally:
            engine.dispose()
        if full and not force:
            if dialect == "sqlite":
                src.close()
            fail("目标数据库已有数据, 拒绝覆盖; 确认覆盖请加 --force (target holds data in "
                 f"{', '.join(full[:5])}{'…' if len(full) > 5 else ''}; use --force)", code=3)

    if dialect == "sqlite":
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # replaces every page of the target in one step
        finally:
            dst.close()
            src.close()
    else:
        env, schema = _pg_env(url)
        if schema:
            from sqlalchemy import create_engine
            from sqlalchemy.schema import DropSchema

            admin = create_engine(url)
            try:
                with admin.begin() as conn:  # pg_restore creates the schema again from the snapshot
                    conn.execute(DropSchema(schema, cascade=True, if_exists=True))
            finally:
                admin.dispose()
            cmd = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                   "-d", env.get("PGDATABASE", ""), str(file)]
        else:
            cmd = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                   "--exit-on-error", "-d", env.get("PGDATABASE", ""), str(file)]
        _run(cmd, env, "pg_restore ")
    upgrade(url)  # a snapshot from an older release is brought to the current schema
    typer.echo(f"已恢复 (restored) ← {file}")


# -- distributed crawl worker ------------------------------------------------------------------------

def worker_cmd(
    redis_url: str = typer.Option(None, "--redis-url", help="共享队列的 Redis URL (default: YUQING_REDIS_URL)"),
    prefix: str = typer.Option(None, "--prefix", help="Redis 键前缀 (default: YUQING_REDIS_PREFIX)"),
    name: str = typer.Option(None, "--name", help="工作进程名称 (worker name; default host:pid)"),
    max_idle: float = typer.Option(0, "--max-idle", help="空闲多少秒后退出, 0 = 一直运行 (exit after N idle seconds)"),
    delay: float = typer.Option(None, "--delay", help="同一网站两次请求间隔秒数 (download delay; default 0.5 with AutoThrottle)"),
    concurrency: int = typer.Option(None, "--concurrency", help="每个网站同时请求数 (requests per site at once; default 2)"),
    stats: bool = typer.Option(False, "--stats", help="只显示队列与各工作进程计数 (show queue counters and exit)"),
) -> None:
    """分布式抓取工作进程: 从 Redis 共享队列取请求, 抓到的帖子写入数据库 (distributed crawl worker)."""
    cfg = settings()
    redis_url = redis_url or cfg.redis_url
    prefix = prefix or cfg.redis_prefix
    if not redis_url:
        fail("需要 --redis-url 或 YUQING_REDIS_URL (a Redis URL is required)", code=2)
    import config.alerting  # noqa: F401  (monitoring schemes checked on new posts; alert routing)
    from crawlers.distributed import queue_stats, run_worker, worker_settings

    if stats:
        from redis.exceptions import RedisError

        try:
            typer.echo(json.dumps(queue_stats(redis_url, prefix), ensure_ascii=False))
        except RedisError as exc:
            fail(f"无法连接 Redis (cannot reach Redis): {exc}")
        return
    from redis.exceptions import RedisError

    from config.runtime import crawl_options
    from config.wiring import build_assessor
    from crawlers.distributed import redis_client

    client = redis_client(redis_url)
    try:
        client.ping()
    except RedisError as exc:
        fail(f"无法连接 Redis (cannot reach Redis) {redis_url.split('@')[-1]}: {exc}")
    finally:
        client.close()

    engine = open_engine(cfg, migrate=False)  # schema upgrades are explicit (`yuqing db upgrade`), never raced by N workers
    opts = crawl_options(cfg)
    scrapy_settings = worker_settings(redis_url, prefix, user_agent=opts.user_agent, timeout=opts.timeout,
                                      max_bytes=opts.max_bytes, proxy=opts.proxy)
    if delay is not None:
        if delay < 0:
            fail("--delay 不能为负数 (must not be negative)", code=2)
        scrapy_settings["DOWNLOAD_DELAY"] = scrapy_settings["AUTOTHROTTLE_START_DELAY"] = delay
    if concurrency is not None:
        if concurrency < 1:
            fail("--concurrency 至少为 1 (must be at least 1)", code=2)
        scrapy_settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = concurrency
    try:
        counts = run_worker(engine, build_assessor(cfg), redis_url=redis_url, prefix=prefix, clock=utcnow,
                            worker=name, max_idle=max_idle, down_after=opts.down_after,
                            settings=scrapy_settings)
    except ConnectionError as exc:
        fail(str(exc))
    typer.echo(json.dumps(counts, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("backup")(backup_cmd)
    app.command("restore")(restore_cmd)
    app.command("worker")(worker_cmd)
