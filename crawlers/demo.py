"""A small simulated public platform on 127.0.0.1 that publishes the project's demo posts over time.

It serves ``/feed.xml`` (RSS 2.0) with the posts whose release time has come, honouring
If-None-Match, so the demo (and tests) can exercise the real crawl path without internet.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from xml.sax.saxutils import escape


def load_demo_posts() -> list[dict[str, Any]]:
    """The demo posts shipped with the project (written for it; no real data)."""
    text = resources.files("crawlers").joinpath("demo_data/posts.json").read_text(encoding="utf-8")
    return json.loads(text)


def render_rss(posts: list[dict[str, Any]], *, base_url: str, released: list[datetime]) -> bytes:
    items = []
    for i, (post, when) in enumerate(zip(posts, released, strict=True)):
        items.append(
            "<item>"
            f"<title>{escape(post['title'])}</title>"
            f"<link>{escape(base_url)}/post/{i + 1}</link>"
            f"<guid isPermaLink=\"false\">demo-{i + 1}</guid>"
            f"<author>{escape(post.get('author', ''))}</author>"
            f"<pubDate>{format_datetime(when)}</pubDate>"
            f"<description>{escape('<p>' + escape(post['text']) + '</p>')}</description>"
            "</item>"
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0"><channel><title>示例市网络问政平台（演示）</title>'
        f"<link>{escape(base_url)}/</link><description>演示用模拟平台</description>"
        + "".join(reversed(items))
        + "</channel></rss>"
    )
    return body.encode("utf-8")


class DemoPlatform:
    """Serve the demo posts, releasing ``first`` at once and then one every ``step`` seconds."""

    def __init__(self, *, start: datetime | None = None, step_seconds: float = 20.0, first: int = 8,
                 port: int = 0, posts: list[dict[str, Any]] | None = None,
                 clock=lambda: datetime.now(UTC)) -> None:
        self.posts = posts if posts is not None else load_demo_posts()
        self.start_at = start or clock()
        self.step = step_seconds
        self.first = first
        self.clock = clock
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def visible(self, now: datetime) -> tuple[list[dict[str, Any]], list[datetime]]:
        posts, times = [], []
        for i, post in enumerate(self.posts):
            offset = 0 if i < self.first else (i - self.first + 1) * self.step
            when = self.start_at + timedelta(seconds=offset)
            if when <= now:
                posts.append(post)
                times.append(when - timedelta(minutes=5 * (self.first - i)) if i < self.first else when)
        return posts, times

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the demo console quiet
                pass

            def do_GET(self):  # noqa: N802
                if self.path.startswith("/feed.xml"):
                    posts, times = platform.visible(platform.clock())
                    body = render_rss(posts, base_url=platform.url, released=times)
                    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                    if self.headers.get("If-None-Match") == etag:
                        self.send_response(304)
                        self.send_header("ETag", etag)
                        self.end_headers()
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                body = "<html><body><h1>示例市网络问政平台（演示）</h1><a href='/feed.xml'>RSS</a></body></html>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def start(self) -> DemoPlatform:
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-platform", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
