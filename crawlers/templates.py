"""Source templates: a catalogue of parameterised sources shipped as data (``templates.toml``).

:func:`load_templates` reads and checks the catalogue; :func:`expand` turns one template and
its parameters into the same source (kind, URL, config) that ``yuqing source add --kind …``
makes, so a template source crawls exactly like a hand-written one. RSSHub templates put their
route on the configured RSSHub instance (``YUQING_RSSHUB_URL``, handed in by the caller: crawlers
never read config). Every source made from a template records its template and parameters in its
config and its own origin(s) as configured URLs, so a crawl may follow links to them only.

:func:`explain_failure` turns the HTTP status an RSSHub route answers when it lacks a cookie
or a headless browser (403 / 418 / 503) into a problem an office can act on.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

KINDS = ("rss", "html", "json", "board")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# what RSSHub answers when a route needs a cookie (403), is blocked upstream (418 / 403) or
# its headless browser is missing / failed (503)
RSSHUB_BLOCKED = (403, 418, 503)
RUNTIME_PLACEHOLDERS = {"page", "id", "path", "params", "app_code"}  # filled at crawl time (URLs, signature recipe)


class TemplateError(ValueError):
    """A template catalogue or a template request that cannot be used; the message is Chinese."""


@dataclass(frozen=True)
class Param:
    name: str
    label: str
    required: bool = True
    default: str | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    collects: str
    kind: str
    params: tuple[Param, ...] = ()
    rsshub: bool = False
    route: str | None = None
    needs: str = ""
    hotlist: bool = False
    interval: int | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """The template as shown by ``yuqing source templates --json`` and on 设置 · 来源."""
        return {
            "name": self.name, "title": self.title, "collects": self.collects, "kind": self.kind,
            "rsshub": self.rsshub, "route": self.route, "needs_cookie": "cookie" in self.needs.lower(),
            "needs_puppeteer": "puppeteer" in self.needs.lower(), "needs": self.needs,
            "hotlist": self.hotlist, "interval": self.interval,
            "params": [{"name": p.name, "label": p.label, "required": p.required, "default": p.default,
                        "pattern": p.pattern} for p in self.params],
        }


@dataclass
class SourceSpec:
    """What ``add_source`` needs: the source a template expands to."""

    kind: str
    url: str
    config: dict[str, Any]
    interval: int | None
    name: str


def load_templates(path: Path) -> dict[str, Template]:
    """Read the catalogue at ``path``; raise :class:`TemplateError` naming the file and template."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TemplateError(f"模板文件不存在: {path}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TemplateError(f"模板文件格式错误 {path}: {exc}") from exc
    out: dict[str, Template] = {}
    for name, raw in (data.get("templates") or {}).items():
        out[name] = _template(name, raw, path)
    return out


def _template(name: str, raw: Any, path: Path) -> Template:
    where = f"{path} 模板 {name}"
    if not isinstance(raw, dict):
        raise TemplateError(f"{where}: 必须是表 (must be a table)")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise TemplateError(f"{where}: kind 必须是 {' | '.join(KINDS)} 之一, 实际为 {kind!r}")
    for key in ("title", "collects"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise TemplateError(f"{where}: 缺少 {key}")
    params = []
    for p in raw.get("params") or []:
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            raise TemplateError(f"{where}: params 的每一项都要有 name")
        if p.get("pattern"):
            try:
                re.compile(p["pattern"])
            except re.error as exc:
                raise TemplateError(f"{where}: 参数 {p['name']} 的 pattern 无效: {exc}") from exc
        params.append(Param(name=p["name"], label=str(p.get("label") or p["name"]),
                            required=bool(p.get("required", True)),
                            default=None if p.get("default") is None else str(p["default"]),
                            pattern=p.get("pattern")))
    rsshub = bool(raw.get("rsshub", False))
    route = raw.get("route")
    if rsshub and (not isinstance(route, str) or not route.startswith("/")):
        raise TemplateError(f"{where}: RSSHub 模板需要以 / 开头的 route")
    if not rsshub and not raw.get("config"):
        raise TemplateError(f"{where}: 非 RSSHub 模板需要 [config] 表")
    names = {p.name for p in params}
    used = set(_PLACEHOLDER.findall(route or "")) | _placeholders(raw.get("config") or {})
    unknown = sorted(used - names - RUNTIME_PLACEHOLDERS)
    if unknown:
        raise TemplateError(f"{where}: 使用了未声明的参数 {', '.join(unknown)}")
    return Template(name=name, title=raw["title"], collects=raw["collects"], kind=kind, params=tuple(params),
                    rsshub=rsshub, route=route, needs=str(raw.get("needs") or ""),
                    hotlist=bool(raw.get("hotlist", False)), interval=raw.get("interval"),
                    config=dict(raw.get("config") or {}))


def _placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(_placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_placeholders(v) for v in value)) if value else set()
    return set()


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``["key=value", …]`` from the command line → a dict; a pair without ``=`` is refused."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise TemplateError(f"--param 必须写成 key=value: {pair!r}")
        out[key.strip()] = value.strip()
    return out


