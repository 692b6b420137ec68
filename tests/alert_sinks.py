"""Real notification sinks for the alert tests: a JSON webhook HTTP server and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
import json
import re
import socket
import threading
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookSink:
    """A threaded HTTP server recording the JSON bodies POSTed to it (apprise ``json://``)."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = status
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink.lock:
                    if sink.status == 200:
                        sink.bodies.append(json.loads(raw.decode("utf-8")))
                        sink.paths.append(self.path)
                    code = sink.status
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def titles(self) -> list[str]:
        with self.lock:
            return [b.get("title", "") for b in self.bodies]

    def __enter__(self) -> WebhookSink:  # noqa: PYI034
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SmtpSink:
    """An aiosmtpd server recording (from, to, subject, text parts, attachment names)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[dict[str, Any]] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = email.message_from_bytes(envelope.content)
                texts, files = [], []
                for part in msg.walk():
                    disposition = str(make_header(decode_header(part.get("Content-Disposition") or "")))
                    name = re.search(r'filename="?([^";]+)"?', disposition)
                    if "attachment" in disposition and name:
                        files.append(str(make_header(decode_header(name.group(1)))))
                    elif part.get_content_type() == "text/plain":
                        texts.append(part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8"))
                sink.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                      "subject": str(make_header(decode_header(msg["Subject"] or ""))),
                                      "text": "\n".join(texts), "files": files})
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def url(self, to: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=alerts@example.org&to={to}&mode=insecure"

    def __enter__(self) -> SmtpSink:  # noqa: PYI034
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
