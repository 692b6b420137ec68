"""The item the web spiders yield: one post as found on a page or in a JSON response.

Fields are still raw (the publication time as written on the page, counts as text); the
pipelines turn an item into a :class:`ledger.posts.intake.RawPost`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PageItem:
    external_id: str
    text: str
    url: str | None = None
    title: str | None = None
    author: str | None = None
    published_raw: Any = None  # as written: "2020年1月6日 12:09", "3小时前", 1577836800 ...
    is_html: bool | None = None
    likes: Any = 0
    dislikes: Any = 0
    reposts: Any = 0
    raw: bytes | None = None  # evidence: the detail page's bytes or the JSON entry
    raw_content_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
