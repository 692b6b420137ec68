"""Generic spider for paged JSON APIs (the back ends behind many 问政 / 留言板 pages).

The source config gives a URL template (``{page}``, ``{offset}``, ``{page_size}``), the dotted
path to the array of entries (``items_path``) and a mapping from post fields to dotted paths in
each entry (``fields``). Pages are fetched one after another from ``start_page`` until a page
has no entries or ``max_pages`` is reached. Each entry's JSON is kept as its evidence.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response

from crawlers.items import PageItem
from crawlers.spiders import WebSpider, clean_markup, decode_body, dotted, safe_url

_TAGLIKE = re.compile(r"<[a-zA-Z!/][^>]*>")
POST_FIELDS = ("external_id", "title", "text", "url", "published_at", "author", "likes", "dislikes", "reposts")


def page_url(cfg: dict[str, Any], page: int) -> str:
    start = int(cfg.get("start_page", 1))
    size = int(cfg.get("page_size", 20))
    return cfg["url"].format(page=page, offset=(page - start) * size, page_size=size)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class JsonApiSpider(WebSpider):
    name = "yuqing-jsonapi"

    def __init__(self, job: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(job, **kwargs)
        self.start_page = int(self.cfg.get("start_page", 1))
        self.max_pages = int(self.cfg.get("max_pages", 10))
        self.fields: dict[str, str] = dict(self.cfg.get("fields", {}))
        self.headers: dict[str, str] = dict(self.cfg.get("headers", {}))
        self.emitted = 0
        self.links_found = 0

    def _request(self, page: int) -> Request:
        return Request(page_url(self.cfg, page), headers=self.headers or None, callback=self.parse_page,
                       errback=self.list_failed, meta={"page": page}, dont_filter=True)

    async def start(self) -> AsyncIterator[Request]:
        yield self._request(self.start_page)

    def parse_page(self, response: Response) -> Iterator[PageItem | Request]:
        page = response.meta["page"]
        self.counts["list_pages"] += 1
        ctype = response.headers.get(b"Content-Type")
        text = decode_body(response.body, ctype.decode("latin-1") if ctype else None, self.cfg.get("encoding"))[0]
        if not text.strip():
            if page == self.start_page:
                self.list_errors.append((response.url, "接口返回空内容 (empty response)"))
            return
        try:
            data = json.loads(text)
        except ValueError as exc:
            self.list_errors.append((response.url, f"接口返回的不是有效 JSON (invalid JSON): {exc}"))
            return
        entries = dotted(data, self.cfg.get("items_path", ""))
        if entries is None or entries == []:
            if page == self.start_page and entries is None:
                self.list_errors.append(
                    (response.url, f"items_path {self.cfg.get('items_path', '')!r} 在返回的 JSON 中不存在 "
                                   "(items_path not found in the response)"))
            return
        if not isinstance(entries, list):
            self.list_errors.append((response.url, f"items_path 指向的不是数组 (not an array): {type(entries).__name__}"))
            return
        for entry in entries:
            if self.limit is not None and self.emitted >= self.limit:
                return
            item = self.to_item(entry, response.url)
            if item is not None:
                self.links_found += 1
                self.emitted += 1
                yield item
        if page < self.start_page + self.max_pages - 1:
            yield self._request(page + 1)

    def to_item(self, entry: Any, page_url_: str) -> PageItem | None:
        raw = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8")
        got = {name: dotted(entry, path) for name, path in self.fields.items()}
        url = None
        if got.get("url"):
            url = safe_url(page_url_, str(got["url"]))
        ext = _text(got.get("external_id"))
        if not url and ext and self.cfg.get("url_template"):
            url = safe_url(page_url_, self.cfg["url_template"].format(id=ext))
        if not ext:
            ext = url or "sha1:" + hashlib.sha1(raw).hexdigest()
        text = _text(got.get("text")) or ""
        if _TAGLIKE.search(text):  # HTML inside JSON: scripts and the like go before anything else
            text = clean_markup(text)
        title = _text(got.get("title"))
        if not text.strip() and not (title or "").strip():
            self.note(f"{page_url_}#{ext}", "条目没有标题也没有正文 (entry has neither title nor text)")
            return None
        return PageItem(
            external_id=ext,
            url=url or None,
            title=title,
            text=text or (title or ""),
            is_html=None,
            author=_text(got.get("author")),
            published_raw=got.get("published_at"),
            likes=got.get("likes") or 0,
            dislikes=got.get("dislikes") or 0,
            reposts=got.get("reposts") or 0,
            raw=raw,
            raw_content_type="application/json",
            extra={k: v for k, v in got.items() if k not in POST_FIELDS and v is not None} | {"api_url": page_url_},
        )

