"""Distributed crawling: two real ``yuqing worker`` processes share one scrapy-redis queue on the local
Redis and store into one PostgreSQL schema, crawling the local test site; one of them is then
SIGKILLed mid-crawl and the next round still stores every page once; the service in distributed
mode only seeds the queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import select

from config.settings import get_settings
from crawlers.distributed import keys, queue_stats, seed_source
from ledger.db import make_engine, session_scope
from ledger.migrate import upgrade
from ledger.models import Post, Source
from ledger.posts.sources import add_source
from tests.sitesrv import Handler, SiteServer

pytestmark = pytest.mark.postgres

REDIS_URL = os.environ.get("YUQING_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PAGES, PER_PAGE = 4, 10


def _list_no(path: str) -> int:
    return int(path.rsplit("/", 1)[-1].split("-")[0])


class SlowItemHandler(Handler):
    """Detail pages answer after 50 ms (so two workers share a crawl), those of list pages 5..8
    after 300 ms (so a worker can be killed in the middle of that crawl)."""

    def route(self, path: str, query: dict) -> None:
        if path.startswith("/gen/item/"):
            time.sleep(0.3 if _list_no(path) > PAGES else 0.05)
        super().route(path, query)


@pytest.fixture
def site():
    srv = SiteServer()
    srv.RequestHandlerClass = SlowItemHandler
    srv.gen_pages, srv.gen_per_page = 2 * PAGES, PER_PAGE
    with srv:
        yield srv


@pytest.fixture
def prefix():
    name = f"yqtest:{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


def _source(engine, site, lists=range(1, PAGES + 1)) -> int:
    cfg = {"list_urls": [site.url(f"/gen/list{n}.html") for n in lists],
           "item_links": "ul.list a", "title": "h1.title", "body": "div.content",
           "published_at": ".time", "author": ".author"}
    with session_scope(engine) as s:
        return add_source(s, name=f"生成的留言板 {lists[0]}-{lists[-1]}", kind="html", url=None, config=cfg, interval_seconds=None,
                          cron=None, enabled=True, actor="test", now=NOW).id


def _worker(name: str, db_url: str, prefix: str, max_idle: float) -> subprocess.Popen:
    env = dict(os.environ, YUQING_DATABASE_URL=db_url, YUQING_REDIS_URL=REDIS_URL, YUQING_REDIS_PREFIX=prefix,
               YUQING_SENTIMENT_ENGINE="snownlp")
    env.pop("YUQING_CONFIG_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "config.cli.main", "worker", "--name", name,
                             "--max-idle", str(max_idle), "--delay", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_registered(prefix: str, names: set[str], procs, timeout: float = 60) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if {w.decode() for w in client.hkeys(keys(prefix)["workers"])} >= names:
                return
            for p in procs:
                if p.poll() is not None:
                    pytest.fail(f"worker exited early: {p.communicate()[1][-2000:]}")
            time.sleep(0.2)
    finally:
        client.close()
    pytest.fail("workers did not start")


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def _wait(condition, what: str, procs, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"worker exited early: {p.communicate()[1][-2000:]}")
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def _wait_stable(value, seconds: float, procs, timeout: float = 90) -> None:
    """Wait until ``value()`` has not changed for ``seconds``."""
    deadline = time.monotonic() + timeout
    last, since = value(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"worker exited early: {p.communicate()[1][-2000:]}")
        now = value()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
    pytest.fail("the count never settled")


def _count_posts(engine, sid: int) -> int:
    with session_scope(engine) as s:
        return len(list(s.execute(select(Post.id).where(Post.source_id == sid))))


def _warning(engine, source_id: int) -> str | None:
    with session_scope(engine) as s:
        return s.get(Source, source_id).last_warning


def _failures(engine, source_id: int) -> int:
    with session_scope(engine) as s:
        return s.get(Source, source_id).consecutive_failures or 0


def test_two_workers_share_one_queue_and_store_each_page_once(site, pg_url, prefix):
    upgrade(pg_url)
    engine = make_engine(pg_url)
    sid = _source(engine, site)
    total = PAGES * PER_PAGE
    workers = [_worker("w1", pg_url, prefix, 0), _worker("w2", pg_url, prefix, 0)]
    try:
        _wait_registered(prefix, {"w1", "w2"}, workers)
        assert seed_source(engine, REDIS_URL, prefix, sid, NOW) == PAGES  # what the service does

        def drained() -> bool:
            q = queue_stats(REDIS_URL, prefix)
            return q["start_urls"] == 0 and q["requests"] == 0

        _wait(lambda: _count_posts(engine, sid) == total and drained(), "the first round", workers)
        # a second round: the list pages again, but no stored detail page is requested again;
        # and a source whose list page fails gets the failure recorded on it
        with session_scope(engine) as s:
            broken = add_source(s, name="坏掉的列表", kind="html", url=None, now=NOW, actor="test",
                                config={"list_urls": [site.url("/broken/list.html")], "item_links": "a",
                                        "body": "div"}, interval_seconds=None, cron=None, enabled=True).id
        # and a source whose detail pages fail one by one gets what the round skipped on it,
        # whichever worker fetched them
        mixed_cfg = {"list_urls": [site.url("/mixed/list.html")], "item_links": "ul.items a", "title": "h1.title",
                     "body": "div.content", "published_at": ".time", "author": ".author"}
        with session_scope(engine) as s:
            mixed = add_source(s, name="部分页面出错", kind="html", url=None, now=NOW, actor="test",
                               config=mixed_cfg, interval_seconds=None, cron=None, enabled=True).id
        assert seed_source(engine, REDIS_URL, prefix, sid, NOW.replace(hour=3)) == PAGES
        assert seed_source(engine, REDIS_URL, prefix, broken, NOW.replace(hour=3)) == 1
        assert seed_source(engine, REDIS_URL, prefix, mixed, NOW.replace(hour=3)) == 1
        _wait(lambda: len(site.fetched("/gen/list")) == 2 * PAGES and drained() and _failures(engine, broken)
              and _count_posts(engine, mixed) == 3, "the second round", workers)
        _wait_stable(lambda: _warning(engine, mixed), seconds=3.0, procs=workers)
        time.sleep(1.0)
        shared = queue_stats(REDIS_URL, prefix)["counts"]
        warning = _warning(engine, mixed)
        # 404, 500 (after its retries), robots.txt and the redirect loop (its repeated visit
        # dropped by the shared fingerprint set): failed requests; the empty page: no text.
        # (The 2 MB page is within a worker's 10 MB limit and stored.)
        assert warning.startswith("本次抓取发现 5 个问题（其中详情页请求失败 4 个）："), warning
        assert warning.endswith("；等共 5 项") and warning.count(site.base) == 3
        with session_scope(engine) as s:
            assert s.get(Source, mixed).status == "ok"

        # a third source on slow pages: w2 is SIGKILLed in the middle of it. What it had taken
        # from the queue is lost for that round; the next round stores every page, once.
        slow = _source(engine, site, lists=range(PAGES + 1, 2 * PAGES + 1))
        assert seed_source(engine, REDIS_URL, prefix, slow, NOW.replace(hour=4)) == PAGES
        _wait(lambda: queue_stats(REDIS_URL, prefix)["counts"].get("w2:stored", 0) >= shared["w2:stored"] + 2,
              "w2 at work on the slow source", workers)
        workers[1].send_signal(signal.SIGKILL)
        workers[1].communicate(timeout=30)
        assert workers[1].returncode == -signal.SIGKILL
        _wait(drained, "the third round", workers[:1])
        # w1 finishes what it holds: up to 16 requests at 300 ms each, two at a time (about 2.4 s)
        _wait_stable(lambda: _count_posts(engine, slow), seconds=4.0, procs=workers[:1])
        lost = total - _count_posts(engine, slow)
        assert seed_source(engine, REDIS_URL, prefix, slow, NOW.replace(hour=5)) == PAGES
        # the mixed source's next round skips the same pages: its warning tells of that round only
        assert seed_source(engine, REDIS_URL, prefix, mixed, NOW.replace(hour=5)) == 1
        _wait(lambda: _count_posts(engine, slow) == total and drained()
              and len(site.fetched("/mixed/missing.html")) == 2, "the fourth round", workers[:1])
        _wait_stable(lambda: _warning(engine, mixed), seconds=3.0, procs=workers[:1])
        assert _warning(engine, mixed).startswith("本次抓取发现 5 个问题（其中详情页请求失败 4 个）："), \
            _warning(engine, mixed)
        time.sleep(1.0)
        workers[0].send_signal(signal.SIGTERM)  # graceful stop: the worker prints its counters
        w1 = _finish(workers[0])
    finally:
        for p in workers:
            if p.poll() is None:
                p.kill()
                p.communicate()

    with session_scope(engine) as s:
        posts = list(s.execute(select(Post.external_id, Post.title, Post.author).where(Post.source_id == sid)))
    assert len(posts) == total
    expected = {site.url(f"/gen/item/{n}-{k}.html") for n in range(1, PAGES + 1) for k in range(PER_PAGE)}
    assert {p.external_id for p in posts} == expected
    assert all(p.title.startswith("留言 ") and p.author.startswith("网友") for p in posts)
    # every detail page was downloaded exactly once, across both workers and both rounds
    fetched = Counter(p for p in site.fetched("/gen/item/") if _list_no(p) <= PAGES)
    assert len(fetched) == total and set(fetched.values()) == {1}
    # both workers took part; their counters add up
    assert shared["w1:detail_pages"] > 0 and shared["w2:detail_pages"] > 0, shared
    # (plus the mixed source's list page and its four pages that answered: three stored, one empty)
    assert shared["w1:detail_pages"] + shared["w2:detail_pages"] == total + 4
    assert shared["w1:stored"] + shared["w2:stored"] == total + 3
    assert shared["w1:list_pages"] + shared["w2:list_pages"] == 2 * PAGES + 1

    # the slow source after the kill: every page stored exactly once; a page fetched twice only
    # when it was lost with the killed worker. That worker held at most CONCURRENT_REQUESTS = 16
    # requests in its downloader plus the responses waiting in its scraper for the synchronous
    # store (a few: storing a page takes much less than the 150 ms between two downloads); it
    # never holds the queue.
    with session_scope(engine) as s:
        slow_ids = [r[0] for r in s.execute(select(Post.external_id).where(Post.source_id == slow))]
    assert sorted(slow_ids) == sorted({site.url(f"/gen/item/{n}-{k}.html")
                                       for n in range(PAGES + 1, 2 * PAGES + 1) for k in range(PER_PAGE)})
    again = Counter(p for p in site.fetched("/gen/item/") if _list_no(p) > PAGES)
    assert len(again) == total and sum(c - 1 for c in again.values()) <= lost
    assert lost <= 16 + 4, lost
    final = queue_stats(REDIS_URL, prefix)
    assert {k: w1.get(k.split(":")[1], 0) for k in final["counts"] if k.startswith("w1:")} == \
        {k: v for k, v in final["counts"].items() if k.startswith("w1:")}  # printed = shared counters
    with session_scope(engine) as s:
        bad, good = s.get(Source, broken), s.get(Source, sid)
        assert bad.status == "error" and "HTTP 500" in bad.last_error
        assert good.status == "ok" and good.last_success_at is not None
    assert final["workers"] == ["w2"]  # w1 unregistered when it stopped; the killed w2 could not
    assert final["counts"]["w1:stored"] + final["counts"]["w2:stored"] == 2 * total + 3
    engine.dispose()


def test_service_in_distributed_mode_seeds_instead_of_crawling(site, pg_url, prefix):
    from config.service import Service

    upgrade(pg_url)
    engine = make_engine(pg_url)
    sid = _source(engine, site)
    settings = get_settings(database_url=pg_url, redis_url=REDIS_URL, redis_prefix=prefix)
    service = Service(engine, settings)
    try:
        service._crawl_child(sid)
        service._crawl_child(sid)  # due again before any worker took the seeds: not queued twice
    finally:
        service.pool.shutdown(wait=True)
    client = redis.Redis.from_url(REDIS_URL)
    seeds = [json.loads(x) for x in client.lrange(keys(prefix)["start_urls"], 0, -1)]
    client.close()
    assert [s["url"] for s in seeds] == [site.url(f"/gen/list{n}.html") for n in range(1, PAGES + 1)]
    assert all(s["meta"]["source_id"] == sid for s in seeds)
    assert site.fetched("/gen/") == []  # nothing crawled by the scheduler itself
    with session_scope(engine) as s:
        assert s.execute(select(Post.id)).first() is None
    engine.dispose()


def test_worker_without_redis_fails_clearly(tmp_path):
    from tests.cli import run_cli

    res = run_cli("worker", "--redis-url", "redis://127.0.0.1:1/0", db_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert res.code != 0
    assert "Redis" in res.err and "Traceback" not in res.err


def test_queued_requests_are_json_and_pickles_are_refused():
    import pickle

    from scrapy import Request
    from scrapy.utils.request import request_from_dict

    from crawlers.distributed import dumps, loads, worker_settings

    class Owner:
        def parse_detail(self, response):
            return None

        def detail_failed(self, failure):
            return None

    owner = Owner()
    req = Request("http://127.0.0.1/gen/item/1-2.html", callback=owner.parse_detail, errback=owner.detail_failed,
                  meta={"eid": "1-2", "source_id": 7, "round": "20260302T020000", "redirect_urls": ["http://a/"]},
                  headers={"Referer": "http://127.0.0.1/gen/list1.html"}, body=b"\x00\xff", priority=1)
    data = dumps(req.to_dict(spider=owner))
    assert json.loads(data)["url"] == req.url  # plain JSON in Redis
    back = request_from_dict(loads(data), spider=owner)
    assert (back.url, back.meta, back.body, back.priority) == (req.url, req.meta, req.body, 1)
    assert back.headers.get("Referer") == b"http://127.0.0.1/gen/list1.html"
    assert back.callback == owner.parse_detail and back.errback == owner.detail_failed
    with pytest.raises(ValueError):
        loads(pickle.dumps({"url": "http://x/"}))
    assert worker_settings(REDIS_URL, "p")["SCHEDULER_SERIALIZER"] == "crawlers.distributed"
