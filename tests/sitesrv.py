"""A real threaded HTTP server on 127.0.0.1 serving the crawler test site (tests/sites/).

Routes (see tests/sites/README.md): the GBK list/detail site ``/gbk/list{1..3}.html`` →
``/gbk/detail/{id}.html`` (encoded as GBK, charset declared by header, by ``<meta>`` or not at all),
``/mixed/...`` (404, 500, redirect loop, oversized, empty, robots-forbidden, hostile pages),
``/broken/list.html`` (a list page answering 500), the paged JSON API ``/api/list?page=N``, RSS and
Atom feeds under ``/feeds/``, ``/changing/...`` (a page whose content the test changes) and a
generated site ``/gen/list{n}.html`` → ``/gen/item/{n}-{k}.html`` for the crawl benchmark,
and ``/slow/...`` which answers after 5 seconds.

Every request path is logged in ``server.requests`` so tests can tell what was fetched. The server
also answers as a forward HTTP proxy: a request for an absolute URI (``GET http://any.host/path``)
is served from this site and logged in ``server.proxied``.
"""

from __future__ import annotations

import html
import json
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SITES = Path(__file__).resolve().parent / "sites"
API_PAGE_SIZE = 4

META = {
    "meta": '<meta charset="gbk">',
    "meta-gb2312": '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
    "header": "",
    "none": "",
}


