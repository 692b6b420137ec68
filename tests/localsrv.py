"""A tiny real HTTP server on 127.0.0.1 for crawl tests: fixed pages, every request counted."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer(ThreadingHTTPServer):
    """Serves ``pages`` (path -> (status, headers, body or a callable writing to the socket)) and
    logs every request path in ``hits``."""

    daemon_threads = True

    def __init__(self, pages: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pages = pages
        self.hits: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        status, headers, body = self.server.pages.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if not callable(body):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if callable(body):
            body(self.wfile)
        else:
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass
