"""Scrapy settings for the web collectors: polite by default, overridable per source.

Defaults obey robots.txt, throttle automatically (AutoThrottle, a base delay and at most two
concurrent requests per domain), retry transient failures with exponential back-off, time out,
cap the response size, stop redirect chains and identify themselves with the configured user agent.

A source overrides them with friendly ``[politeness]`` keys or, for anything else on the allowed
list, raw Scrapy names in a ``[scrapy]`` table of its TOML config (see docs/SOURCES.md).
"""

from __future__ import annotations

from typing import Any

# Friendly per-source keys -> (Scrapy setting, type)
POLITENESS_KEYS: dict[str, tuple[str, type]] = {
    "obey_robots": ("ROBOTSTXT_OBEY", bool),
    "autothrottle": ("AUTOTHROTTLE_ENABLED", bool),
    "delay": ("DOWNLOAD_DELAY", float),
    "max_delay": ("AUTOTHROTTLE_MAX_DELAY", float),
    "concurrency": ("CONCURRENT_REQUESTS_PER_DOMAIN", int),
    "retries": ("RETRY_TIMES", int),
    "backoff": ("RETRY_BACKOFF_BASE", float),
    "timeout": ("DOWNLOAD_TIMEOUT", float),
    "max_bytes": ("DOWNLOAD_MAXSIZE", int),
    "max_redirects": ("REDIRECT_MAX_TIMES", int),
    "user_agent": ("USER_AGENT", str),
    "proxy": ("YUQING_PROXY", str),
}

# Scrapy settings a source may set in its [scrapy] table (politeness and limits only: the
# collection pipeline and middlewares cannot be replaced from a source config).
ALLOWED_SCRAPY_SETTINGS = frozenset(
    {
        "ROBOTSTXT_OBEY", "ROBOTSTXT_USER_AGENT",
        "AUTOTHROTTLE_ENABLED", "AUTOTHROTTLE_START_DELAY", "AUTOTHROTTLE_MAX_DELAY",
        "AUTOTHROTTLE_TARGET_CONCURRENCY",
        "CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "CONCURRENT_REQUESTS_PER_IP",
        "DOWNLOAD_DELAY", "DOWNLOAD_DELAY_JITTER", "DOWNLOAD_TIMEOUT", "DNS_TIMEOUT",
        "DOWNLOAD_MAXSIZE", "DOWNLOAD_WARNSIZE",
        "RETRY_ENABLED", "RETRY_TIMES", "RETRY_HTTP_CODES", "RETRY_BACKOFF_BASE", "RETRY_BACKOFF_MAX",
        "REDIRECT_ENABLED", "REDIRECT_MAX_TIMES", "METAREFRESH_ENABLED",
        "USER_AGENT", "DEFAULT_REQUEST_HEADERS", "COOKIES_ENABLED",
        "CLOSESPIDER_ITEMCOUNT", "CLOSESPIDER_PAGECOUNT", "CLOSESPIDER_ERRORCOUNT",
        "DEPTH_LIMIT", "YUQING_PROXY",
    }
)