def gbk_site() -> dict:
    return tomllib.loads((SITES / "gbk" / "posts.toml").read_text(encoding="utf-8"))


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[str] = []
        self.proxied: list[str] = []  # absolute URIs received as a forward proxy
        self.lock = threading.Lock()
        self.changing_version = 1
        self.big_size = 2 * 1024 * 1024
        self.gen_pages = 20
        self.gen_per_page = 25
        self.site = gbk_site()
        self.api_posts = json.loads((SITES / "api" / "posts.json").read_text(encoding="utf-8"))
        self._thread: threading.Thread | None = None

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients hanging up are expected
            super().handle_error(request, client_address)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def fetched(self, prefix: str) -> list[str]:
        with self.lock:
            return [p for p in self.requests if p.startswith(prefix)]

    def start(self) -> SiteServer:
        self._thread = threading.Thread(target=self.serve_forever, name="test-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SiteServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - silence the default logging
        pass

    def send(self, status: int, body: bytes = b"", ctype: str | None = "text/html; charset=utf-8",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)  # an absolute URI when a client uses this server as its proxy
        path = parts.path
        with self.server.lock:
            self.server.requests.append(self.path)
            if parts.netloc:
                self.server.proxied.append(self.path)
        try:
            self.route(path, parse_qs(parts.query))
        except BrokenPipeError:
            pass

    # -- routes ----------------------------------------------------------------------------------
    def route(self, path: str, query: dict) -> None:
        if path == "/robots.txt":
            return self.send(200, (SITES / "robots.txt").read_bytes(), "text/plain")
        if path.startswith("/gbk/"):
            return self.gbk(path)
        if path.startswith("/mixed/") or path.startswith("/private/"):
            return self.mixed(path)
        if path == "/broken/list.html":
            return self.send(500, b"<h1>Internal Server Error</h1>")
        if path.startswith("/api/"):
            return self.api(path, query)
        if path == "/feeds/rss.xml":
            return self.send(200, (SITES / "feeds" / "rss.xml").read_bytes(), "application/rss+xml")
        if path == "/feeds/atom.xml":
            return self.send(200, (SITES / "feeds" / "atom.xml").read_bytes(), "application/atom+xml")
        if path.startswith("/changing/"):
            return self.changing(path)
        if path.startswith("/gen/"):
            return self.generated(path)
        if path.startswith("/slow/"):  # hangs: for the time limit
            time.sleep(5)
            return self.send(200, b"<a href='/slow/x'>x</a>")
        return self.send(404, b"<h1>Not Found</h1>")

    def gbk(self, path: str) -> None:
        site = self.server.site
        name = path.rsplit("/", 1)[-1]
        if path.startswith("/gbk/list") and name.endswith(".html"):
            try:
                page = int(name[len("list"):-len(".html")])
            except ValueError:
                return self.send(404, b"not found")
            lists = {entry["page"]: entry for entry in site["list"]}
            if page not in lists:
                return self.send(404, b"not found")
            items = [
                f'<li><a href="/gbk/detail/{p["id"]}.html" title="{html.escape(p["title"])}">'
                f'{html.escape(p["title"])}</a> <span class="date">{html.escape(p["time"])}</span></li>'
                for p in site["post"] if p["page"] == page
            ]
            if page == 1:  # the same detail linked twice: fetched once
                first = next(p for p in site["post"] if p["page"] == 1)
                items.append(f'<li class="hot"><a href="/gbk/detail/{first["id"]}.html#top">热帖</a></li>')
            pager = f'<a class="next" href="/gbk/list{page + 1}.html">下一页</a>' if page + 1 in lists else ""
            tpl = (SITES / "gbk" / "list.html").read_text(encoding="utf-8")
            text = tpl.replace("{meta}", META[lists[page]["charset"]]).replace(
                "{items}", "\n".join(items)).replace("{pager}", pager)
            return self._gbk(text, lists[page]["charset"], "gb18030")
        if path.startswith("/gbk/detail/") and name.endswith(".html"):
            posts = {f'{p["id"]}.html': p for p in site["post"]}
            post = posts.get(name)
            if post is None:
                return self.send(404, b"not found")
            tpl = (SITES / "gbk" / "detail.html").read_text(encoding="utf-8")
            body = "\n".join(f"<p>{html.escape(par)}</p>" for par in post["body"])
            text = (tpl.replace("{meta}", META[post["charset"]]).replace("{title}", html.escape(post["title"]))
                    .replace("{time}", html.escape(post["time"])).replace("{author}", html.escape(post["author"]))
                    .replace("{body}", body))
            return self._gbk(text, post["charset"], post.get("encoding", "gbk"))
        return self.send(404, b"not found")

    def _gbk(self, text: str, charset: str, encoding: str = "gbk") -> None:
        ctype = f"text/html; charset={encoding.upper()}" if charset == "header" else "text/html"
        self.send(200, text.encode(encoding), ctype)

    def mixed(self, path: str) -> None:
        files = {"/mixed/list.html": "list.html", "/mixed/good.html": "good.html",
                 "/mixed/hostile.html": "hostile.html"}
        if path in files:
            return self.send(200, (SITES / "mixed" / files[path]).read_bytes())
        if path == "/mixed/error500.html":
            return self.send(500, b"<h1>500</h1>")
        if path == "/mixed/loop":
            return self.send(302, b"", None, {"Location": "/mixed/loop2"})
        if path == "/mixed/loop2":
            return self.send(302, b"", None, {"Location": "/mixed/loop"})
        if path == "/mixed/big.html":
            filler = ("<p>" + "很长的页面内容。" * 100 + "</p>\n").encode("utf-8")
            body = b'<html><body><h1 class="title">big</h1><div class="content">'
            body += filler * (self.server.big_size // len(filler) + 1) + b"</div></body></html>"
            return self.send(200, body)
        if path == "/mixed/empty.html":
            return self.send(200, b"")
        if path.startswith("/private/"):
            return self.send(200, b'<h1 class="title">secret</h1><div class="content">must not be fetched</div>')
        return self.send(404, b"<h1>404</h1>")

    def api(self, path: str, query: dict) -> None:
        if path == "/api/list":
            page = int(query.get("page", ["1"])[0])
            start = (page - 1) * API_PAGE_SIZE
            chunk = self.server.api_posts[start:start + API_PAGE_SIZE] if page >= 1 else []
            body = json.dumps({"code": 0, "data": {"page": page, "list": chunk}}, ensure_ascii=False)
            return self.send(200, body.encode("utf-8"), "application/json; charset=utf-8")
        if path == "/api/broken":
            return self.send(200, b"<html>not json</html>", "application/json")
        return self.send(404, b"{}", "application/json")

    def changing(self, path: str) -> None:
        if path == "/changing/list.html":
            return self.send(200, '<ul><li><a href="/changing/item.html">公告</a></li></ul>'.encode())
        if path == "/changing/item.html":
            v = self.server.changing_version
            text = (f'<h1 class="title">停水公告（第{v}版）</h1><span class="time">2020-06-01 09:00</span>'
                    f'<div class="content"><p>因管道维修，6月2日停水，版本 {v}。</p></div>')
            return self.send(200, text.encode("utf-8"))
        return self.send(404, b"not found")

    def generated(self, path: str) -> None:
        name = path.rsplit("/", 1)[-1]
        pages, per = self.server.gen_pages, self.server.gen_per_page
        if path.startswith("/gen/list") and name.endswith(".html"):
            n = int(name[4:-5])
            if not 1 <= n <= pages:
                return self.send(404, b"not found")
            links = "".join(f'<li><a href="/gen/item/{n}-{k}.html">第{n}页第{k}条留言</a></li>' for k in range(per))
            nxt = f'<a class="next" href="/gen/list{n + 1}.html">下一页</a>' if n < pages else ""
            text = f'<html><head><meta charset="gbk"></head><body><ul class="list">{links}</ul>{nxt}</body></html>'
            return self.send(200, text.encode("gbk"), "text/html")
        if path.startswith("/gen/item/"):
            ident = name[:-5]
            body = "".join(f"<p>第{ident}号留言正文，第{i}段：反映小区道路破损、路灯不亮等问题，请有关部门处理。</p>"
                           for i in range(6))
            text = (f'<html><head><title>留言 {ident}</title></head><body><h1 class="title">留言 {ident}</h1>'
                    f'<span class="time">2020年1月6日 12:09</span><span class="author">网友{ident}</span>'
                    f'<div class="content">{body}</div></body></html>')
            return self.send(200, text.encode("gbk"), "text/html")
        return self.send(404, b"not found")
