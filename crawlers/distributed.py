"""Distributed crawling with scrapy-redis: one shared Redis queue, many crawl workers, PostgreSQL store.

Roles:

* **the scheduler** (the service, ``yuqing run`` with ``YUQING_REDIS_URL`` set) calls
  :func:`seed_source` for each list→detail (``html``) source when it is due: the source's list
  URLs go into the Redis list ``<prefix>:start_urls`` as JSON (``{"url", "meta": {"source_id",
  "round"}}``); nothing is crawled in the scheduler;
* **workers** (``yuqing worker``, any number, on any machine reaching Redis and the database) run
  :func:`run_worker`: one long-lived Scrapy process with scrapy-redis's scheduler, so every
  request (list pages, next pages, detail pages) goes through the shared priority queue
  ``<prefix>:requests``; any worker may fetch any request. Detail pages are de-duplicated across
  workers by scrapy-redis's fingerprint set, one set per seeding round
  (``<prefix>:dupefilter:<source>:<round>``, expiring after a day), and pages whose external id
  is already stored are not requested again. Every item is stored at once through
  :func:`ledger.posts.intake.store_posts` in its own transaction (``ON CONFLICT DO NOTHING``: a post
  can never be stored twice, even if two workers raced on it).

The source's config is read from the database (cached for a minute) by the worker that handles a
request, so a request in the queue carries only the source id. Per-source ``[politeness]`` and
``[scrapy]`` tables do not apply in a shared worker (one Scrapy settings object per process);
workers use the polite defaults of :mod:`crawlers.settings`. JSON APIs and feeds stay with the
scheduler's local crawls.

Queued requests are stored as JSON (:func:`dumps` / :func:`loads`), not with scrapy-redis's
default pickle, so write access to Redis does not mean code execution in the workers.

Counters per worker (list pages, detail pages, stored posts) are kept in the Redis hash
``<prefix>:stats`` and returned by :func:`run_worker`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from crawlers.settings import build_settings

log = logging.getLogger(__name__)

DISTRIBUTED_KINDS = frozenset({"html"})
ROUND_TTL_SECONDS = 24 * 3600
CONFIG_CACHE_SECONDS = 60.0


def keys(prefix: str) -> dict[str, str]:
    """The Redis keys used under ``prefix``."""
    return {
        "start_urls": f"{prefix}:start_urls",
        "requests": f"{prefix}:requests",
        "dupefilter": f"{prefix}:dupefilter",
        "stats": f"{prefix}:stats",
        "workers": f"{prefix}:workers",
        "notes": f"{prefix}:notes",  # + ":<source>:<round>": what that round skipped, for every worker
    }


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=10, socket_timeout=30)


# -- the scheduler's side ------------------------------------------------------------------------

def seed_source(engine: Engine, redis_url: str, prefix: str, source_id: int, now: datetime) -> int:
    """Queue the list URLs of ``source_id`` for the workers; returns how many of its list URLs
    are waiting in the queue.

    A source whose seeds are still waiting (no worker has taken them yet, e.g. every worker is
    down) is not queued again, so the queue cannot grow while nobody consumes it. Returns 0 (and
    queues nothing) for a kind the workers do not crawl; the caller crawls those locally.
    Raises ``ValueError`` for an invalid source config.
    """
    from crawlers.web import _source_config
    from ledger.db import session_scope
    from ledger.posts.sources import get_source

    with session_scope(engine) as session:
        source = get_source(session, source_id)
        session.expunge(source)
    if source.kind not in DISTRIBUTED_KINDS:
        return 0
    try:
        _, cfg = _source_config(source)
    except Exception as exc:  # CrawlError with the reason
        raise ValueError(str(exc)) from exc
    round_id = now.strftime("%Y%m%dT%H%M%S")
    payloads = [json.dumps({"url": url, "meta": {"source_id": source_id, "round": round_id, "page": 1}})
                for url in cfg["list_urls"]]
    client = redis_client(redis_url)
    start_key = keys(prefix)["start_urls"]
    try:
        waiting = 0
        for raw in client.lrange(start_key, 0, -1):
            try:
                waiting += json.loads(raw)["meta"]["source_id"] == source_id
            except (ValueError, KeyError, TypeError):
                continue
        if waiting:
            log.info("source %s: %s seeds still waiting for a worker; not queued again", source_id, waiting)
            return waiting
        client.rpush(start_key, *payloads)
    finally:
        client.close()
    return len(payloads)


# -- the workers' side ---------------------------------------------------------------------------

def _round_dupefilter_class():
    from scrapy_redis.dupefilter import RFPDupeFilter

    class RoundDupeFilter(RFPDupeFilter):
        """scrapy-redis's fingerprint set, one per source and seeding round, expiring after a day."""

        def request_seen(self, request) -> bool:
            sid, rnd = request.meta.get("source_id"), request.meta.get("round")
            key = f"{self.key}:{sid}:{rnd}" if sid is not None and rnd else self.key
            fp = self.request_fingerprint(request)
            with self.server.pipeline() as pipe:
                pipe.sadd(key, fp)
                pipe.expire(key, ROUND_TTL_SECONDS)
                added, _ = pipe.execute()
            return added == 0

        def log(self, request, spider) -> None:
            super().log(request, spider)
            if request.url in (request.meta.get("redirect_urls") or ()):
                redirect_loop = getattr(spider, "redirect_loop", None)
                if redirect_loop is not None:
                    redirect_loop(request)

    return RoundDupeFilter


