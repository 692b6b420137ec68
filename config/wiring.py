"""Build the domain objects from settings and the TOML files: the assessor, the calendar, rules."""

from __future__ import annotations

from pathlib import Path

from analysis.assess import Assessor
from analysis.sentiment import load_engine
from config.settings import Settings


def build_assessor(settings: Settings, *, topic_model_path: Path | None = None) -> Assessor:
    """The assessor configured by ``settings`` (sentiment engine, rules, gazetteer, topic model)."""
    return Assessor(sentiment=load_engine(settings.sentiment_engine))
