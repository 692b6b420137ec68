"""Web sources (HTML list→detail pages and JSON APIs): config validation and one crawl.

:func:`validate_config` checks a source's TOML config (``yuqing source add --kind html|json``) and
raises :class:`ValueError` with a clear Chinese message naming the key.

:func:`fetch_web_source` runs the configured Scrapy spider in a child process (Twisted's reactor
cannot be restarted inside one process, so every crawl gets a fresh ``python -m crawlers.spiders``),
enforces a time limit, and returns the collected :class:`ledger.posts.intake.RawPost` items. Items whose
external id is already stored (``known_ids``) are not fetched again unless the source sets
``recheck = true``. A failing list page or API page fails the crawl with the reason; a failing
detail page is skipped and noted.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crawlers.base import CrawlError, CrawlOptions, Fetched
from crawlers.settings import build_settings, validate_overrides

DEFAULT_TIME_LIMIT = 600  # seconds for one crawl of one source, unless the source sets time_limit
MAX_TIME_LIMIT = 6 * 3600

COMMON_KEYS = {"url", "name", "interval", "cron", "encoding", "recheck", "time_limit", "timezone",
               "politeness", "scrapy", "description", "allowed_domains",
               "template", "params", "hotlist"}  # a source made from a template (crawlers.templates)
HTML_KEYS = COMMON_KEYS | {"list_urls", "item_links", "next_page", "max_pages", "title", "body",
                           "published_at", "author", "likes", "id_from", "id_regex", "stop_at_known"}
JSON_KEYS = COMMON_KEYS | {"start_page", "max_pages", "page_size", "items_path", "fields", "headers",
                           "url_template"}


@dataclass
class WebFetched(Fetched):
    """What a web crawl returns: the items plus notes about skipped pages and counters."""

    notes: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    requests: int = 0


def crawl_warning(notes: list[tuple[str, str]], counts: dict[str, int], *, shown: int = 3,
                  total: int | None = None) -> str | None:
    """A summary, for the source's health, of what a successful crawl noted about single pages and
    entries (detail pages that failed, pages without text, ids taken from the URL, …): the count
    and the first ``shown`` with their reasons; None when nothing was noted. A crawl that stores
    some posts while others fail must not look healthy: a site that breaks page by page shows
    here first. ``total``: how many notes there are when ``notes`` holds only the first ones."""
    n = len(notes) if total is None else total
    if not n:
        return None
    failed = counts.get("detail_failed", 0)
    head = f"本次抓取发现 {n} 个问题"
    if failed:
        head += f"（其中详情页请求失败 {failed} 个）"
    listed = "；".join(f"{url}：{reason}" for url, reason in notes[:shown])
    more = f"；等共 {n} 项" if n > shown else ""
    return f"{head}：{listed}{more}"


# -- validation ---------------------------------------------------------------------------------

def _http_url(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} 必须是 URL 字符串 (must be a URL)")
    if not value.strip().lower().startswith(("http://", "https://")):
        raise ValueError(f"{key} 必须以 http:// 或 https:// 开头: {value!r}")
    return value.strip()


def _int(cfg: dict, key: str, *, minimum: int = 0, default: int | None = None) -> None:
    if key not in cfg:
        return
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key} 必须是不小于 {minimum} 的整数 (must be an integer >= {minimum}), 实际为 {value!r}")


def _bool(cfg: dict, key: str) -> None:
    if key in cfg and not isinstance(cfg[key], bool):
        raise ValueError(f"{key} 必须是 true 或 false (must be a boolean), 实际为 {cfg[key]!r}")


def _common(cfg: dict) -> None:
    if "encoding" in cfg:
        from crawlers.spiders import canonical_encoding

        if not isinstance(cfg["encoding"], str) or canonical_encoding(cfg["encoding"]) is None:
            raise ValueError(f"encoding 不是已知的字符集 (unknown encoding): {cfg['encoding']!r}")
    if "timezone" in cfg:
        try:
            ZoneInfo(str(cfg["timezone"]))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone 不是有效的时区 (unknown time zone): {cfg['timezone']!r}") from exc
    _bool(cfg, "recheck")
    _int(cfg, "interval", minimum=1)
    _int(cfg, "time_limit", minimum=5)
    if "allowed_domains" in cfg:
        from crawlers.guard import validate_allowed_domains

        cfg["allowed_domains"] = validate_allowed_domains(cfg["allowed_domains"])
    validate_overrides(cfg)


def validate_config(kind: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise an ``html`` or ``json`` source config; raise ValueError naming the key."""
    from crawlers.spiders import check_selector

    if not isinstance(cfg, dict):
        raise ValueError("配置必须是 TOML 表 (config must be a table)")
    cfg = dict(cfg)
    if kind == "html":
        allowed = HTML_KEYS
    elif kind == "json":
        allowed = JSON_KEYS
    else:
        raise ValueError(f"来源类型 {kind!r} 不是网页来源 (not html or json)")
    unknown = sorted(set(cfg) - allowed)
    if unknown:
        raise ValueError(f"不认识的配置项 (unknown keys): {', '.join(unknown)}; 可用: {', '.join(sorted(allowed))}")
    _common(cfg)
    if kind == "html":
        urls = cfg.get("list_urls") or ([cfg["url"]] if cfg.get("url") else None)
        if isinstance(urls, str):
            urls = [urls]
        if not urls or not isinstance(urls, list):
            raise ValueError("缺少 list_urls (列表页 URL 列表) (list_urls is required)")
        cfg["list_urls"] = [_http_url(u, "list_urls") for u in urls]
        if "item_links" not in cfg:
            raise ValueError("缺少 item_links (详情链接的选择器) (item_links is required)")
        if "body" not in cfg:
            raise ValueError("缺少 body (正文的选择器) (body is required)")
        for key in ("item_links", "body", "next_page", "title", "published_at", "author", "likes"):
            if key in cfg:
                cfg[key] = check_selector(cfg[key], key)
        _int(cfg, "max_pages", minimum=1)
        _bool(cfg, "stop_at_known")
        id_from = cfg.get("id_from", "url")
        if id_from not in ("url", "regex"):
            raise ValueError(f"id_from 只能是 url 或 regex (must be url or regex): {id_from!r}")
        if id_from == "regex":
            if not isinstance(cfg.get("id_regex"), str) or not cfg["id_regex"]:
                raise ValueError("id_from = \"regex\" 时需要 id_regex (id_regex is required)")
            try:
                re.compile(cfg["id_regex"])
            except re.error as exc:
                raise ValueError(f"id_regex 不是有效的正则表达式 (invalid regex): {exc}") from exc
        return cfg
    # json
    url = _http_url(cfg.get("url"), "url")
    for key in ("start_page", "page_size"):
        _int(cfg, key, minimum=0)
    _int(cfg, "max_pages", minimum=1)
    try:
        from crawlers.spiders.jsonapi import page_url

        page_url(cfg | {"url": url}, int(cfg.get("start_page", 1)))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"url 模板只能使用 {{page}} {{offset}} {{page_size}} 占位符 (bad URL template): {exc}") from exc
    if "items_path" in cfg and not isinstance(cfg["items_path"], str):
        raise ValueError("items_path 必须是点分路径字符串 (must be a dotted path such as data.list)")
    fields = cfg.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise ValueError("缺少 [fields] 表: 帖子字段 → JSON 点分路径 (fields mapping is required)")
    for name, path in fields.items():
        if not isinstance(path, str) or not path:
            raise ValueError(f"fields.{name} 必须是点分路径字符串 (must be a dotted path)")
    if "text" not in fields and "title" not in fields:
        raise ValueError("fields 至少要有 text 或 title (map at least text or title)")
    headers = cfg.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ValueError("headers 必须是 名称 = \"值\" 的表 (headers must be a table of strings)")
    if "url_template" in cfg:
        tpl = cfg["url_template"]
        if not isinstance(tpl, str) or "{id}" not in tpl:
            raise ValueError("url_template 必须是包含 {id} 的字符串 (must contain {id})")
    cfg["url"] = url
    return cfg


