"""Disposal type suggestion (分类处置, six types) and rumour signals, from cue terms in config.

Order of decision: rumour signals → ``rumour_type`` (虚假和不实信息); a suggested grade among
``major_grades`` → ``major_type`` (重大问题); otherwise the type whose cue terms score highest
(distinct cues × the type's weight), if that reaches ``min_score``; otherwise no suggestion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from analysis.rules import Hits, RuleError

DISPOSAL_TYPES = (
    "建设性意见建议",
    "实际困难",
    "重大问题",
    "不了解情况、存在模糊认识",
    "错误看法",
    "虚假和不实信息",
)


@dataclass(frozen=True)
class DisposalType:
    name: str
    weight: float
    cues: tuple[str, ...]


@dataclass(frozen=True)
class DisposalConfig:
    types: tuple[DisposalType, ...]
    min_score: float
    rumour_type: str
    major_type: str
    major_grades: frozenset[str]
    rumour_terms: tuple[str, ...]

    @classmethod
    def from_dict(cls, disposal: Mapping[str, Any], rumour: Mapping[str, Any]) -> DisposalConfig:
        """Validate the ``[disposal]`` and ``[rumour]`` tables."""
        if not isinstance(disposal, Mapping):
            raise RuleError("[disposal] 缺失或不是表 (missing table)")
        if not isinstance(rumour, Mapping):
            raise RuleError("[rumour] 缺失或不是表 (missing table)")
        for key in ("rumour_type", "major_type"):
            if disposal.get(key) not in DISPOSAL_TYPES:
                raise RuleError(f"[disposal] {key} 应为六种处置类型之一: {'、'.join(DISPOSAL_TYPES)}")
        min_score = disposal.get("min_score", 1.0)
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) or min_score <= 0:
            raise RuleError("[disposal] min_score 应为正数")
        grades = disposal.get("major_grades", [])
        if not isinstance(grades, list) or not all(isinstance(g, str) for g in grades):
            raise RuleError("[disposal] major_grades 应为等级名称列表")
        types = []
        raw_types = disposal.get("types", [])
        if not isinstance(raw_types, list):
            raise RuleError("[[disposal.types]] 应为表的数组")
        for i, t in enumerate(raw_types):
            name = t.get("name") if isinstance(t, Mapping) else None
            if name not in DISPOSAL_TYPES:
                raise RuleError(
                    f"[[disposal.types]] 第 {i + 1} 项的 name {name!r} 不是六种处置类型之一: {'、'.join(DISPOSAL_TYPES)}"
                )
            cues = t.get("cues")
            if not isinstance(cues, list) or not cues or not all(isinstance(c, str) and c.strip() for c in cues):
                raise RuleError(f"[[disposal.types]] {name}: cues 应为非空的词语列表")
            weight = t.get("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise RuleError(f"[[disposal.types]] {name}: weight 应为正数")
            types.append(DisposalType(name, float(weight), tuple(c.lower() for c in cues)))
        terms = rumour.get("terms", [])
        if not isinstance(terms, list) or not all(isinstance(c, str) and c.strip() for c in terms):
            raise RuleError("[rumour] terms 应为词语列表")
        return cls(
            types=tuple(types),
            min_score=float(min_score),
            rumour_type=disposal["rumour_type"],
            major_type=disposal["major_type"],
            major_grades=frozenset(grades),
            rumour_terms=tuple(t.lower() for t in terms),
        )

    @cached_property
    def _cue_types(self) -> dict[str, tuple[int, ...]]:
        out: dict[str, list[int]] = {}
        for k, t in enumerate(self.types):
            for c in t.cues:
                out.setdefault(c, []).append(k)
        return {c: tuple(ks) for c, ks in out.items()}

    def terms(self) -> set[str]:
        out = set(self.rumour_terms)
        for t in self.types:
            out.update(t.cues)
        return out

    def rumour_signals(self, hits: Hits) -> list[str]:
        """The rumour signal terms present (empty when none)."""
        return [t for t in self.rumour_terms if t in hits]

    def suggest(self, hits: Hits, *, grade: str, rumour_terms: list[str]) -> tuple[str | None, str | None]:
        """``(type, reason)``: the suggested disposal type and why, or ``(None, None)``."""
        if rumour_terms:
            return self.rumour_type, f"处置类型：出现谣言信号（{'、'.join(rumour_terms)}）→ {self.rumour_type}"
        if grade in self.major_grades:
            return self.major_type, f"处置类型：建议等级为{grade} → {self.major_type}"
        found_by_type: dict[int, list[str]] = {}
        cue_types = self._cue_types
        for term in hits:
            for k in cue_types.get(term, ()):
                found_by_type.setdefault(k, []).append(term)
        best: tuple[float, DisposalType, list[str]] | None = None
        for k in sorted(found_by_type):
            t, found = self.types[k], found_by_type[k]
            score = t.weight * len(found)
            if best is None or score > best[0]:
                best = (score, t, found)
        if best is None or best[0] < self.min_score:
            return None, None
        score, t, found = best
        return t.name, f"处置类型：提示词（{'、'.join(found)}）→ {t.name}"
