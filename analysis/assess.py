"""Assess a batch of texts: sentiment, PII, monitoring categories and focus topics, severity, jurisdiction.

``Assessor`` bundles the engines and the compiled rules once; ``assess_batch`` is a pure function
of the texts (and their heat). The rules and gazetteer arrive as plain mappings (the parsed
``rules.toml`` and ``units.toml``) or as already compiled objects; all terms of all parts are
scanned in a single pass of one :class:`~analysis.rules.TermIndex` per text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from analysis.disposal import DisposalConfig
from analysis.jurisdiction import Gazetteer
from analysis.pii import find_pii
from analysis.rules import RuleError, RuleSet, TermIndex
from analysis.sentiment import SentimentEngine, load_engine
from analysis.severity import SeverityConfig, assess_severity


class TopicModel(Protocol):
    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]: ...


@dataclass
class Assessment:
    sentiment: str
    sentiment_score: float
    pii: list[str] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    topics: list[dict[str, Any]] = field(default_factory=list)
    topic: str | None = None
    topic_score: float | None = None
    sensitivity: float = 0.0
    severity: str = "一般"
    jurisdiction: str | None = None
    responsible_unit: str | None = None
    places: list[str] = field(default_factory=list)
    disposal_type: str | None = None
    rumour: bool = False
    rumour_terms: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sentiment": self.sentiment,
            "sentiment_score": round(self.sentiment_score, 4),
            "categories": self.categories,
            "topics": self.topics,
            "topic": self.topic,
            "topic_score": None if self.topic_score is None else round(self.topic_score, 4),
            "sensitivity": round(self.sensitivity, 4),
            "severity": self.severity,
            "jurisdiction": self.jurisdiction,
            "responsible_unit": self.responsible_unit,
            "places": self.places,
            "disposal_type": self.disposal_type,
            "rumour": self.rumour,
            "rumour_terms": self.rumour_terms,
            "pii": self.pii,
            "reasons": self.reasons,
        }


@dataclass
class RuleConfig:
    """Everything compiled from ``rules.toml``: rules, severity, disposal, topic-model units."""

    rules: RuleSet
    severity: SeverityConfig
    disposal: DisposalConfig
    model_units: dict[str, str] = field(default_factory=dict)
    model_min_prob: float = 0.5

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RuleConfig:
        if not isinstance(raw, Mapping):
            raise RuleError("规则配置应为表 (rules config must be a table)")
        rules = RuleSet.from_dicts(raw.get("rules", []))
        severity = SeverityConfig.from_dict(raw.get("severity"))
        disposal = DisposalConfig.from_dict(raw.get("disposal"), raw.get("rumour", {}))
        tm = raw.get("topic_model", {})
        if not isinstance(tm, Mapping):
            raise RuleError("[topic_model] 应为表")
        units = tm.get("lead_units", {})
        if not isinstance(units, Mapping) or not all(isinstance(v, str) and v for v in units.values()):
            raise RuleError("[topic_model.lead_units] 应为 标签 = 单位 的表")
        min_prob = tm.get("min_prob", 0.5)
        if isinstance(min_prob, bool) or not isinstance(min_prob, int | float) or not 0 <= min_prob <= 1:
            raise RuleError("[topic_model] min_prob 应为 0 到 1 之间的数")
        return cls(rules, severity, disposal, {str(k): v for k, v in units.items()}, float(min_prob))


class Assessor:
    """Holds the sentiment engine, the rules, the gazetteer and an optional topic model."""

    def __init__(
        self,
        *,
        sentiment: SentimentEngine | None = None,
        rules: RuleConfig | Mapping[str, Any] | None = None,
        units: Gazetteer | Mapping[str, Any] | None = None,
        topic_model: TopicModel | None = None,
        topic_units: bool = True,
    ) -> None:
        """``topic_units``: whether the topic model's label may name the lead department
        (``[topic_model.lead_units]``) when no focus-topic rule does; off for the shipped default
        model, which labels every message but leaves departments to the rules."""
        self.sentiment = sentiment or load_engine("default")
        self.config = RuleConfig.from_dict(rules) if isinstance(rules, Mapping) else rules
        self.gazetteer = Gazetteer.from_dict(units) if isinstance(units, Mapping) else units
        self.topic_model = topic_model
        self.topic_units = topic_units
        terms: set[str] = set()
        if self.config is not None:
            terms |= self.config.rules.terms() | set(self.config.severity.triggers) | self.config.disposal.terms()
        if self.gazetteer is not None:
            terms |= self.gazetteer.terms()
        self.index = TermIndex(terms)
        self._weights = (
            {r.id: r.weight for r in self.config.rules.rules} if self.config is not None else {}
        )

    @classmethod
    def from_config(
        cls,
        rules: Mapping[str, Any],
        units: Mapping[str, Any],
        *,
        sentiment: SentimentEngine | None = None,
        topic_model: TopicModel | None = None,
    ) -> Assessor:
        """Build from the parsed ``rules.toml`` and ``units.toml`` (raises :class:`RuleError`)."""
        return cls(sentiment=sentiment, rules=rules, units=units, topic_model=topic_model)

    def assess_batch(self, texts: Sequence[str], heats: Sequence[float | None] | None = None) -> list[Assessment]:
        """One :class:`Assessment` per text, in order; ``heats`` are optional post heats (likes, reposts…)."""
        texts = list(texts)
        if heats is not None and len(heats) != len(texts):
            raise ValueError("heats 与 texts 数量不一致 (heats and texts differ in length)")
        sentiments = self.sentiment.predict(texts)
        topics_pred = self.topic_model.predict(texts) if self.topic_model is not None and texts else None
        out = []
        for i, (text, res) in enumerate(zip(texts, sentiments, strict=True)):
            a = Assessment(
                sentiment=res.label,
                sentiment_score=res.score,
                pii=sorted({m.kind for m in find_pii(text)}),
            )
            if topics_pred is not None:
                label, prob = topics_pred[i]
                a.topic, a.topic_score = str(label), float(prob)
            self._assess_rules(a, text, None if heats is None else heats[i])
            out.append(a)
        return out

    def assess_rules(self, text: str, *, sentiment: str = "neutral", sentiment_score: float = 0.5,
                     heat: float | None = None) -> Assessment:
        """The rule-based part alone, for a text whose sentiment is already known."""
        a = Assessment(sentiment=sentiment, sentiment_score=sentiment_score)
        self._assess_rules(a, text, heat)
        return a

    def _assess_rules(self, a: Assessment, text: str, heat: float | None) -> None:
        cfg = self.config
        if cfg is None and self.gazetteer is None:
            return
        hits = self.index.scan(text)
        lead_units: list[str] = []
        if cfg is not None:
            a.categories, a.topics = cfg.rules.match(hits)
            for flag in sorted(a.topics, key=lambda f: -len(f["terms"])):
                unit = flag.get("lead_unit")
                if unit and unit not in lead_units:
                    lead_units.append(unit)
            if (not lead_units and self.topic_units and a.topic is not None
                    and (a.topic_score or 0) >= cfg.model_min_prob):
                unit = cfg.model_units.get(a.topic)
                if unit:
                    lead_units.append(unit)
                    a.reasons.append(f"主题模型：{a.topic}（{a.topic_score:.2f}）→ 主管单位{unit}")
            a.rumour_terms = cfg.disposal.rumour_signals(hits)
            a.rumour = bool(a.rumour_terms)
            sev = assess_severity(
                cfg.severity,
                text=text,
                hits=hits,
                sentiment_label=a.sentiment,
                sentiment_score=a.sentiment_score,
                categories=a.categories,
                topics=a.topics,
                rule_weights=self._weights,
                rumour=a.rumour,
                heat=heat,
            )
            a.sensitivity, a.severity = sev.sensitivity, sev.grade
            a.reasons.extend(sev.reasons)
            a.disposal_type, why = cfg.disposal.suggest(hits, grade=a.severity, rumour_terms=a.rumour_terms)
            if why:
                a.reasons.append(why)
        if self.gazetteer is not None:
            j = self.gazetteer.resolve(text, hits, lead_units)
            a.jurisdiction, a.responsible_unit, a.places = j.jurisdiction, j.responsible_unit, j.places
            a.reasons.extend(j.reasons)
