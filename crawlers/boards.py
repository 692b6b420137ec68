"""问政 / 留言板 boards (人民网 地方领导留言板, 红网百姓呼声, …): each message becomes a post and a
citizen's message (``ledger.messages``) with its reply clock, and the board's state (待回复 /
办理中 / 已办理) is kept in step.

The client is configuration, not code (a ``board`` source's config, usually from a template):

* ``api`` (optional) — a signed JSON API: ``path``, ``method``, fixed ``params``, ``app_code``,
  the signature recipe (``recipe`` with ``{path}``, ``{params}`` — the parameters sorted by name
  as ``k=v`` joined by ``&``, the signature left out — and ``{app_code}``; ``hash`` md5 / sha1 /
  sha256), how pages advance (``page_field``, ``page_start``, ``page_step``), where the answer
  says it is fine (``ok_path`` = ``ok_value``) and where the entries are (``items_path``), and a
  mapping ``fields`` from message fields to dotted paths in each entry, with ``states`` mapping
  the board's words to ours.
* ``list`` — the board's public list pages (``url`` with ``{page}``; CSS selectors for the rows,
  each row's link, title, state and date; selectors on the detail page for the text and reply).

The API is tried first; when it refuses (a wrong signature, an error code) or its answer has
changed (a mapped field is missing), the crawl falls back to the public list and says why in
the source's health, so a change on the site is a config edit. Links are followed only to the
board's own origin.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from crawlers.base import CrawlError, CrawlOptions, Fetched
from crawlers.dates import parse_cn_datetime
from ledger.messages.intake import RawMessage
from ledger.posts.intake import RawPost

STATES = ("待回复", "办理中", "已办理")
REQUIRED_FIELDS = ("external_id", "received_at")
_HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


class ApiRefused(Exception):
    """The signed API cannot be used this time; the message (Chinese) says why."""


@dataclass
class BoardFetched(Fetched):
    """Posts plus the citizens' messages they carry (same external ids)."""

    messages: list[RawMessage] = field(default_factory=list)
    mode: str = "api"  # "api" or "list": how this crawl read the board


@dataclass
class Entry:
    external_id: str
    title: str | None
    text: str
    received_at: datetime | None
    state: str | None = None
    author: str | None = None
    unit: str | None = None
    reply_text: str | None = None
    replied_at: datetime | None = None
    url: str | None = None
    raw: bytes = b""


# -- signing ------------------------------------------------------------------------------------

def canonical_params(params: dict[str, Any], *, leave_out: str) -> str:
    """``k=v`` pairs sorted by name and joined by ``&`` (the signature field left out)."""
    return "&".join(f"{k}={'' if v is None else v}" for k, v in sorted(params.items()) if k != leave_out)


def sign(api: dict[str, Any], params: dict[str, Any]) -> str:
    """The request signature of ``params`` by the configured recipe."""
    recipe = str(api.get("recipe", "{path}?{params}{app_code}"))
    text = recipe.format(path=api.get("path", ""), app_code=api.get("app_code", ""),
                         params=canonical_params(params, leave_out=api.get("signature_field", "signature")))
    algo = _HASHES.get(str(api.get("hash", "md5")).lower())
    if algo is None:
        raise CrawlError(f"来源配置错误: 不支持的签名算法 hash={api.get('hash')!r} (md5 / sha1 / sha256)")
    return algo(text.encode("utf-8")).hexdigest()


def signed_params(api: dict[str, Any], page_index: int) -> dict[str, Any]:
    params: dict[str, Any] = {k: str(v) for k, v in (api.get("params") or {}).items()}
    if api.get("page_field"):
        params[api["page_field"]] = str(int(api.get("page_start", 0)) + page_index * int(api.get("page_step", 1)))
    if api.get("app_code_field"):
        params[api["app_code_field"]] = api.get("app_code", "")
    params[api.get("signature_field", "signature")] = sign(api, params)
    return params


# -- reading ------------------------------------------------------------------------------------

def _dotted(data: Any, path: str | None) -> Any:
    if not path:
        return None
    cur = data
    for part in str(path).split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def _when(value: Any, now: datetime) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float) and value > 1e11:  # milliseconds
        value = value / 1000
    try:
        return parse_cn_datetime(value, now=now)
    except ValueError:
        return None


def board_state(word: Any, states: dict[str, str]) -> str | None:
    """Our state (待回复 / 办理中 / 已办理) for the board's word, or None when unknown."""
    if word is None:
        return None
    text = str(word).strip()
    if text in states:
        return states[text]
    return text if text in STATES else None


