"""One generic list → detail spider, configured per source by its TOML (see docs/SOURCES.md).

List pages (``list_urls``, then ``next_page`` links up to ``max_pages``) yield links to detail
pages (``item_links``); each detail page not already stored (by external id) is fetched once and
its title, body, time and author are read with the configured selectors. The detail page's raw
bytes travel with the item as evidence.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from parsel import Selector
from scrapy import Request
from scrapy.http import Response
from w3lib.url import canonicalize_url

from analysis.normalize import normalize_text
from crawlers.items import PageItem
from crawlers.spiders import (
    WebSpider,
    all_html,
    decode_checked,
    first_text,
    link_targets,
    safe_url,
    strip_active,
)

DEFAULT_TITLE = "h1"


class ListDetailSpider(WebSpider):
    name = "yuqing-listdetail"

    def __init__(self, job: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(job, **kwargs)
        self.max_pages = int(self.cfg.get("max_pages", 5))
        self.id_regex = re.compile(self.cfg["id_regex"]) if self.cfg.get("id_from") == "regex" else None
        self.stop_at_known = bool(self.cfg.get("stop_at_known", False))
        self.scheduled: set[str] = set()
        self.list_seen: set[str] = set(self.cfg["list_urls"])
        self.links_found = 0

    async def start(self) -> AsyncIterator[Request]:
        for url in self.cfg["list_urls"]:
            yield Request(url, callback=self.parse_list, errback=self.list_failed,
                          meta={"page": 1}, dont_filter=True)

    # -- helpers ---------------------------------------------------------------------------------
    def external_id(self, url: str) -> str:
        if self.id_regex is not None:
            m = self.id_regex.search(url)
            if m:
                return m.group(1) if m.groups() else m.group(0)
            self.note(url, "id_regex 没有匹配, 改用 URL 作为编号 (id_regex did not match; using the URL)")
        return canonicalize_url(url)

    def _decode(self, response: Response) -> str:
        ctype = response.headers.get(b"Content-Type")
        text, _enc, problem = decode_checked(response.body, ctype.decode("latin-1") if ctype else None,
                                             self.cfg.get("encoding"))
        if problem:
            self.note(response.url, problem)
        return text

    def _limit_reached(self) -> bool:
        return self.limit is not None and len(self.scheduled) >= self.limit

    # -- callbacks -------------------------------------------------------------------------------
    def parse_list(self, response: Response) -> Iterator[Request]:
        page = response.meta.get("page", 1)
        self.counts["list_pages"] += 1
        if not response.body.strip():
            self.list_errors.append((response.url, "列表页为空 (empty list page)"))
            return
        sel = Selector(text=self._decode(response), type="html", base_url=response.url)
        known_here = new_here = 0
        for href in link_targets(sel, self.cfg["item_links"]):
            url = safe_url(response.url, href)
            if url is None:
                self.counts["unsafe_links"] += 1
                continue
            self.links_found += 1
            if self.refused(url):
                continue
            eid = self.external_id(url)
            if eid in self.scheduled:
                continue
            if eid in self.known and not self.recheck:
                self.counts["skipped_known"] += 1
                known_here += 1
                continue
            if self._limit_reached():
                break
            self.scheduled.add(eid)
            new_here += 1
            # dont_filter: ids are de-duplicated above, and a redirect loop must run into
            # REDIRECT_MAX_TIMES (and be reported) instead of being dropped silently
            yield Request(url, callback=self.parse_detail, errback=self.detail_failed,
                          meta={"eid": eid, "list_url": response.url}, dont_filter=True)
        if self._limit_reached():
            return
        if self.stop_at_known and known_here and not new_here:
            return
        next_expr = self.cfg.get("next_page")
        if next_expr and page < self.max_pages:
            for href in link_targets(sel, next_expr):
                nxt = safe_url(response.url, href)
                if nxt and nxt not in self.list_seen and not self.refused(nxt):
                    self.list_seen.add(nxt)
                    yield Request(nxt, callback=self.parse_list, errback=self.list_failed,
                                  meta={"page": page + 1}, dont_filter=True)
                    break

    def parse_detail(self, response: Response) -> Iterator[PageItem]:
        self.counts["detail_pages"] += 1
        raw = response.body
        if not raw.strip():
            self.note(response.url, "空页面 (empty page)")
            return
        sel = strip_active(Selector(text=self._decode(response), type="html", base_url=response.url))
        body_html = all_html(sel, self.cfg["body"])
        text = normalize_text(body_html, is_html=True) if body_html else ""
        if not text.strip():
            self.note(response.url, "正文选择器没有匹配到内容 (body selector matched nothing)")
            return
        title = first_text(sel, self.cfg.get("title") or DEFAULT_TITLE)
        if not title and not self.cfg.get("title"):
            title = first_text(sel, "title")
        ctype = response.headers.get(b"Content-Type")
        yield PageItem(
            external_id=response.meta["eid"],
            url=response.url,
            title=title,
            text=text,
            is_html=False,
            author=first_text(sel, self.cfg.get("author")),
            published_raw=first_text(sel, self.cfg.get("published_at")),
            likes=first_text(sel, self.cfg.get("likes")) or 0,
            raw=raw,
            raw_content_type=ctype.decode("latin-1") if ctype else "text/html",
            extra={"list_url": response.meta.get("list_url")},
        )