# -- crawling -----------------------------------------------------------------------------------

def known_external_ids(engine, source_id: int) -> set[str]:
    """Every external id stored for the source (what an incremental crawl need not fetch again)."""
    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.models.core import Post

    with session_scope(engine) as session:
        rows = session.execute(select(Post.external_id).where(Post.source_id == source_id))
        return {r[0] for r in rows}


def _source_config(source) -> tuple[str, dict[str, Any]]:
    kind = source.kind
    cfg = dict(source.config or {})
    if kind == "html" and not cfg.get("list_urls") and source.url:
        cfg["list_urls"] = [source.url]
    if kind == "json" and not cfg.get("url") and source.url:
        cfg["url"] = source.url
    try:
        return kind, validate_config(kind, cfg)
    except ValueError as exc:
        raise CrawlError(f"来源配置错误 (invalid source config): {exc}") from exc


def run_spider_job(job: dict[str, Any], *, time_limit: float) -> dict[str, Any]:
    """Run one crawl job in a fresh Python process; kill it at ``time_limit`` seconds."""
    with tempfile.TemporaryDirectory(prefix="yuqing-crawl-") as tmp:
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "out.pickle"
        job_path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        proc = subprocess.Popen([sys.executable, "-m", "crawlers.spiders", str(job_path), str(out_path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=time_limit)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            raise CrawlError(f"抓取超过时间上限 {time_limit:.0f} 秒, 已终止 (crawl killed at its time limit)") from None
        if proc.returncode != 0 or not out_path.exists():
            tail = (err or b"").decode("utf-8", "replace").strip().splitlines()[-3:]
            raise CrawlError(f"抓取进程异常退出 (crawler process failed, exit {proc.returncode}): "
                             + " | ".join(tail)[-500:])
        with out_path.open("rb") as fh:
            return pickle.load(fh)  # written by our own child process just now


def fetch_web_source(source, options: CrawlOptions, now: datetime, *, known_ids: set[str] | None = None,
                     limit: int | None = None) -> WebFetched:
    """Crawl an ``html`` or ``json`` source once (in a child process) and return its items.

    ``known_ids`` are external ids already stored (not fetched again unless ``recheck``);
    ``limit`` stops after that many items (``yuqing source test``).
    """
    kind, cfg = _source_config(source)
    settings = build_settings(cfg, user_agent=options.user_agent, timeout=options.timeout,
                              max_bytes=options.max_bytes, proxy=options.proxy)
    time_limit = float(cfg.get("time_limit") or options.extra.get("time_limit") or DEFAULT_TIME_LIMIT)
    time_limit = min(time_limit, MAX_TIME_LIMIT)
    settings["CLOSESPIDER_TIMEOUT"] = max(3.0, time_limit - max(5.0, time_limit * 0.1))
    job = {
        "kind": kind,
        "config": cfg,
        "settings": settings,
        "now": now.isoformat(),
        "known_ids": sorted(known_ids or ()),
        "limit": limit,
    }
    result = run_spider_job(job, time_limit=time_limit)
    notes = [tuple(n) for n in result["notes"]]
    if result["list_errors"]:
        shown = "; ".join(f"{url}: {reason}" for url, reason in result["list_errors"][:3])
        raise CrawlError(f"列表页抓取失败 (list page failed): {shown}")
    from ledger.posts.intake import RawPost

    items = [RawPost(**fields) for fields in result["items"]]
    counts = result["counts"]
    if kind == "html" and result["links_found"] == 0:
        raise CrawlError("列表页上没有找到详情链接, 请检查 item_links 选择器 (no detail links found on the list pages)")
    attempted = counts.get("detail_pages", 0) + counts.get("detail_failed", 0)
    if kind == "html" and attempted and not items:
        shown = "; ".join(f"{url}: {reason}" for url, reason in notes[:3])
        raise CrawlError(f"详情页全部失败 (every detail page failed): {shown}")
    return WebFetched(items=items, notes=notes, counts=counts, requests=result.get("requests", 0),
                      problem=crawl_warning(notes, counts))
