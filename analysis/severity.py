"""Sensitivity score (0–1) and suggested grade (一般 / 较大 / 重大 / 特别重大), with the reasons in Chinese.

Each signal contributes a number in [0, 1]; the sensitivity is ``1 − ∏(1 − c)`` (a noisy-or, so it
stays in [0, 1] and no single weak signal dominates). Signals: negative sentiment, the heaviest
monitoring category and focus topic that fired, every distinct trigger term (伤亡, 爆炸, 群体性…),
rumour signals, and heat (likes, reposts…, log-scaled). The grade is the highest of the grade the
sensitivity reaches and the grade implied by casualty counts stated in the text ("造成 12 人死亡").
All weights and thresholds come from the ``[severity]`` table of ``rules.toml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from analysis.rules import Hits, RuleError

GRADES = ("一般", "较大", "重大", "特别重大")

_NUM = r"(\d{1,5}|[零一二两三四五六七八九十百千]{1,6})"
_DEATH = "死亡|遇难|身亡|罹难|丧生"
_HURT = "受伤|重伤|轻伤"
_CASUALTY_RES = (
    # 造成 3 人死亡 / 12 名工人受伤
    re.compile(_NUM + r"\s*(?:名|人|位)(?:[\u4e00-\u9fff]{0,3}?)(" + _DEATH + "|" + _HURT + ")"),
    # 死亡人数达 15 人 / 遇难 3 人
    re.compile(r"(" + _DEATH + "|" + _HURT + r")(?:人数)?(?:已达|达到|增至|升至|上升至|为|达|共)?\s*" + _NUM + r"\s*(?:名|人)"),
)
_DEATHS_HURT = re.compile(_NUM + r"死" + _NUM + r"伤")
_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def cn_number(s: str) -> int | None:
    """``"12"`` → 12, ``"十二"`` → 12, ``"三百零五"`` → 305; ``None`` when not a number."""
    if s.isdigit():
        return int(s)
    total, digit = 0, None
    for ch in s:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0)


def casualties(text: str) -> dict[str, int]:
    """The largest death (``死亡``) and injury (``受伤``) counts stated in ``text``."""
    out: dict[str, int] = {}

    def note(kind: str, raw: str) -> None:
        n = cn_number(raw)
        if n is not None and n > out.get(kind, 0):
            out[kind] = n

    if "死" not in text and "伤" not in text and "遇难" not in text and "罹难" not in text and "丧生" not in text:
        return out
    for m in _CASUALTY_RES[0].finditer(text):
        note("死亡" if m.group(2) in _DEATH.split("|") else "受伤", m.group(1))
    for m in _CASUALTY_RES[1].finditer(text):
        note("死亡" if m.group(1) in _DEATH.split("|") else "受伤", m.group(2))
    for m in _DEATHS_HURT.finditer(text):
        note("死亡", m.group(1))
        note("受伤", m.group(2))
    return out


@dataclass(frozen=True)
class SeverityConfig:
    negative_weight: float
    category_weight: float
    topic_weight: float
    heat_weight: float
    heat_full: float
    rumour_weight: float
    thresholds: tuple[tuple[str, float], ...]  # ascending by value
    triggers: Mapping[str, float]
    casualty_grades: tuple[tuple[str, int, str], ...]  # (kind, at_least, grade)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SeverityConfig:
        """Validate the ``[severity]`` table; :class:`RuleError` says which key is wrong."""
        if not isinstance(raw, Mapping):
            raise RuleError("[severity] 缺失或不是表 (missing table)")

        def num(key: str, *, upper: float | None = 1.0) -> float:
            value = raw.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RuleError(f"[severity] {key} 缺失或不是数字 (missing or not a number)")
            if value < 0 or (upper is not None and value > upper):
                raise RuleError(f"[severity] {key} = {value} 超出范围 (out of range)")
            return float(value)

        heat_full = num("heat_full", upper=None)
        if heat_full <= 0:
            raise RuleError("[severity] heat_full 应大于 0")
        th = raw.get("thresholds")
        if not isinstance(th, Mapping) or set(th) != set(GRADES[1:]):
            raise RuleError(f"[severity.thresholds] 须且只须给出 {'、'.join(GRADES[1:])} 的阈值")
        thresholds = []
        for grade in GRADES[1:]:
            v = th[grade]
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1:
                raise RuleError(f"[severity.thresholds] {grade} 应为 (0, 1] 之间的数")
            thresholds.append((grade, float(v)))
        if any(a[1] >= b[1] for a, b in pairwise(thresholds)):
            raise RuleError("[severity.thresholds] 阈值须随等级递增 (must increase with the grade)")
        triggers_raw = raw.get("triggers", {})
        if not isinstance(triggers_raw, Mapping):
            raise RuleError("[severity.triggers] 应为 词 = 权重 的表")
        triggers: dict[str, float] = {}
        for term, w in triggers_raw.items():
            if not term.strip() or isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1:
                raise RuleError(f"[severity.triggers] {term!r} 的权重应为 0 到 1 之间的数")
            triggers[term.lower()] = float(w)
        grades_raw = raw.get("casualties", [])
        if not isinstance(grades_raw, list):
            raise RuleError("[[severity.casualties]] 应为表的数组")
        casualty_grades = []
        for i, item in enumerate(grades_raw):
            if (
                not isinstance(item, Mapping)
                or item.get("kind") not in ("死亡", "受伤")
                or item.get("grade") not in GRADES
                or not isinstance(item.get("at_least"), int)
                or item["at_least"] < 1
            ):
                raise RuleError(
                    f"[[severity.casualties]] 第 {i + 1} 项应为 {{kind = 死亡|受伤, at_least = 正整数, grade = 等级}}"
                )
            casualty_grades.append((item["kind"], item["at_least"], item["grade"]))
        return cls(
            negative_weight=num("negative_weight"),
            category_weight=num("category_weight"),
            topic_weight=num("topic_weight"),
            heat_weight=num("heat_weight"),
            heat_full=heat_full,
            rumour_weight=num("rumour_weight"),
            thresholds=tuple(thresholds),
            triggers=triggers,
            casualty_grades=tuple(sorted(casualty_grades, key=lambda g: -g[1])),
        )

    def grade_for(self, sensitivity: float) -> str:
        grade = GRADES[0]
        for name, value in self.thresholds:
            if sensitivity >= value:
                grade = name
        return grade


@dataclass
class SeverityResult:
    sensitivity: float
    grade: str
    reasons: list[str]


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def assess_severity(
    cfg: SeverityConfig,
    *,
    text: str,
    hits: Hits,
    sentiment_label: str,
    sentiment_score: float,
    categories: Sequence[Mapping[str, Any]] = (),
    topics: Sequence[Mapping[str, Any]] = (),
    rule_weights: Mapping[str, float | None] | None = None,
    rumour: bool = False,
    heat: float | None = None,
) -> SeverityResult:
    """Sensitivity, grade and the reasons (Chinese), from the signals of one text."""
    weights = rule_weights or {}
    parts: list[tuple[float, str]] = []
    if sentiment_label == "negative" and cfg.negative_weight > 0:
        c = cfg.negative_weight * max(0.0, min(1.0, 1.0 - sentiment_score))
        parts.append((c, f"负面情绪（情感得分 {_fmt(sentiment_score)}）+{_fmt(c)}"))
    for flags, default, label in ((categories, cfg.category_weight, "监测类别"), (topics, cfg.topic_weight, "重点领域")):
        if not flags:
            continue
        scored = [(weights.get(f["id"]) if weights.get(f["id"]) is not None else default, f["name"]) for f in flags]
        c, name = max(scored, key=lambda s: s[0])
        names = "、".join(f"「{f['name']}」" for f in flags)
        parts.append((c, f"{label}{names} +{_fmt(c)}" if len(flags) > 1 else f"{label}「{name}」+{_fmt(c)}"))
    triggers = cfg.triggers
    for term in hits:  # in order of first appearance in the text
        w = triggers.get(term)
        if w:
            parts.append((w, f"触发词「{term}」+{_fmt(w)}"))
    if rumour and cfg.rumour_weight > 0:
        parts.append((cfg.rumour_weight, f"谣言信号 +{_fmt(cfg.rumour_weight)}"))
    if heat is not None and heat > 0 and cfg.heat_weight > 0:
        ratio = min(1.0, math.log1p(heat) / math.log1p(cfg.heat_full))
        c = cfg.heat_weight * ratio
        parts.append((c, f"热度 {heat:g} +{_fmt(c)}"))

    keep = 1.0
    for c, _ in parts:
        keep *= 1.0 - min(1.0, c)
    sensitivity = 1.0 - keep
    reasons = [r for _, r in parts]
    grade = cfg.grade_for(sensitivity)
    reasons.append(f"敏感度 {_fmt(sensitivity)} → {grade}")

    counts = casualties(text) if cfg.casualty_grades else {}
    done: set[str] = set()
    for kind, at_least, floor in cfg.casualty_grades:  # highest threshold first
        n = counts.get(kind, 0)
        if kind in done or n < at_least:
            continue
        done.add(kind)
        reasons.append(f"{kind} {n} 人（≥{at_least}）→ 不低于{floor}")
        if GRADES.index(floor) > GRADES.index(grade):
            grade = floor
    return SeverityResult(sensitivity=sensitivity, grade=grade, reasons=reasons)
