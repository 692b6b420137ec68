"""Build the domain objects from settings and the TOML files: the assessor, the calendar, rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analysis.assess import Assessor, RuleConfig
from analysis.jurisdiction import Gazetteer
from analysis.rules import RuleError
from analysis.sentiment import load_engine
from config.loader import ConfigFileError, config_path, load_toml
from config.settings import Settings


def load_rule_config(settings: Settings) -> RuleConfig:
    """The compiled ``rules.toml`` in force; :class:`ConfigFileError` names the file and the rule."""
    raw = load_toml("rules.toml", settings)
    try:
        return RuleConfig.from_dict(raw)
    except RuleError as exc:
        raise ConfigFileError(f"规则配置错误 {config_path('rules.toml', settings)}: {exc}") from exc


def load_gazetteer(settings: Settings) -> Gazetteer:
    """The compiled ``units.toml`` in force; :class:`ConfigFileError` names the file and the entry."""
    raw = load_toml("units.toml", settings)
    try:
        return Gazetteer.from_dict(raw)
    except RuleError as exc:
        raise ConfigFileError(f"地名库配置错误 {config_path('units.toml', settings)}: {exc}") from exc


def known_units(settings: Settings) -> list[str]:
    """The responsible units the configuration names, for the dashboard's unit pickers: each
    locality's government and the lead department of every focus topic (``rules.toml``, also
    the topic model's units) at each level, as the jurisdiction rules would write them."""
    rules = load_rule_config(settings)
    leads = [r.lead_unit for r in rules.rules.rules if r.lead_unit] + list(rules.model_units.values())
    return load_gazetteer(settings).unit_names(leads)


def load_topic_model(path: Path | str) -> Any:
    """A trained topic classifier (``.predict(texts) -> [(label, prob)]``) from ``path``;
    ``"default"`` is the shipped hotline model, ``"none"`` (or empty) gives None."""
    if str(path).strip().lower() in ("", "none"):
        return None
    if str(path) != "default" and not Path(path).is_file():
        raise ConfigFileError(f"主题模型文件不存在 (no such topic model file): {path}")
    try:
        from analysis.textmodel import TextModelError
        from analysis.topicmodel import load_topic_model as _load  # imported lazily: optional part
    except ImportError as exc:
        raise ConfigFileError(f"主题模型功能不可用 (topic models unavailable): {exc}") from exc
    try:
        return _load(path if str(path) == "default" else Path(path))
    except TextModelError as exc:
        raise ConfigFileError(f"主题模型无法加载 (cannot load the topic model): {exc}") from exc


def build_assessor(settings: Settings, *, topic_model_path: Path | str | None = None) -> Assessor:
    """The assessor configured by ``settings`` (sentiment engine, rules, gazetteer, topic model:
    ``topic_model_path`` when given, else the ``topic_model`` setting)."""
    rules = load_rule_config(settings)
    units = load_gazetteer(settings)
    chosen = settings.topic_model if topic_model_path is None else topic_model_path
    topic_model = load_topic_model(chosen)
    return Assessor(sentiment=load_engine(settings.sentiment_engine), rules=rules, units=units,
                    topic_model=topic_model, topic_units=str(chosen) != "default")
