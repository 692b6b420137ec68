"""What every collector shares: the fetch options, the expected-failure exception and what a fetch returns.

A small module at the bottom of ``crawlers``, so that the runner (``crawlers.runner``) and the
collectors (``crawlers.web``, the feed fetcher) can all use these types without importing each
other. No I/O and no database here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.posts.intake import RawPost


@dataclass
class CrawlOptions:
    """Fetch settings handed in by the composition root (crawlers never read config themselves)."""

    timeout: float = 20.0
    user_agent: str = "yuqing-taizhang"
    max_bytes: int = 10 * 1024 * 1024
    proxy: str | None = None
    down_after: int = 3
    extra: dict = field(default_factory=dict)


class CrawlError(Exception):
    """Raised by collectors for an expected failure (HTTP error, bad feed, bad config)."""


@dataclass
class Fetched:
    items: list[RawPost]
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    # what went wrong in this successful crawl, for the source's health (a malformed feed read
    # leniently, detail pages skipped: crawlers.web.crawl_warning); None: nothing
    problem: str | None = None
