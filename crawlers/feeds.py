"""RSS / Atom / RSSHub feeds: fetched over HTTP with timeouts and conditional GET, parsed by feedparser."""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser
import httpx

from crawlers.guard import OriginPolicy
from ledger.posts.intake import RawPost


class FeedError(Exception):
    """The feed could not be fetched or parsed; the message says why (shown on the source)."""


@dataclass
class FeedFetch:
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def fetch_feed(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 20.0,
    user_agent: str = "yuqing-taizhang",
    max_bytes: int = 10 * 1024 * 1024,
    proxy: str | None = None,
    policy: OriginPolicy | None = None,
) -> FeedFetch:
    """GET ``url`` with If-None-Match / If-Modified-Since; refuse errors and oversized bodies.

    With a ``policy`` (crawlers.guard), the first request and every redirect are checked before
    they are sent: a redirect to another origin or an internal address is refused."""
    headers = {"User-Agent": user_agent, "Accept": "application/rss+xml, application/atom+xml, application/xml, text/xml, */*"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    def check(request: httpx.Request) -> None:
        reason = policy.refusal(str(request.url)) if policy is not None else None
        if reason:
            raise FeedError(f"{reason}: {str(request.url)[:200]}")

    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5, proxy=proxy,
                          event_hooks={"request": [check]}) as client:
            with client.stream("GET", url, headers=headers) as resp:
                if resp.status_code == 304:
                    return FeedFetch(304, b"", etag, last_modified, None)
                if resp.status_code >= 400:
                    raise FeedError(f"HTTP {resp.status_code} {resp.reason_phrase} ({url})")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise FeedError(f"响应过大 (response too large): {declared} bytes > {max_bytes}")
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FeedError(f"响应过大 (response too large): > {max_bytes} bytes")
                    chunks.append(chunk)
                return FeedFetch(
                    resp.status_code,
                    b"".join(chunks),
                    resp.headers.get("etag"),
                    resp.headers.get("last-modified"),
                    resp.headers.get("content-type"),
                )
    except httpx.TooManyRedirects as exc:
        raise FeedError(f"重定向过多 (too many redirects): {url}") from exc
    except httpx.TimeoutException as exc:
        raise FeedError(f"超时 (timed out after {timeout:g}s): {url}") from exc
    except httpx.HTTPError as exc:
        raise FeedError(f"无法获取 (fetch failed): {exc.__class__.__name__}: {exc}") from exc


@dataclass
class ParsedFeed:
    items: list[RawPost]
    problem: str | None = None  # a malformed but complete feed, read leniently: what was wrong


def parse_feed(body: bytes, *, base_url: str | None = None, content_type: str | None = None) -> ParsedFeed:
    """Parse RSS/Atom bytes into items. A body that is not a feed, or is cut off, raises
    :class:`FeedError`; a complete feed with errors (an undefined entity, a tag left open, a
    charset other than declared) is read leniently and its ``problem`` says what was wrong."""
    if not body or not body.strip():
        raise FeedError("空响应 (empty response): not a feed")
    headers = {"content-type": content_type} if content_type else None
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    version = parsed.get("version") or ""
    if not version and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise FeedError(f"无法解析订阅源 (not a valid RSS/Atom feed): {reason or 'unknown format'}")
    if parsed.get("bozo") and not parsed.entries:
        raise FeedError(f"订阅源格式错误 (malformed feed): {parsed.get('bozo_exception')}")
    if parsed.get("bozo") and _truncated(body):
        # a cut-off document: the entries feedparser recovered may be partial; store none of them
        raise FeedError(f"订阅源不完整或格式错误 (truncated / malformed feed): {parsed.get('bozo_exception')}")
    problem = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        problem = (f"订阅源格式不规范，已按宽松方式读取 {len(parsed.entries)} 条，请核对是否完整"
                   f" (malformed feed read leniently): {exc.__class__.__name__}: {exc}")
    items: list[RawPost] = []
    for entry in parsed.entries:
        link = _http_link(entry.get("link"))
        content = ""
        if entry.get("content"):
            content = " ".join(c.get("value", "") for c in entry["content"])
        text = content or entry.get("summary") or entry.get("description") or ""
        title = entry.get("title")
        ext_id = entry.get("id") or entry.get("link") or hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
        published = None
        for key in ("published_parsed", "updated_parsed", "created_parsed"):
            st = entry.get(key)
            if st:
                try:
                    published = datetime.fromtimestamp(calendar.timegm(st), tz=UTC)
                except (OverflowError, ValueError, OSError):
                    published = None
                break
        author = entry.get("author")
        items.append(
            RawPost(
                external_id=str(ext_id),
                text=text or (title or ""),
                title=title,
                url=link,
                author=author,
                published_at=published,
                is_html=True,
                raw=_entry_bytes(entry),
                raw_content_type="application/json; feed-entry",
            )
        )
    return ParsedFeed(items, problem)


def _http_link(value) -> str | None:
    """An item link is stored only when it is an absolute http(s) URL (no javascript:, data:,
    file: ... links reach the ledger or the dashboard)."""
    from crawlers.guard import origin

    if not isinstance(value, str) or origin(value) is None:
        return None
    return value.strip()


_CLOSERS = (b"</rss>", b"</feed>", b"</rdf:rdf>", b"</rdf>")


def _truncated(body: bytes) -> bool:
    """True when the document does not end with the closing tag of a feed root element."""
    tail = body[-512:].lower().rstrip()
    return not any(tail.endswith(c) for c in _CLOSERS)


def _entry_bytes(entry) -> bytes:
    import json

    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if not k.endswith("_parsed")}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v if isinstance(v, str | int | float | bool) or v is None else str(v)

    return json.dumps(clean(dict(entry)), ensure_ascii=False, sort_keys=True).encode("utf-8")
