"""Generic Scrapy spiders configured per source (no code per site), and their shared helpers.

* :mod:`crawlers.spiders.listdetail` — list pages → detail pages (news portals, 留言板 sites);
* :mod:`crawlers.spiders.jsonapi` — paged JSON APIs (问政 platforms' own back ends).

Spiders run only inside a child process (``python -m crawlers.spiders JOB OUT``, see
:mod:`crawlers.spiders.__main__`), because Twisted's reactor cannot be restarted in one process.
The helpers here decode Chinese pages whatever their charset, apply CSS / ``xpath:`` selectors,
refuse unsafe links and turn download failures into short reasons in Chinese.
"""

from __future__ import annotations

import codecs
from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from parsel import Selector, SelectorList
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

from analysis.normalize import normalize_text

# Elements whose content is never text for a reader: removed before anything is extracted.
ACTIVE_ELEMENTS = ("script", "style", "noscript", "template", "iframe", "frame", "object", "embed", "svg",
                   "math", "applet", "canvas", "video", "audio")
_ACTIVE_XPATH = "|".join(f"//*[local-name()='{name}']" for name in ACTIVE_ELEMENTS)

GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "x-gbk", "gb_2312-80", "euc-cn", "ms936"}
XPATH_PREFIX = "xpath:"


def canonical_encoding(name: str | None) -> str | None:
    """Python codec name for a declared charset; the GB family reads as gb18030 (its superset)."""
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    if name in GB_FAMILY:
        return "gb18030"
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return "gb18030" if codec in GB_FAMILY else codec


def decode_body(body: bytes, content_type: str | None = None, override: str | None = None) -> tuple[str, str]:
    """Decode a page to text; returns ``(text, encoding used)``.

    The source's ``encoding`` override wins; then a byte-order mark; then the charset declared in
    the Content-Type header or a ``<meta>`` tag (when the bytes really decode with it); then
    strict UTF-8; then GB18030 (which also reads GBK and GB2312).
    """
    text, enc, _problem = decode_checked(body, content_type, override)
    return text, enc


def decode_checked(body: bytes, content_type: str | None = None,
                   override: str | None = None) -> tuple[str, str, str | None]:
    """:func:`decode_body` plus what went wrong: ``(text, encoding used, problem or None)``.

    A problem is a declared (or configured) charset that does not decode the page cleanly: the
    page was read another way, or with replacement characters, and may hold mojibake."""
    if override:
        enc = canonical_encoding(override) or override
        try:
            return body.decode(enc), enc, None
        except UnicodeDecodeError:
            return (body.decode(enc, errors="replace"), enc,
                    f"按来源配置的字符集 {override} 无法完整解码，部分文字可能乱码 (configured charset does not decode the page)")
    bom_enc, bom = read_bom(body)
    if bom_enc:
        enc = canonical_encoding(bom_enc) or "utf-8"
        return body[len(bom):].decode(enc, errors="replace"), enc, None
    declared = [http_content_type_encoding(content_type) if content_type else None,
                html_body_declared_encoding(body)]
    wrong: list[str] = []
    for name in declared:
        enc = canonical_encoding(name)
        if enc:
            try:
                text = body.decode(enc)
            except UnicodeDecodeError:
                wrong.append(name or enc)
                continue  # declared wrongly: detect instead
            return text, enc, _declared_problem(wrong, enc)
    for enc in ("utf-8", "gb18030"):
        try:
            return body.decode(enc), enc, _declared_problem(wrong, enc)
        except UnicodeDecodeError:
            continue
    problem = (f"页面声明的字符集{'（' + '、'.join(wrong) + '）' if wrong else ''}无法解码，按 gb18030 读取仍有"
               "无法识别的字节，部分文字可能乱码 (page does not decode cleanly in any charset)")
    return body.decode("gb18030", errors="replace"), "gb18030", problem


def _declared_problem(wrong: list[str], used: str) -> str | None:
    if not wrong:
        return None
    return (f"页面声明的字符集 {'、'.join(dict.fromkeys(wrong))} 无法解码，已按 {used} 读取，请核对文字是否正确"
            f" (declared charset does not decode the page; read as {used})")


def strip_active(sel: Selector) -> Selector:
    """Remove scripts, styles, frames, embedded objects and the like from a parsed page, in place."""
    for node in sel.xpath(_ACTIVE_XPATH):
        try:
            node.drop()
        except Exception:  # noqa: BLE001 - a node already removed with its parent
            continue
    return sel


def clean_markup(markup: str) -> str:
    """HTML with every active element removed (for text that arrives as HTML inside JSON)."""
    sel = strip_active(Selector(text=markup, type="html"))
    body = sel.xpath("//body")
    return "".join(body[0].xpath("node()").getall()) if body else ""


def select(sel: Selector, expr: str) -> SelectorList:
    """Apply a CSS selector, or an XPath expression written with the ``xpath:`` prefix."""
    expr = expr.strip()
    if expr.startswith(XPATH_PREFIX):
        return sel.xpath(expr[len(XPATH_PREFIX):].strip())
    return sel.css(expr)