class BoardClient:
    """One crawl of one board source (see the module docstring)."""

    def __init__(self, cfg: dict[str, Any], options: CrawlOptions, now: datetime) -> None:
        self.cfg = cfg
        self.options = options
        self.now = now
        self.base = str(cfg.get("base") or "").rstrip("/")
        if not self.base.lower().startswith(("http://", "https://")):
            raise CrawlError("来源配置错误: 留言板来源需要 base (网址)")
        self.origins = {_origin(u) for u in (cfg.get("origins") or [self.base])}
        self.max_pages = int(cfg.get("max_pages", 3))
        self.notes: list[str] = []

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self.options.timeout, follow_redirects=True, max_redirects=5,
                            proxy=self.options.proxy, headers={"User-Agent": self.options.user_agent})

    def _allowed(self, url: str) -> bool:
        return _origin(url) in self.origins

    def _get(self, client: httpx.Client, url: str, **kw: Any) -> httpx.Response:
        if not self._allowed(url):
            raise CrawlError(f"链接不在留言板的网址之内, 未访问 (outside the board's origin): {url}")
        resp = client.request(kw.pop("method", "GET"), url, **kw)
        if len(resp.content) > self.options.max_bytes:
            raise CrawlError(f"响应过大 (response too large): {url}")
        if resp.status_code >= 400:
            raise CrawlError(f"HTTP {resp.status_code} ({url})")
        return resp

    # the signed API
    def read_api(self, client: httpx.Client) -> list[Entry]:
        api = self.cfg["api"]
        fields = api.get("fields") or {}
        states = {**(self.cfg.get("states") or {}), **(api.get("states") or {})}
        url = self.base + str(api.get("path", ""))
        out: list[Entry] = []
        for i in range(self.max_pages):
            params = signed_params(api, i)
            method = str(api.get("method", "POST")).upper()
            try:
                if method == "GET":
                    resp = self._get(client, url, params=params)
                else:
                    resp = self._get(client, url, method="POST", json=params)
                data = resp.json()
            except (httpx.HTTPError, CrawlError) as exc:
                raise ApiRefused(f"接口请求失败: {exc}") from exc
            except ValueError as exc:
                raise ApiRefused(f"接口返回的不是有效 JSON: {exc}") from exc
            ok = _dotted(data, api.get("ok_path"))
            if api.get("ok_path") and str(ok) != str(api.get("ok_value")):
                msg = _dotted(data, api.get("message_path")) or ""
                raise ApiRefused(f"接口拒绝请求 ({api.get('ok_path')}={ok} {msg}".rstrip() + ")")
            entries = _dotted(data, api.get("items_path"))
            if not isinstance(entries, list):
                raise ApiRefused(f"接口返回中没有 {api.get('items_path')} 数组 (接口格式可能已变化)")
            if not entries:
                break
            for entry in entries:
                out.append(self._api_entry(entry, fields, states))
        return out

    def _api_entry(self, entry: Any, fields: dict[str, str], states: dict[str, str]) -> Entry:
        if not isinstance(entry, dict):
            raise ApiRefused("接口条目不是对象 (接口格式可能已变化)")
        for name in (*REQUIRED_FIELDS, "text"):
            path = fields.get(name)
            if path and _dotted(entry, path) in (None, ""):
                raise ApiRefused(f"接口字段变化: 条目中没有 {path} ({name}), 请核对 api.fields 配置")
        got = {name: _dotted(entry, path) for name, path in fields.items() if path}
        ext = str(got["external_id"])
        url = None
        if self.cfg.get("detail_url"):
            url = str(self.cfg["detail_url"]).replace("{id}", ext)
        return Entry(
            external_id=ext, title=_s(got.get("title")), text=_s(got.get("text")) or "",
            received_at=_when(got.get("received_at"), self.now), state=board_state(got.get("state"), states),
            author=_s(got.get("author")), unit=_s(got.get("unit")), reply_text=_s(got.get("reply_text")),
            replied_at=_when(got.get("replied_at"), self.now), url=_s(got.get("url")) or url,
            raw=json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8"),
        )

    # the public list
    def read_list(self, client: httpx.Client) -> list[Entry]:
        from parsel import Selector

        lst = self.cfg.get("list") or {}
        if not lst.get("url") or not lst.get("rows"):
            raise CrawlError("来源配置错误: 留言板来源需要 list.url 和 list.rows")
        states = dict(self.cfg.get("states") or {}) | dict((self.cfg.get("api") or {}).get("states") or {})
        id_regex = re.compile(lst.get("id_regex") or r"(\d+)(?!.*\d)")
        out: list[Entry] = []
        for page in range(1, self.max_pages + 1):
            page_url = str(lst["url"]).replace("{page}", str(page))
            resp = self._get(client, page_url)
            sel = Selector(text=resp.text)
            rows = sel.css(lst["rows"])
            if not rows:
                if page == 1:
                    raise CrawlError(f"留言板公开列表上没有找到留言, 请检查 list.rows 选择器: {page_url}")
                break
            for row in rows:
                href = row.css(lst.get("link", "a::attr(href)")).get()
                if not href:
                    self.notes.append(f"{page_url}: 一行没有链接, 已跳过")
                    continue
                detail_url = urljoin(page_url, href.strip())
                m = id_regex.search(detail_url)
                if not m:
                    self.notes.append(f"{detail_url}: 无法从链接取得留言编号, 已跳过")
                    continue
                entry = Entry(external_id=m.group(1), title=_first(row, lst.get("title")), text="",
                              received_at=_when(_first(row, lst.get("date")), self.now),
                              state=board_state(_first(row, lst.get("state")), states), url=detail_url)
                try:
                    detail = self._get(client, detail_url)
                except (CrawlError, httpx.HTTPError) as exc:
                    self.notes.append(f"{detail_url}: 详情页失败 ({exc})")
                    entry.text = entry.title or ""
                else:
                    dsel = Selector(text=detail.text)
                    entry.text = _all(dsel, lst.get("detail_text")) or entry.title or ""
                    entry.reply_text = _all(dsel, lst.get("detail_reply"))
                    entry.replied_at = _when(_first(dsel, lst.get("detail_replied_at")), self.now)
                    entry.raw = detail.content
                out.append(entry)
        return out

    def fetch(self) -> BoardFetched:
        entries: list[Entry]
        mode = "list"
        with self._client() as client:
            entries = []
            if self.cfg.get("api"):
                try:
                    entries = self.read_api(client)
                    mode = "api"
                except ApiRefused as exc:
                    self.notes.insert(0, f"留言板接口不可用, 已改用公开列表: {exc}")
            if mode == "list":
                try:
                    entries = self.read_list(client)
                except httpx.HTTPError as exc:
                    raise CrawlError(f"留言板公开列表无法获取: {exc.__class__.__name__}: {exc}") from exc
        return self._result(entries, mode)

    def _result(self, entries: list[Entry], mode: str) -> BoardFetched:
        channel = str(self.cfg.get("channel") or "网上留言")
        posts, messages = [], []
        for e in entries:
            received = e.received_at
            if received is None:
                self.notes.append(f"留言 {e.external_id} 没有留言时间, 按抓取时间计")
                received = self.now
            reply, replied = e.reply_text, e.replied_at
            if e.state == "已办理" and replied is None:  # the board says done: the reply is in
                replied = self.now
            if not reply and e.state != "已办理":
                replied = None
            posts.append(RawPost(external_id=e.external_id, text=e.text or e.title or "", title=e.title,
                                 url=e.url, author=e.author, published_at=received, is_html=None,
                                 raw=e.raw or None, raw_content_type="application/json" if mode == "api" else "text/html",
                                 extra={"board_state": e.state} if e.state else {}))
            messages.append(RawMessage(external_id=e.external_id, channel=channel, received_at=received,
                                       text=e.text or e.title or "", title=e.title, author=e.author,
                                       unit=e.unit, reply_text=reply, replied_at=replied, state=e.state))
        problem = None
        if self.notes:
            shown = "；".join(self.notes[:3])
            problem = shown + (f"；等共 {len(self.notes)} 项" if len(self.notes) > 3 else "")
        return BoardFetched(items=posts, messages=messages, problem=problem, mode=mode)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _s(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _first(sel: Any, expr: str | None) -> str | None:
    if not expr:
        return None
    for value in sel.css(expr).getall():
        if value and value.strip():
            return value.strip()
    return None


def _all(sel: Any, expr: str | None) -> str | None:
    if not expr:
        return None
    text = "\n".join(v.strip() for v in sel.css(expr).getall() if v and v.strip())
    return text or None


def fetch_board_source(source, options: CrawlOptions, now: datetime) -> BoardFetched:
    """Crawl a ``board`` source once: its messages, as posts and as citizens' messages."""
    return BoardClient(dict(source.config or {}), options, now).fetch()