BASE_SETTINGS: dict[str, Any] = {
    "BOT_NAME": "yuqing",
    "ROBOTSTXT_OBEY": True,
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 1.0,
    "AUTOTHROTTLE_MAX_DELAY": 30.0,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
    "DOWNLOAD_DELAY": 0.5,
    "DOWNLOAD_DELAY_JITTER": 0.5,  # each delay is 0.5x .. 1.5x DOWNLOAD_DELAY
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 2,
    "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
    "RETRY_BACKOFF_BASE": 1.0,  # seconds before the first retry; doubled for each further one
    "RETRY_BACKOFF_MAX": 30.0,
    "DOWNLOAD_TIMEOUT": 20.0,
    "DNS_TIMEOUT": 20,
    "DOWNLOAD_MAXSIZE": 10 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 2 * 1024 * 1024,
    "REDIRECT_MAX_TIMES": 5,
    "METAREFRESH_ENABLED": False,
    "COOKIES_ENABLED": False,
    "USER_AGENT": "yuqing-taizhang",
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "LOG_ENABLED": True,
    "STATS_DUMP": False,
    "DEFAULT_REQUEST_HEADERS": {
        "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8",
        "Accept-Language": "zh-CN,zh;q=0.9",
    },
    "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "crawlers.middlewares.BackoffRetryMiddleware": 550,
        "crawlers.middlewares.ProxyMiddleware": 740,
        "crawlers.middlewares.SchemeGuardMiddleware": 50,
        # before RobotsTxtMiddleware (100): a refused origin gets no request, not even robots.txt
        "crawlers.guard.OriginGuardMiddleware": 60,
    },
    "ITEM_PIPELINES": {
        "crawlers.pipelines.NormalizePipeline": 100,
        "crawlers.pipelines.CollectPipeline": 900,
    },
    "YUQING_PROXY": None,
}


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name} 必须是 true 或 false (must be a boolean), 实际为 {value!r}")
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} 必须是数字 (must be a number), 实际为 {value!r}")
        if value < 0:
            raise ValueError(f"{name} 不能为负数 (must not be negative): {value!r}")
        return kind(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} 必须是字符串 (must be a string), 实际为 {value!r}")
    return value


def validate_overrides(cfg: dict[str, Any]) -> None:
    """Check a source's ``[politeness]`` and ``[scrapy]`` tables; raise ValueError naming the key."""
    politeness = cfg.get("politeness", {})
    if not isinstance(politeness, dict):
        raise ValueError("[politeness] 必须是表 (must be a table)")
    for key, value in politeness.items():
        if key not in POLITENESS_KEYS:
            raise ValueError(f"[politeness] 不认识的键 {key!r}; 可用: {', '.join(sorted(POLITENESS_KEYS))}")
        _coerce(f"politeness.{key}", value, POLITENESS_KEYS[key][1])
    scrapy_tbl = cfg.get("scrapy", {})
    if not isinstance(scrapy_tbl, dict):
        raise ValueError("[scrapy] 必须是表 (must be a table)")
    for key in scrapy_tbl:
        if key not in ALLOWED_SCRAPY_SETTINGS:
            raise ValueError(f"[scrapy] 不允许的设置 {key!r} (not an allowed Scrapy setting); "
                             f"可用: {', '.join(sorted(ALLOWED_SCRAPY_SETTINGS))}")


def build_settings(cfg: dict[str, Any], *, user_agent: str | None = None, timeout: float | None = None,
                   max_bytes: int | None = None, proxy: str | None = None) -> dict[str, Any]:
    """Scrapy settings for one source: base defaults, then the runtime options, then the source's
    ``[politeness]`` keys, then its ``[scrapy]`` table (later wins)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE_SETTINGS.items()}
    if user_agent:
        out["USER_AGENT"] = user_agent
    if timeout:
        out["DOWNLOAD_TIMEOUT"] = float(timeout)
        out["DNS_TIMEOUT"] = int(max(1, timeout))
    if max_bytes:
        out["DOWNLOAD_MAXSIZE"] = int(max_bytes)
        out["DOWNLOAD_WARNSIZE"] = int(max_bytes) // 4
    if proxy:
        out["YUQING_PROXY"] = proxy
    validate_overrides(cfg)
    for key, value in cfg.get("politeness", {}).items():
        name, kind = POLITENESS_KEYS[key]
        out[name] = _coerce(f"politeness.{key}", value, kind)
    for key, value in cfg.get("scrapy", {}).items():
        out[key] = value
    if out.get("DOWNLOAD_WARNSIZE", 0) > out.get("DOWNLOAD_MAXSIZE", 0) > 0:
        out["DOWNLOAD_WARNSIZE"] = out["DOWNLOAD_MAXSIZE"]
    return out
