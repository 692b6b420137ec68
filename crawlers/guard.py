"""Where a crawl may go: the origin guard against server-side request forgery (SSRF).

A crawl of a source requests only

* the origins (scheme, host, port) of the source's configured URLs (``url``, ``list_urls``), and
* hosts named in the source's ``allowed_domains`` (and their subdomains), on any port,

and never a private, loopback, link-local or otherwise non-public address unless it is the
source's own configured origin. Links and redirects anywhere else are refused before any
request is sent (for Scrapy the guard runs before robots.txt is fetched), and the refusal is
recorded on the source as a skipped page.

Used by the Scrapy spiders (:class:`OriginGuardMiddleware`, also for the distributed workers)
and by the feed fetcher (an httpx request hook that sees every redirect).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

REFUSED = "不在来源允许的站点内，已拒绝 (refused: outside the source's origins)"
REFUSED_PRIVATE = "指向内网 / 本机地址，已拒绝 (refused: private or loopback address)"

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) URL, or ``None``."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or _DEFAULT_PORTS[scheme]


def _is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself); [] if unknown."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return [host.strip("[]")]
    except ValueError:
        pass
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
    except (OSError, UnicodeError):
        return []


class OriginPolicy:
    """The places one source's crawl may request (see the module docstring)."""

    def __init__(self, configured_urls: Iterable[str], allowed_domains: Iterable[str] = (), *,
                 resolver: Callable[[str], list[str]] = resolve) -> None:
        self.origins = {o for o in (origin(u) for u in configured_urls if isinstance(u, str)) if o}
        self.domains = {d.strip().lower().lstrip(".").rstrip(".") for d in allowed_domains if d and d.strip()}
        self._resolver = resolver
        self._public: dict[str, bool] = {}

    @classmethod
    def for_config(cls, cfg: dict[str, Any]) -> OriginPolicy:
        """The policy of a source config (``url``, ``list_urls``, ``allowed_domains``)."""
        urls = list(cfg.get("list_urls") or [])
        if cfg.get("url"):
            # a JSON API URL may be a template ({page} ...): its origin is what matters
            urls.append(str(cfg["url"]).replace("{", "").replace("}", ""))
        return cls(urls, cfg.get("allowed_domains") or ())

    def _host_public(self, host: str) -> bool:
        if host not in self._public:
            addresses = self._resolver(host)
            self._public[host] = bool(addresses) and all(_is_public(a) for a in addresses)
        return self._public[host]

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be requested, or ``None`` when it may."""
        where = origin(url)
        if where is None:
            return REFUSED
        if where in self.origins:
            return None
        host = where[1]
        if not any(host == d or host.endswith("." + d) for d in self.domains):
            return REFUSED
        if not self._host_public(host):
            return REFUSED_PRIVATE
        return None


def validate_allowed_domains(value: Any) -> list[str]:
    """Check a source's ``allowed_domains``: a list of host names; raise ValueError otherwise."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError("allowed_domains 必须是域名列表，如 [\"example.gov.cn\"] (must be a list of host names)")
    out = []
    for v in value:
        host = v.strip().lower().lstrip(".")
        if "/" in host or ":" in host or " " in host:
            raise ValueError(f"allowed_domains 只写域名，不写协议、端口或路径 (host names only): {v!r}")
        out.append(host)
    return out


class OriginGuardMiddleware:
    """Scrapy downloader middleware: refuse requests outside the source's origins (runs before
    RobotsTxtMiddleware, so not even robots.txt of a refused origin is requested).

    The spider supplies the policy through ``origin_policy(request)``; a spider without that
    method is not guarded.
    """

    def process_request(self, request, spider: Any = None) -> None:
        spider = spider or getattr(getattr(self, "crawler", None), "spider", None)
        policy_of = getattr(spider, "origin_policy", None)
        if policy_of is None:
            return
        policy = policy_of(request)
        reason = policy.refusal(request.url) if policy is not None else None
        if reason:
            from scrapy.exceptions import IgnoreRequest

            raise IgnoreRequest(f"{reason}: {request.url[:200]}")
        return

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls()
        mw.crawler = crawler
        return mw