def resolve_params(template: Template, given: dict[str, str]) -> dict[str, str]:
    """The template's parameters filled from ``given`` and defaults, each checked."""
    known = {p.name for p in template.params}
    extra = sorted(set(given) - known)
    if extra:
        allowed = "、".join(sorted(known)) or "无"
        raise TemplateError(f"模板 {template.name} 没有参数 {', '.join(extra)} (可用参数: {allowed})")
    values: dict[str, str] = {}
    for p in template.params:
        value = given.get(p.name, p.default)
        if value is None or not str(value).strip():
            if p.required:
                raise TemplateError(f"模板 {template.name} 需要参数 {p.name} ({p.label}): --param {p.name}=…")
            value = ""
        value = str(value).strip()
        if value and p.pattern and not re.search(p.pattern, value):
            raise TemplateError(f"参数 {p.name} 的值不符合要求 ({p.label}): {value!r}")
        values[p.name] = value
    return values


def _fill(value: Any, params: dict[str, str]) -> Any:
    """Put parameter values into every string of ``value``; placeholders filled at crawl time
    (``{page}``) stay. In a string that is a URL, a word goes in percent-encoded."""
    if isinstance(value, str):
        is_url = value.startswith(("http://", "https://", "{"))

        def sub(m: re.Match) -> str:
            key = m.group(1)
            if key not in params:
                return m.group(0)
            v = params[key]
            if is_url and m.start() > 0 and not v.startswith(("http://", "https://")):
                return quote(v, safe="")
            return v

        return _PLACEHOLDER.sub(sub, value)
    if isinstance(value, dict):
        return {k: _fill(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, params) for v in value]
    return value


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def expand(template: Template, given: dict[str, str], *, rsshub_url: str | None,
           name: str | None = None, interval: int | None = None) -> SourceSpec:
    """The source ``template`` makes with parameters ``given``; raise :class:`TemplateError`."""
    params = resolve_params(template, given)
    label = "、".join(v for v in params.values() if v and not v.startswith(("http://", "https://")))
    default_name = f"{template.title} {label}".strip()
    meta = {"template": template.name, "params": params}
    if template.hotlist:
        meta["hotlist"] = True
    if template.rsshub:
        if not rsshub_url or not rsshub_url.strip().lower().startswith(("http://", "https://")):
            raise TemplateError("RSSHub 模板需要设置 YUQING_RSSHUB_URL (本单位自建的 RSSHub 地址, 如 "
                                "http://rsshub.intranet:1200)")
        route = _PLACEHOLDER.sub(lambda m: quote(params[m.group(1)], safe=""), template.route or "")
        url = rsshub_url.strip().rstrip("/") + route
        config = {**meta, "rsshub": True, "needs": template.needs, "origins": [origin(url)]}
        return SourceSpec(kind="rss", url=url, config=config, interval=interval or template.interval,
                          name=name or default_name)
    config = _fill(template.config, params)
    if template.kind == "html":
        url = config["list_urls"][0]
    elif template.kind == "json":
        url = config["url"]
    else:  # board: its base
        url = config.get("base") or ""
    if not url.lower().startswith(("http://", "https://")):
        raise TemplateError(f"模板 {template.name} 展开后的地址不是 http(s) URL: {url!r}")
    config = {**config, **meta}
    if template.kind == "board":
        config["origins"] = [origin(url)]
    return SourceSpec(kind=template.kind, url=url, config=config, interval=interval or template.interval,
                      name=name or default_name)


def explain_failure(source_config: dict[str, Any] | None, message: str) -> str:
    """A clearer problem for a failed crawl of an RSSHub template source: a route answering
    403 / 418 / 503 needs a cookie or a headless browser on the RSSHub instance."""
    cfg = source_config or {}
    if not cfg.get("rsshub"):
        return message
    m = re.match(r"HTTP (\d{3})\b", message)
    if not m or int(m.group(1)) not in RSSHUB_BLOCKED:
        return message
    needs = cfg.get("needs") or ""
    hint = "需配置 Cookie / Puppeteer"
    if needs:
        hint += f" (此路由需要 {needs})"
    return (f"{hint}: RSSHub 路由拒绝访问 ({message})。请在自建 RSSHub 上配置该平台的 Cookie "
            "或启用 Puppeteer, 见 docs/SOURCES.md。")
