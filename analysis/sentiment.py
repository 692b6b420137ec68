"""Three-way sentiment (positive / neutral / negative) with a score, behind one engine interface.

Engines: ``snownlp`` (SnowNLP's default model, the baseline) and trained linear models loaded from
a file written by ``yuqing model train sentiment`` (see ``analysis.textmodel``).
``load_engine("default")`` returns the shipped default engine: the model in
``analysis/models/sentiment_default.npz`` (see docs/MODEL_CARD_sentiment.md), loaded on first use
and cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

LABELS = ("negative", "neutral", "positive")
DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "sentiment_default.npz"


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
    """SnowNLP's bundled default sentiment model (trained on product reviews).

    Only the first ``max_chars`` characters of a text are scored: SnowNLP segments a text
    character by character in Python (a few hundred µs a character on a 2-core test machine),
    so a crawled page of a few hundred thousand characters would hold a crawl worker for many
    minutes; the opening of a post carries its tone."""

    name = "snownlp"

    def __init__(self, low: float = 0.4, high: float = 0.6, max_chars: int = 1000) -> None:
        self.low, self.high, self.max_chars = low, high, max_chars

    def predict(self, texts: Sequence[str]) -> list[SentimentResult]:
        from snownlp import SnowNLP

        out = []
        for text in texts:
            if not text or not text.strip():
                out.append(SentimentResult("neutral", 0.5))
                continue
            score = float(SnowNLP(text[: self.max_chars]).sentiments)
            out.append(SentimentResult(label_for(score, self.low, self.high), score))
        return out


class LinearSentimentEngine:
    """A trained sentiment model: its polarity part scores positive vs negative; when the model
    has a learned neutral head, texts it finds neutral (probability at least the model's
    threshold) are ``neutral``, and so are scores inside the model's neutral band.

    The score is the probability of *positive* shrunk towards 0.5 by the probability of
    neutral: ``0.5 + (p_pos - 0.5) · (1 - p_neutral)``; without a neutral head it is ``p_pos``.
    A ``negative`` label always has a score below 0.5 and a ``positive`` one above.

    Prediction is batched: a list of posts is vectorised in one pass, so call ``predict`` with
    many texts at once.
    """

    def __init__(self, model, name: str | None = None) -> None:  # model: LinearTextModel
        if model.task != "sentiment" or sorted(model.classes) != ["negative", "positive"]:
            raise ValueError("不是情感模型 (not a sentiment model)")
        self.model = model
        self.name = name or str(model.info.get("name", "trained"))
        self.low, self.high = (float(x) for x in model.info.get("band", (0.45, 0.55)))
        self.neutral_threshold = float(model.info.get("neutral_threshold", 0.5))

    def _parts(self, texts: Sequence[str]):
        import numpy as np

        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return np.zeros(0), None
        p_pos, p_neu = self.model.sentiment_parts(texts)
        blank = np.fromiter((not t.strip() for t in texts), dtype=bool, count=len(texts))
        p_pos[blank] = 0.5
        if p_neu is not None:
            p_neu[blank] = 1.0
        return p_pos, p_neu

    @staticmethod
    def _score(p_pos, p_neu):
        return p_pos if p_neu is None else 0.5 + (p_pos - 0.5) * (1.0 - p_neu)

    def scores(self, texts: Sequence[str]):
        """The score of each text (numpy array; see the class); blank texts get 0.5."""
        return self._score(*self._parts(texts))

    def neutral_probability(self, texts: Sequence[str]):
        """P(neutral) of the model's neutral head for each text, or None without a head."""
        return self._parts(texts)[1]

    def predict(self, texts: Sequence[str]) -> list[SentimentResult]:
        import numpy as np

        p_pos, p_neu = self._parts(texts)
        labels = np.where(
            p_pos < self.low, "negative", np.where(p_pos > self.high, "positive", "neutral")
        )
        if p_neu is not None:
            labels = np.where(p_neu >= self.neutral_threshold, "neutral", labels)
        score = self._score(p_pos, p_neu)
        return [
            SentimentResult(lab, sc) for lab, sc in zip(labels.tolist(), score.tolist(), strict=True)
        ]


def load_model_engine(path: str | Path, name: str | None = None) -> LinearSentimentEngine:
    """Engine for the sentiment model file at ``path`` (``TextModelError`` when unusable)."""
    from analysis.textmodel import load_model

    return LinearSentimentEngine(load_model(path, "sentiment"), name=name)


@lru_cache(maxsize=1)
def default_engine() -> LinearSentimentEngine:
    """The shipped default engine, loaded once on first use."""
    return load_model_engine(DEFAULT_MODEL, name="default")


def load_engine(spec: str = "default") -> SentimentEngine:
    """Return the engine named by ``spec``: ``default``, ``snownlp`` or a path to a model file."""
    if spec == "snownlp":
        return SnowNLPEngine()
    if spec == "default":
        return default_engine()
    if Path(spec).is_file():
        return load_model_engine(spec)
    raise ValueError(f"未知的情感引擎或模型文件不存在 (unknown engine / model not found): {spec}")
