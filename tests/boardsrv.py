"""A real HTTP server on 127.0.0.1 playing two 留言板 boards for the board-template tests.

* 人民网 地方领导留言板 (fixture ``tests/sites/boards/people.json``): the signed JSON API
  ``POST /v1/threads/list/df`` (a JSON body; ``signature`` = md5 of the path, ``?``, the other
  parameters sorted by name as ``k=v`` joined by ``&``, and the app code; ``position`` pages by
  10) answering ``{"resultCode": 200, "resultData": {"data": [...]}}`` or, for a wrong signature,
  ``{"resultCode": 403, "resultMsg": "签名错误"}``; the public list ``/threads/list?fid=&page=``
  and the detail pages ``/threads/content?tid=``.
* a provincial 问政 board like 红网百姓呼声 (``rednet.json``): ``/front/messageList?areaId=&page=``
  and ``/front/message?id=``.

Tests change ``threads`` / ``messages`` (states, replies) and ``renamed`` (API fields renamed,
e.g. ``{"threadContent": "content"}``) between crawls. The signature check is written here from
the documented recipe, not taken from the client.
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

BOARDS = Path(__file__).resolve().parent / "sites" / "boards"
APP_CODE = "PC42ce3bfa4980a9"
API_PATH = "/v1/threads/list/df"
PAGE_ROWS = 10


def _local(ts: int | None) -> str:
    if ts is None:
        return ""
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(ts, UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


class BoardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        people = json.loads((BOARDS / "people.json").read_text(encoding="utf-8"))
        rednet = json.loads((BOARDS / "rednet.json").read_text(encoding="utf-8"))
        self.fid = str(people["fid"])
        self.threads: list[dict] = copy.deepcopy(people["threads"])
        self.area = rednet["area"]
        self.messages: list[dict] = copy.deepcopy(rednet["messages"])
        self.renamed: dict[str, str] = {}
        self.requests: list[str] = []
        self.api_answers: list[int] = []  # resultCode of every API answer

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> BoardServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: BoardServer

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: str, ctype: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        srv = self.server
        srv.requests.append("POST " + self.path)
        if urlsplit(self.path).path != API_PATH:
            self._send(404, "not found", "text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            params = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, "bad json", "text/plain")
            return
        given = str(params.get("signature", ""))
        plain = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
        expected = hashlib.md5(f"{API_PATH}?{plain}{APP_CODE}".encode()).hexdigest()
        if given != expected or params.get("appCode") != APP_CODE:
            srv.api_answers.append(403)
            self._send(200, json.dumps({"resultCode": 403, "resultMsg": "签名错误"}, ensure_ascii=False),
                       "application/json; charset=utf-8")
            return
        if str(params.get("fid")) != srv.fid:
            rows: list[dict] = []
        else:
            start = int(params.get("position") or 0)
            rows = srv.threads[start:start + PAGE_ROWS]
        out = []
        for t in rows:
            t = dict(t)
            for old, new in srv.renamed.items():
                if old in t:
                    t[new] = t.pop(old)
            out.append(t)
        srv.api_answers.append(200)
        self._send(200, json.dumps({"resultCode": 200, "resultMsg": "success", "resultData": {"data": out}},
                                   ensure_ascii=False), "application/json; charset=utf-8")

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append("GET " + self.path)
        parts = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        page = int(q.get("page", "1"))
        esc = html.escape
        if parts.path == "/threads/list":
            rows = srv.threads if q.get("fid") == srv.fid and page == 1 else []
            items = "".join(
                f'<li class="replyItem"><div class="headMainS"><h1><a href="/threads/content?tid={t["tid"]}">'
                f'{esc(t["threadTitle"])}</a></h1><span>{_local(t["dateline"])}</span></div>'
                f'<span class="stateInfo">{esc(t["stateInfo"])}</span></li>'
                for t in rows)
            self._send(200, f"<html><body><ul class='replyList'>{items}</ul></body></html>", "text/html; charset=utf-8")
            return
        if parts.path == "/threads/content":
            found = [t for t in srv.threads if str(t["tid"]) == q.get("tid")]
            if not found:
                self._send(404, "not found", "text/plain")
                return
            t = found[0]
            reply = (f'<div class="replyContent">{esc(t["answerContent"])}</div>'
                     f'<span class="replyTime">{_local(t["answerDate"])}</span>') if t["answerContent"] else ""
            self._send(200, f'<html><body><h1>{esc(t["threadTitle"])}</h1><p class="replyCon">'
                            f'{esc(t["threadContent"])}</p>{reply}</body></html>', "text/html; charset=utf-8")
            return
        if parts.path == "/front/messageList":
            rows = srv.messages if q.get("areaId") == srv.area and page == 1 else []
            trs = "".join(
                f'<tr class="msg"><td class="title"><a href="/front/message?id={m["id"]}">{esc(m["title"])}</a></td>'
                f'<td class="state">{esc(m["state"])}</td><td class="date">{esc(m["date"])}</td></tr>'
                for m in rows)
            self._send(200, f'<html><body><table class="msgList"><tr><th>标题</th></tr>{trs}</table></body></html>',
                       "text/html; charset=utf-8")
            return
        if parts.path == "/front/message":
            found = [m for m in srv.messages if str(m["id"]) == q.get("id")]
            if not found:
                self._send(404, "not found", "text/plain")
                return
            m = found[0]
            reply = (f'<div class="replyContent">{esc(m["reply"])}</div><span class="replyTime">{esc(m["reply_time"])}</span>'
                     if m["reply"] else "")
            self._send(200, f'<html><body><h2>{esc(m["title"])}</h2><div class="msgContent">{esc(m["content"])}</div>'
                            f'{reply}</body></html>', "text/html; charset=utf-8")
            return
        self._send(404, "not found", "text/plain")
