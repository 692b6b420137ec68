"""The soak benchmark's local world: a public platform that keeps publishing and a webhook sink.

One HTTP server on 127.0.0.1 serves
- ``/feed.xml``: an RSS feed that gains ``batch`` new posts every ``step`` seconds (the newest
  ``window`` items are listed, so a crawl that comes late still finds what it missed);
- ``/api/list?page=N``: a JSON API of citizens' posts that gains one entry every ``api_step`` seconds;
- ``POST /hook``: an alert webhook that counts what it receives.

The posts are written by the project from a few templates (places, topics, words of complaint or
praise), so the ledger sees events form, sensitive posts and quiet ones; no real personal data.
"""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

PLACES = ["青山区", "石桥县", "城关镇", "河西街道", "东湖新区", "北关村", "南湖社区", "新华路"]
TOPICS = [
    ("小区停水", "已经停水{n}个小时了，没有任何通知，老人孩子怎么办"),
    ("道路施工噪音", "夜里施工噪音太大，{n}点还在作业，投诉多次没人管"),
    ("校车安全", "校车超载严重，今天早上坐了{n}个孩子，太危险了"),
    ("燃气泄漏", "闻到很浓的燃气味，已经{n}分钟了，物业说不归他们管"),
    ("公交线路调整", "新开的{n}路公交很方便，感谢交通部门"),
    ("菜市场改造", "改造后的菜市场干净整洁，{n}个摊位排列整齐，点赞"),
    ("拖欠工资", "工地拖欠农民工工资{n}个月，讨薪无门"),
    ("垃圾清运", "垃圾{n}天没人清运，臭气熏天，蚊蝇乱飞"),
    ("医院排队", "在医院排队挂号等了{n}个小时，窗口只开一个"),
    ("养老服务", "社区养老食堂开张，{n}元一餐，老人很满意"),
]


def post_text(seq: int) -> tuple[str, str]:
    """The title and text of the ``seq``-th post (the same every run)."""
    rnd = random.Random(seq)
    place = rnd.choice(PLACES)
    topic, body = TOPICS[rnd.randrange(len(TOPICS))]
    title = f"{place}{topic}"
    text = f"{place}{body.format(n=rnd.randint(2, 60))}。编号{seq}，网友反映。" + "情况说明。" * rnd.randint(0, 30)
    return title, text


class SoakSite:
    """The server; ``start()`` / ``stop()``; counters for what it published and received."""

    def __init__(self, *, step: float = 10.0, batch: int = 50, window: int = 200, api_step: float = 20.0) -> None:
        self.step, self.batch, self.window, self.api_step = step, batch, window, api_step
        self.t0 = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.hooks = 0
        self.hook_bytes = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- what exists at a moment --------------------------------------------------------------
    def published(self) -> int:
        """How many feed posts exist now."""
        return (int((time.monotonic() - self.t0) // self.step) + 1) * self.batch

    def api_entries(self) -> int:
        return int((time.monotonic() - self.t0) // self.api_step) + 1

    def _when(self, seq: int, step: float, batch: int) -> datetime:
        return datetime.fromtimestamp(self.started_at.timestamp() + (seq // batch) * step, UTC)

    def feed(self) -> bytes:
        total = self.published()
        items = []
        for seq in range(total - 1, max(-1, total - 1 - self.window), -1):
            title, text = post_text(seq)
            items.append(
                f"<item><title>{escape(title)}</title><link>http://soak.example/p/{seq}</link>"
                f"<guid>soak-{seq}</guid><pubDate>{format_datetime(self._when(seq, self.step, self.batch))}</pubDate>"
                f"<description>{escape(text)}</description></item>")
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>本地论坛</title>'
                "<link>http://soak.example/</link><description>soak</description>"
                + "".join(items) + "</channel></rss>").encode("utf-8")

    def api_page(self, page: int, size: int = 20) -> bytes:
        total = self.api_entries()
        start = total - 1 - (page - 1) * size
        entries = []
        for seq in range(start, max(-1, start - size), -1):
            title, text = post_text(1_000_000 + seq)
            entries.append({"id": seq, "title": title, "content": f"<p>{text}</p>",
                            "ctime": self._when(seq, self.api_step, 1).isoformat(),
                            "user": {"name": f"网友{seq % 97}"}, "stats": {"like": seq % 13}})
        return json.dumps({"code": 0, "data": {"list": entries}}, ensure_ascii=False).encode("utf-8")

    # -- server ---------------------------------------------------------------------------------
    def start(self) -> SoakSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:  # quiet
                return

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                if parts.path == "/feed.xml":
                    return self._send(200, site.feed(), "application/rss+xml; charset=utf-8")
                if parts.path == "/api/list":
                    page = int((parse_qs(parts.query).get("page") or ["1"])[0])
                    return self._send(200, site.api_page(page), "application/json; charset=utf-8")
                if parts.path == "/robots.txt":
                    return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
                return self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with site._lock:
                    site.hooks += 1
                    site.hook_bytes += len(body)
                return self._send(200, b"{}", "application/json")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="soak-site").start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