def check_selector(expr: Any, key: str) -> str:
    """Validate a selector string from a source config; raise ValueError naming the key."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError(f"{key} 必须是非空的 CSS 选择器或 xpath: 表达式 (must be a selector)")
    try:
        select(Selector(text="<html><body></body></html>"), expr)
    except Exception as exc:  # cssselect / lxml raise several kinds
        raise ValueError(f"{key} 选择器无效 (invalid selector) {expr!r}: {exc}") from exc
    return expr.strip()


def node_text(node: Selector) -> str:
    """Plain text of one selected node (scripts and styles dropped), or the string it selected."""
    if isinstance(node.root, str):
        return node.root.strip()
    return normalize_text(node.get(), is_html=True).strip()


def first_text(sel: Selector, expr: str | None) -> str | None:
    if not expr:
        return None
    for node in select(sel, expr):
        text = node_text(node)
        if text:
            return text
    return None


def all_html(sel: Selector, expr: str) -> str:
    """Markup (or text) of every node the selector matches, joined by blank lines."""
    parts = []
    for node in select(sel, expr):
        parts.append(node.root if isinstance(node.root, str) else node.get())
    return "\n\n".join(p for p in parts if p and p.strip())


def safe_url(base: str, href: str | None) -> str | None:
    """Absolute http(s) URL for a link, or None for ``javascript:``, ``data:``, ``mailto:``, etc."""
    if not href:
        return None
    href = "".join(ch for ch in href.strip() if ch >= " " and ch != "\x7f")
    if not href or href.startswith("#"):
        return None
    absolute = urljoin(base, href)
    parts = urlsplit(absolute)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return absolute.split("#", 1)[0]


def link_targets(sel: Selector, expr: str) -> list[str]:
    """hrefs of the nodes a link selector matches (``a`` elements, or ``::attr(href)`` strings)."""
    out = []
    for node in select(sel, expr):
        if isinstance(node.root, str):
            out.append(node.root)
        else:
            href = node.attrib.get("href")
            if href is None:
                href = node.css("a::attr(href)").get()
            if href:
                out.append(href)
    return out


def dotted(data: Any, path: str | None) -> Any:
    """Value at a dotted path (``data.list``, ``items.0.title``); ``""`` is the whole document."""
    if not path:
        return data
    cur = data
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return None
            cur = cur[part]
        elif isinstance(cur, list) and part.lstrip("-").isdigit():
            idx = int(part)
            if not -len(cur) <= idx < len(cur):
                return None
            cur = cur[idx]
        else:
            return None
    return cur


REDIRECT_LOOP = "重定向次数过多 (redirect loop)"


def describe_failure(failure) -> str:
    """A short reason (Chinese first) for a failed request, as shown on the source."""
    from scrapy.exceptions import IgnoreRequest
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet import error as neterr

    exc = failure.value
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        msg = str(exc)
        if msg.startswith(("不在来源允许的站点内", "指向内网")):
            return msg
        if "robots" in msg.lower():
            return "robots.txt 禁止抓取 (forbidden by robots.txt)"
        if "redirect" in msg.lower():
            return REDIRECT_LOOP
        return f"请求被忽略 (ignored): {msg}"
    if isinstance(exc, neterr.TimeoutError | neterr.TCPTimedOutError) or "timeout" in type(exc).__name__.lower():
        return "请求超时 (timed out)"
    if isinstance(exc, neterr.DNSLookupError):
        return "域名解析失败 (DNS lookup failed)"
    if isinstance(exc, neterr.ConnectionRefusedError):
        return "连接被拒绝 (connection refused)"
    text = f"{type(exc).__name__}: {exc}"
    if "maxsize" in text.lower() or "cancel" in text.lower():
        return "页面超过大小上限 (response larger than DOWNLOAD_MAXSIZE)"
    return text[:300]


class WebSpider(scrapy.Spider):
    """Base of the configured spiders: job settings, notes about skipped pages, collected posts."""

    name = "yuqing-web"

    def __init__(self, job: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.cfg: dict[str, Any] = job["config"]
        self.now = datetime.fromisoformat(job["now"])
        self.tz: str = self.cfg.get("timezone", "Asia/Shanghai")
        self.known: set[str] = set(job.get("known_ids") or ())
        self.recheck: bool = bool(self.cfg.get("recheck", False))
        self.limit: int | None = job.get("limit")
        self.collected: list = []
        self.notes: list[tuple[str, str]] = []  # (url, reason): skipped pages and warnings
        self.list_errors: list[tuple[str, str]] = []
        self.counts: Counter[str] = Counter()

    def origin_policy(self, request=None):
        """Where this source's crawl may go (used by crawlers.guard.OriginGuardMiddleware)."""
        if getattr(self, "_origin_policy", None) is None:
            from crawlers.guard import OriginPolicy

            self._origin_policy = OriginPolicy.for_config(self.cfg)
        return self._origin_policy

    def refused(self, url: str) -> bool:
        """Whether ``url`` is outside the source's origins; a refusal is noted on the source."""
        reason = self.origin_policy().refusal(url)
        if reason:
            self.counts["refused_links"] += 1
            self.note(url, reason)
        return bool(reason)

    def note(self, url: str, reason: str) -> None:
        self.logger.warning("%s: %s", url, reason)
        self.notes.append((url, reason))

    def list_failed(self, failure) -> None:
        url = failure.request.url if getattr(failure, "request", None) else "?"
        self.list_errors.append((url, describe_failure(failure)))
        self.logger.warning("list page %s failed: %s", url, self.list_errors[-1][1])

    def detail_failed(self, failure) -> None:
        url = failure.request.url if getattr(failure, "request", None) else "?"
        self.counts["detail_failed"] += 1
        self.note(url, describe_failure(failure))