# -- the queue's serializer: JSON, not pickle --------------------------------------------------
# scrapy-redis pickles queued requests by default, so anyone able to write to Redis could run code
# in every worker. This module is given as SCHEDULER_SERIALIZER instead: requests are stored as
# JSON (bytes as base64, dicts with non-string keys as pair lists) and a payload that is not such
# JSON is refused.

_BYTES, _PAIRS = "__b64__", "__pairs__"


def _enc(obj: Any) -> Any:
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, bytes | bytearray):
        return {_BYTES: base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, list | tuple):
        return [_enc(x) for x in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and _BYTES not in obj and _PAIRS not in obj:
            return {k: _enc(v) for k, v in obj.items()}
        return {_PAIRS: [[_enc(k), _enc(v)] for k, v in obj.items()]}
    raise TypeError(f"cannot queue a request carrying {type(obj).__name__}")


def _dec(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_dec(x) for x in obj]
    if isinstance(obj, dict):
        if set(obj) == {_BYTES}:
            return base64.b64decode(obj[_BYTES])
        if set(obj) == {_PAIRS}:
            return {_dec(k): _dec(v) for k, v in obj[_PAIRS]}
        return {k: _dec(v) for k, v in obj.items()}
    return obj


def dumps(request_dict: dict[str, Any]) -> bytes:
    """Serialise a request dict (``Request.to_dict``) for the Redis queue."""
    return json.dumps(_enc(request_dict), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> dict[str, Any]:
    """Read a request dict written by :func:`dumps`; raise ValueError for anything else."""
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a queued request (not JSON): {exc}") from exc
    if not isinstance(obj, dict) or "url" not in obj:
        raise ValueError("not a queued request")
    return _dec(obj)


def worker_settings(redis_url: str, prefix: str, *, user_agent: str | None = None, timeout: float | None = None,
                    max_bytes: int | None = None, proxy: str | None = None,
                    overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Scrapy settings of a worker: the polite defaults plus scrapy-redis's scheduler and queue."""
    k = keys(prefix)
    settings = build_settings({}, user_agent=user_agent, timeout=timeout, max_bytes=max_bytes, proxy=proxy)
    settings.update({
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "SCHEDULER_PERSIST": True,  # a worker stopping must never flush the shared queue
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_SERIALIZER": "crawlers.distributed",  # loads / dumps above: JSON, never pickle
        "SCHEDULER_QUEUE_KEY": k["requests"],
        "SCHEDULER_DUPEFILTER_KEY": k["dupefilter"],
        "DUPEFILTER_CLASS": "crawlers.distributed.RoundDupeFilter",
        "REDIS_URL": redis_url,
        "REDIS_START_URLS_KEY": k["start_urls"],
        "ITEM_PIPELINES": {"crawlers.distributed.StorePipeline": 900},
        "LOG_LEVEL": "WARNING",
    })
    settings.update(overrides or {})
    return settings


def __getattr__(name: str):  # the dupefilter class is built lazily (no Scrapy import at module import)
    if name == "RoundDupeFilter":
        cls = _round_dupefilter_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


class StorePipeline:
    """Normalise each detail page item and store it at once through ``ledger.posts.intake.store_posts``."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        from crawlers.items import PageItem
        from crawlers.pipelines import NormalizePipeline
        from ledger.db import session_scope
        from ledger.posts.intake import RawPost, store_posts

        spider = self.crawler.spider
        if not isinstance(item, PageItem):
            return item
        source_id = int(item.extra.pop("source_id"))
        cfg = spider.source_config(source_id)
        spider.now = spider.clock()
        spider.tz = cfg.get("timezone", "Asia/Shanghai")  # read by NormalizePipeline
        fields = NormalizePipeline(self.crawler).process_item(item)
        with session_scope(spider.engine) as session:
            result = store_posts(session, source_id=source_id, items=[RawPost(**fields)],
                                 assessor=spider.assessor, now=spider.now)
        spider.bump("stored", result.inserted)
        spider.bump("updated", result.updated)
        return item


def _spider_class():
    from parsel import Selector
    from scrapy import Request, signals
    from scrapy.exceptions import DontCloseSpider
    from scrapy_redis.spiders import RedisSpider

    from crawlers.spiders import link_targets, safe_url
    from crawlers.spiders.listdetail import ListDetailSpider

    class DistributedListDetailSpider(RedisSpider):
        """The list→detail spider fed from Redis; the source config comes from the database."""

        name = "yuqing-distributed"
        redis_batch_size = 1  # take one seed at a time, so idle workers share the seeds

        def __init__(self, *, engine: Engine, assessor: Any, clock: Callable[[], datetime], worker: str,
                     prefix: str, max_idle: float = 0, down_after: int = 3, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.engine, self.assessor, self.clock = engine, assessor, clock
            self.worker, self.prefix, self.max_idle = worker, prefix, float(max_idle)
            self.down_after = down_after
            self.now = clock()
            self.tz = "Asia/Shanghai"
            self.counts: dict[str, int] = {}
            self.last_activity = time.monotonic()
            self._configs: dict[int, tuple[float, dict[str, Any]]] = {}
            self._regexes: dict[int, Any] = {}

        @classmethod
        def from_crawler(cls, crawler, *args, **kwargs):
            spider = super().from_crawler(crawler, *args, **kwargs)
            crawler.signals.connect(spider.opened, signal=signals.spider_opened)
            crawler.signals.connect(spider.closed_signal, signal=signals.spider_closed)
            return spider

        # -- bookkeeping ---------------------------------------------------------------------
        def opened(self, spider=None) -> None:
            self.last_activity = time.monotonic()
            self.server.hset(keys(self.prefix)["workers"], self.worker, str(time.time()))

        def closed_signal(self, spider=None, reason=None) -> None:
            self.server.hdel(keys(self.prefix)["workers"], self.worker)

        def bump(self, what: str, n: int = 1) -> None:
            if not n:
                return
            self.counts[what] = self.counts.get(what, 0) + n
            self.server.hincrby(keys(self.prefix)["stats"], f"{self.worker}:{what}", n)

        def note(self, url: str, reason: str) -> None:
            self.logger.warning("%s: %s", url, reason)

        # -- what a round skipped ----------------------------------------------------------------
        # A round's detail pages are fetched by any worker, so what one of them skips (a page
        # that failed, a page without text) goes into a Redis list per source and round, shared
        # by all; the source's warning is rewritten from it each time, as a local crawl writes it
        # once at its end (crawlers.web.crawl_warning).
        def _notes_key(self, sid: int, round_: Any) -> str:
            return f"{keys(self.prefix)['notes']}:{sid}:{round_}"

        def round_warning(self, sid: int, round_: Any, *, add: tuple[str, str, bool] | None = None) -> str | None:
            """The round's warning; ``add``: first record one more skipped page (url, reason,
            whether its request failed), in the same round trip to Redis."""
            from crawlers.web import crawl_warning

            key = self._notes_key(sid, round_)
            pipe = self.server.pipeline()
            if add is not None:
                url, reason, failed = add
                pipe.rpush(key, json.dumps([url, reason], ensure_ascii=False))
                pipe.expire(key, ROUND_TTL_SECONDS)
                if failed:
                    pipe.hincrby(key + ":counts", "detail_failed", 1)
                    pipe.expire(key + ":counts", ROUND_TTL_SECONDS)
            pipe.lrange(key, 0, 2)
            pipe.llen(key)
            pipe.hget(key + ":counts", "detail_failed")
            first, total, n_failed = pipe.execute()[-3:]
            notes = [tuple(json.loads(raw)) for raw in first]
            return crawl_warning(notes, {"detail_failed": int(n_failed or 0)}, total=total)

        def skipped(self, sid: int, round_: Any, url: str, reason: str, *, failed: bool = False) -> None:
            self.note(url, reason)
            self._record_warning(sid, self.round_warning(sid, round_, add=(url, reason, failed)))

        def _record_warning(self, sid: int, warning: str | None) -> None:
            from ledger.db import session_scope
            from ledger.posts.sources import get_source, record_warning

            with session_scope(self.engine) as session:
                record_warning(session, source=get_source(session, sid), warning=warning)

        def spider_idle(self):
            """Take the next seed; close after ``max_idle`` seconds without any work (0 = never)."""
            if self.count_size(self.redis_key) > 0:
                self.last_activity = time.monotonic()
            self.schedule_next_requests()
            if self.max_idle > 0 and time.monotonic() - self.last_activity >= self.max_idle:
                return
            raise DontCloseSpider

        # -- source config -------------------------------------------------------------------
        def source_config(self, source_id: int) -> dict[str, Any]:
            from crawlers.web import _source_config
            from ledger.db import session_scope
            from ledger.posts.sources import get_source

            cached = self._configs.get(source_id)
            if cached and time.monotonic() - cached[0] < CONFIG_CACHE_SECONDS:
                return cached[1]
            with session_scope(self.engine) as session:
                source = get_source(session, source_id)
                session.expunge(source)
            _, cfg = _source_config(source)
            self._configs[source_id] = (time.monotonic(), cfg)
            return cfg

        def known_ids(self, source_id: int, eids: list[str]) -> set[str]:
            from ledger.db import session_scope
            from ledger.models.core import Post

            if not eids:
                return set()
            with session_scope(self.engine) as session:
                rows = session.execute(select(Post.external_id).where(Post.source_id == source_id,
                                                                      Post.external_id.in_(eids)))
                return {r[0] for r in rows}

        def _record(self, source_id: int, *, error: str | None, items: int = 0, round_: Any = None) -> None:
            from ledger.db import session_scope
            from ledger.posts.sources import get_source, record_failure, record_success

            # a list page of a round: what the round has skipped so far stays on the source (a new
            # round has skipped nothing yet, so the last round's warning goes)
            warning = self.round_warning(source_id, round_) if error is None else None
            with session_scope(self.engine) as session:
                src = get_source(session, source_id)
                if error is None:
                    record_success(session, source=src, items=items, now=self.clock(), warning=warning)
                else:
                    record_failure(session, source=src, error=error, now=self.clock(),
                                   down_after=self.down_after)

        def origin_policy(self, request):
            """Where the request's source may be crawled (crawlers.guard.OriginGuardMiddleware)."""
            from crawlers.guard import OriginPolicy

            sid = request.meta.get("source_id")
            if sid is None:
                return None
            return OriginPolicy.for_config(self.source_config(int(sid)))

        # -- requests ------------------------------------------------------------------------
        def make_request_from_data(self, data: bytes):
            try:
                payload = json.loads(data)
                meta = dict(payload["meta"])
                int(meta["source_id"])
                url = str(payload["url"])
            except (ValueError, KeyError, TypeError):
                self.logger.warning("ignoring malformed seed %r", data[:200])
                return []
            self.last_activity = time.monotonic()
            return Request(url, callback=self.parse_list, errback=self.list_failed, meta=meta, dont_filter=True)

        def list_failed(self, failure) -> None:
            from crawlers.spiders import describe_failure

            meta = failure.request.meta
            self.last_activity = time.monotonic()
            self._record(int(meta["source_id"]), error=f"列表页抓取失败 (list page failed): "
                                                       f"{failure.request.url}: {describe_failure(failure)}")

        def _detail_request_failed(self, meta: dict[str, Any], url: str, reason: str) -> None:
            self.last_activity = time.monotonic()
            self.bump("detail_failed")
            self.skipped(int(meta["source_id"]), meta.get("round"), url, reason, failed=True)

        def detail_failed(self, failure) -> None:
            from crawlers.spiders import describe_failure

            self._detail_request_failed(failure.request.meta, failure.request.url, describe_failure(failure))

        def redirect_loop(self, request) -> None:
            """A detail page whose redirects lead back to itself: the shared fingerprint set drops
            the repeated visit, so it is recorded here as the failed request that a local crawl
            (which follows the loop up to REDIRECT_MAX_TIMES) reports."""
            from crawlers.spiders import REDIRECT_LOOP

            meta = request.meta
            if "eid" in meta and meta.get("source_id") is not None:
                self._detail_request_failed(meta, meta["redirect_urls"][0], REDIRECT_LOOP)

        def parse_list(self, response) -> Iterator[Request]:
            self.last_activity = time.monotonic()
            self.bump("list_pages")
            meta = response.meta
            sid = int(meta["source_id"])
            cfg = self.source_config(sid)
            helper = self._helper(sid, cfg, round_=meta.get("round"))
            sel = Selector(text=helper._decode(response), type="html", base_url=response.url)
            found: dict[str, str] = {}
            for href in link_targets(sel, cfg["item_links"]):
                url = safe_url(response.url, href)
                if url is not None:
                    found.setdefault(helper.external_id(url), url)
            known = set() if cfg.get("recheck") else self.known_ids(sid, list(found))
            new = 0
            for eid, url in found.items():
                if eid in known:
                    continue
                new += 1
                # not dont_filter: the shared fingerprint set keeps two workers from fetching it twice
                yield Request(url, callback=self.parse_detail, errback=self.detail_failed, priority=1,
                              meta={"eid": eid, "list_url": response.url, "source_id": sid,
                                    "round": meta.get("round")})
            if meta.get("page", 1) == 1:
                self._record(sid, error=None, items=new, round_=meta.get("round"))
            if cfg.get("stop_at_known") and known and not new:
                return
            page = int(meta.get("page", 1))
            if cfg.get("next_page") and page < int(cfg.get("max_pages", 5)):
                for href in link_targets(sel, cfg["next_page"]):
                    nxt = safe_url(response.url, href)
                    if nxt:
                        yield Request(nxt, callback=self.parse_list, errback=self.list_failed,
                                      meta={"source_id": sid, "round": meta.get("round"), "page": page + 1})
                        break

        def parse_detail(self, response):
            self.last_activity = time.monotonic()
            self.bump("detail_pages")
            sid = int(response.meta["source_id"])
            helper = self._helper(sid, self.source_config(sid), round_=response.meta.get("round"))
            for item in helper.parse_detail(response):
                item.extra["source_id"] = sid
                yield item

        def _helper(self, sid: int, cfg: dict[str, Any], *, round_: Any) -> ListDetailSpider:
            """A configured single-source spider used only for its parsing methods; what it notes
            about a page counts as skipped in the round, as in a local crawl."""
            helper = ListDetailSpider(job={"config": cfg, "now": self.clock().isoformat(), "known_ids": []})
            helper.note = lambda url, reason: self.skipped(sid, round_, url, reason)  # type: ignore[method-assign]
            return helper

    return DistributedListDetailSpider


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_worker(engine: Engine, assessor: Any, *, redis_url: str, prefix: str, clock: Callable[[], datetime],
               worker: str | None = None, max_idle: float = 0, down_after: int = 3,
               settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one crawl worker until stopped (SIGINT / SIGTERM) or idle for ``max_idle`` seconds.

    Returns this worker's counters: list pages, detail pages, stored posts.
    """
    from scrapy.crawler import CrawlerProcess

    worker = worker or default_worker_name()
    client = redis_client(redis_url)
    try:
        client.ping()
    except Exception as exc:
        raise ConnectionError(f"无法连接 Redis (cannot reach Redis) {redis_url.split('@')[-1]}: {exc}") from exc
    finally:
        client.close()
    assessor.assess_batch(["预热: 加载分词与情感模型 (warm-up before taking work)"])
    process = CrawlerProcess(settings or worker_settings(redis_url, prefix))
    crawler = process.create_crawler(_spider_class())
    process.crawl(crawler, engine=engine, assessor=assessor, clock=clock, worker=worker, prefix=prefix,
                  max_idle=max_idle, down_after=down_after)
    process.start()
    spider = crawler.spider
    return {"worker": worker, **(spider.counts if spider is not None else {})}


def queue_stats(redis_url: str, prefix: str) -> dict[str, Any]:
    """Lengths of the shared queue and every worker's counters (for ``yuqing worker --stats`` and tests)."""
    k = keys(prefix)
    client = redis_client(redis_url)
    try:
        stats = {key.decode(): int(v) for key, v in client.hgetall(k["stats"]).items()}
        return {"start_urls": client.llen(k["start_urls"]), "requests": client.zcard(k["requests"]),
                "workers": sorted(w.decode() for w in client.hkeys(k["workers"])), "counts": stats}
    finally:
        client.close()
