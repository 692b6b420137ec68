"""Scrapy downloader middlewares for the web collectors.

* :class:`SchemeGuardMiddleware` refuses any request that is not plain http(s) (``javascript:``,
  ``data:``, ``file:`` ... links found on hostile pages are never followed).
* :class:`BackoffRetryMiddleware` is Scrapy's retry with exponential back-off between attempts
  (``RETRY_BACKOFF_BASE`` seconds, doubled per attempt, at most ``RETRY_BACKOFF_MAX``).
* :class:`ProxyMiddleware` sends every request through the configured proxy (``YUQING_PROXY``).
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.response import response_status_message

SAFE_SCHEMES = ("http://", "https://")


class SchemeGuardMiddleware:
    """Drop requests whose URL is not http(s)."""

    def process_request(self, request: Request, spider: Any = None) -> None:
        if not request.url.lower().startswith(SAFE_SCHEMES):
            raise IgnoreRequest(f"不抓取非 http(s) 链接 (refused scheme): {request.url[:80]}")


class BackoffRetryMiddleware(RetryMiddleware):
    """Retry transient failures, waiting longer before each further attempt."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 30.0)

    async def _wait(self, request: Request) -> None:
        attempt = int(request.meta.get("retry_times", 0))
        delay = min(self.backoff_max, self.backoff_base * (2**attempt))
        if delay <= 0:
            return
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))

    async def process_response(self, request: Request, response: Response,  # type: ignore[override]
                               spider: Any = None) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        await self._wait(request)
        return retry

    async def process_exception(self, request: Request, exception: Exception,  # type: ignore[override]
                                spider: Any = None) -> Request | Response | None:
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            return None
        await self._wait(request)
        return retry


class ProxyMiddleware:
    """Route requests through ``YUQING_PROXY`` (``http://user:pass@host:port``) when set."""

    def __init__(self, proxy: str) -> None:
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler):
        proxy = crawler.settings.get("YUQING_PROXY")
        if not proxy:
            raise NotConfigured
        return cls(proxy)

    def process_request(self, request: Request, spider: Any = None) -> None:
        request.meta.setdefault("proxy", self.proxy)
