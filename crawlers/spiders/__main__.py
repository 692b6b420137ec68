"""Child-process entry: run one configured Scrapy crawl and write what it collected.

Usage (by :func:`crawlers.web.fetch_web_source`, never by hand): ``python -m crawlers.spiders JOB OUT``
where JOB is a JSON file (kind, config, Scrapy settings, fetch time, known ids, limit) and OUT the
pickle file written at the end: the RawPost items, notes about skipped pages, list-page errors
and counters. One process per crawl, because Twisted's reactor cannot be restarted.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path


def _exit_with_parent(parent_pid: int) -> None:
    """Stop at once when the process that started the crawl is gone (killed at its time limit)."""
    if os.getppid() != parent_pid:
        os._exit(3)


def run_job(job: dict, parent_pid: int | None = None) -> dict:
    from scrapy.crawler import CrawlerProcess

    from crawlers.spiders.jsonapi import JsonApiSpider
    from crawlers.spiders.listdetail import ListDetailSpider

    spider_cls = JsonApiSpider if job["kind"] == "json" else ListDetailSpider
    process = CrawlerProcess(job["settings"])
    crawler = process.create_crawler(spider_cls)
    process.crawl(crawler, job=job)
    if parent_pid is not None:
        from twisted.internet import task

        task.LoopingCall(_exit_with_parent, parent_pid).start(1.0, now=False)
    process.start()
    spider = crawler.spider
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return {
        "items": [dict(item) for item in spider.collected],
        "notes": spider.notes,
        "list_errors": spider.list_errors,
        "links_found": spider.links_found,
        "counts": dict(spider.counts),
        "finish_reason": stats.get("finish_reason"),
        "requests": stats.get("downloader/request_count", 0),
        "response_bytes": stats.get("downloader/response_bytes", 0),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write("usage: python -m crawlers.spiders JOB.json OUT.pickle\n")
        return 2
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    result = run_job(job, parent_pid=os.getppid())
    tmp = Path(argv[2] + ".part")
    with tmp.open("wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
