"""Assess a batch of texts: sentiment, PII found, and (as configured) categories, topics, severity.

``Assessor`` bundles the engines and rules once; ``assess_batch`` is a pure function of the texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.pii import find_pii
from analysis.sentiment import SentimentEngine, load_engine


@dataclass
class Assessment:
    sentiment: str
    sentiment_score: float
    pii: list[str] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    topics: list[dict[str, Any]] = field(default_factory=list)
    topic: str | None = None
    sensitivity: float = 0.0
    severity: str = "一般"
    jurisdiction: str | None = None
    responsible_unit: str | None = None
    disposal_type: str | None = None
    rumour: bool = False
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sentiment": self.sentiment,
            "sentiment_score": round(self.sentiment_score, 4),
            "categories": self.categories,
            "topics": self.topics,
            "topic": self.topic,
            "sensitivity": round(self.sensitivity, 4),
            "severity": self.severity,
            "jurisdiction": self.jurisdiction,
            "responsible_unit": self.responsible_unit,
            "disposal_type": self.disposal_type,
            "rumour": self.rumour,
            "pii": self.pii,
            "reasons": self.reasons,
        }


class Assessor:
    """Holds the sentiment engine (and, once configured, rules and models) for batch assessment."""

    def __init__(self, *, sentiment: SentimentEngine | None = None) -> None:
        self.sentiment = sentiment or load_engine("default")

    def assess_batch(self, texts: Sequence[str]) -> list[Assessment]:
        results = self.sentiment.predict(list(texts))
        out = []
        for text, res in zip(texts, results, strict=True):
            out.append(
                Assessment(
                    sentiment=res.label,
                    sentiment_score=res.score,
                    pii=sorted({m.kind for m in find_pii(text)}),
                )
            )
        return out
