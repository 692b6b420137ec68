"""Source templates wired to settings: the catalogue in force (``templates.toml`` in
``YUQING_CONFIG_DIR`` or the shipped one) and the RSSHub instance (``YUQING_RSSHUB_URL``).
Used by ``yuqing source templates`` / ``source add --template`` and by 设置 · 来源."""

from __future__ import annotations

from config.loader import config_path
from config.settings import Settings
from crawlers.templates import (
    SourceSpec,
    Template,
    TemplateError,
    expand,
    load_templates,
    parse_params,
)

__all__ = ["SourceSpec", "Template", "TemplateError", "expand_template", "load_catalogue"]


def load_catalogue(settings: Settings) -> dict[str, Template]:
    """Every template of the catalogue in force, by name."""
    return load_templates(config_path("templates.toml", settings))


def expand_template(settings: Settings, template: str, params: list[str] | dict[str, str], *,
                    name: str | None = None, interval: int | None = None) -> SourceSpec:
    """The source that ``template`` makes with ``params`` (``key=value`` strings or a dict)."""
    catalogue = load_catalogue(settings)
    found = catalogue.get(template)
    if found is None:
        raise TemplateError(f"没有名为 {template!r} 的来源模板; 可用: {', '.join(sorted(catalogue))}")
    given = parse_params(params) if isinstance(params, list) else dict(params)
    return expand(found, given, rsshub_url=settings.rsshub_url, name=name, interval=interval)
