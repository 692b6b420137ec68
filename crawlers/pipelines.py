"""Scrapy item pipelines: turn spider items into RawPost fields and collect them for the parent.

:class:`NormalizePipeline` reads the publication time with :func:`crawlers.dates.parse_cn_datetime`
relative to the crawl's fetch time, cleans counts and names, and builds a :class:`CollectedPost`
(a dict of :class:`ledger.posts.intake.RawPost`'s fields; the parent process builds the RawPost, so the
crawl process need not import the ledger). :class:`CollectPipeline` keeps them on the spider
(``spider.collected``); the child-process runner writes them out when the crawl ends.
"""

from __future__ import annotations

import re
from typing import Any

from crawlers.dates import parse_cn_datetime
from crawlers.items import PageItem

# "来源：某某", "作者: 某某" -> "某某"
_LABEL = re.compile(r"^\s*(?:来源|作者|发布人|发布者|留言人|提问人|发帖人|信息来源|编辑|责任编辑)\s*[:：]\s*")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_UNITS = {"万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000, "k": 1000, "K": 1000}


def to_count(value: Any) -> int:
    """A like / repost count as sites write it (``12``, ``"1.2万"``, ``"3k"``, ``None``) as int."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return max(0, int(value))
    text = str(value).strip().replace(",", "")
    m = _DIGITS.search(text)
    if not m:
        return 0
    number = float(m.group())
    rest = text[m.end():m.end() + 1]
    return max(0, int(number * _UNITS.get(rest, 1)))


class CollectedPost(dict):
    """Keyword arguments of :class:`ledger.posts.intake.RawPost` for one collected item."""


class _SpiderBound:
    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)


class NormalizePipeline(_SpiderBound):
    """PageItem -> CollectedPost (dates parsed in the source's time zone at the fetch time)."""

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if not isinstance(item, PageItem):
            return item
        spider = self.crawler.spider
        published = None
        if item.published_raw not in (None, ""):
            try:
                published = parse_cn_datetime(item.published_raw, now=spider.now, tz=spider.tz)
            except ValueError as exc:
                spider.note(item.url or item.external_id, f"发布时间无法识别 (unparsed date): {exc}")
        author = _LABEL.sub("", re.sub(r"\s+", " ", item.author)).strip() if item.author else None
        title = item.title.strip() if item.title else None
        return CollectedPost(
            external_id=str(item.external_id)[:512],
            text=item.text or "",
            title=title or None,
            url=item.url,
            author=author or None,
            published_at=published,
            likes=to_count(item.likes),
            dislikes=to_count(item.dislikes),
            reposts=to_count(item.reposts),
            is_html=item.is_html,
            raw=item.raw,
            raw_content_type=item.raw_content_type,
            extra=item.extra,
        )


class CollectPipeline(_SpiderBound):
    """Keep every collected post on the spider for the runner to hand back."""

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, CollectedPost):
            self.crawler.spider.collected.append(item)
        return item
