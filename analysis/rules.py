"""Keyword rules for monitoring categories and focus topics, and the fast multi-term matcher under them.

A rule is plain data (usually from ``rules.toml``)::

    {"id": "topic.wage", "name": "工资拖欠", "kind": "topic", "lead_unit": "人社局",
     "all": [["工资", "薪水"]],          # every item must occur; an item may be a list of synonyms
     "any": ["拖欠", "讨薪"],            # at least ``min_any`` (default 1) of these must occur
     "none": ["招聘"],                  # none of these may occur
     "near": [{"a": ["工资"], "b": ["没发", "拖欠"], "within": 8}],  # each clause must hold
     "threshold": 0.6, "weight": 0.1}

Every condition that is given must hold; at least one of ``all`` / ``any`` / ``near`` is required.
Several rules may share a ``name``: their flags are merged, which is how "A or (B near C)" is written.

All terms of all rules (and of the other assessors: severity triggers, disposal cues, place names)
go into one :class:`TermIndex`, which scans a text once and reports every occurrence of every term,
overlapping ones included; rules are then evaluated from those hits only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS = ("category", "topic")
Hits = dict[str, list[int]]  # term -> start positions (in the lower-cased text)


class RuleError(ValueError):
    """A rule (or another part of the assessment config) is invalid; the message names it."""


# ---------------------------------------------------------------------------------------------
# the matcher
# ---------------------------------------------------------------------------------------------


class TermIndex:
    """Find every occurrence of a fixed set of terms in a text, in one pass over the text.

    The terms go into an Aho–Corasick automaton (``pyahocorasick``, in C): one pass over the
    text reports every occurrence of every term, overlapping ones included (``拖欠农民工工资``
    yields 拖欠, 农民工, 农民, 民工, 工资…). Matching is case-insensitive for Latin letters (text
    and terms are lower-cased). The hits come keyed in the order the terms first appear in the
    text (terms starting at the same place in alphabetical order; single characters after all
    longer terms): severity reasons and disposal cues are listed in that order.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        import ahocorasick  # lazily: the automaton is built once per index, not at import

        uniq = sorted({t.lower() for t in terms if t and t.strip()})
        self.terms: frozenset[str] = frozenset(uniq)
        self._auto = ahocorasick.Automaton()
        for t in uniq:
            self._auto.add_word(t, (t, len(t) - 1))
        if uniq:
            self._auto.make_automaton()

    def __reduce__(self):  # the automaton is rebuilt, not pickled (import workers get a copy)
        return (TermIndex, (sorted(self.terms),))

    def scan(self, text: str) -> Hits:
        """Map each term found in ``text`` to its start positions (in order)."""
        if not text or not self.terms:
            return {}
        found: dict[str, list[int]] = {}
        for end, (t, back) in self._auto.iter(text.lower()):
            pos = found.get(t)
            if pos is None:
                found[t] = [end - back]
            else:
                pos.append(end - back)
        if len(found) < 2:
            return found
        # an occurrence is reported at its end: put the terms in order of their first start
        order = sorted(found, key=lambda t: (len(t) == 1, found[t][0], t))
        return {t: found[t] for t in order}


# ---------------------------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Near:
    a: tuple[str, ...]
    b: tuple[str, ...]
    within: int  # max characters between the end of one term and the start of the other


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    kind: str
    all: tuple[tuple[str, ...], ...] = ()
    any: tuple[str, ...] = ()
    min_any: int = 1
    none: tuple[str, ...] = ()
    near: tuple[Near, ...] = ()
    threshold: float | None = None
    lead_unit: str | None = None
    weight: float | None = None

    def terms(self) -> set[str]:
        out = {t for group in self.all for t in group} | set(self.any) | set(self.none)
        for n in self.near:
            out |= set(n.a) | set(n.b)
        return out

    def positive_terms(self) -> set[str]:
        out = {t for group in self.all for t in group} | set(self.any)
        for n in self.near:
            out |= set(n.a) | set(n.b)
        return out

    def match(self, hits: Hits) -> list[str] | None:
        """The terms that fire this rule on a text with ``hits``, or ``None`` when it does not fire."""
        fired: list[str] = []
        for t in self.none:
            if t in hits:
                return None
        for group in self.all:
            found = [t for t in group if t in hits]
            if not found:
                return None
            fired.extend(found)
        if self.any:
            found = [t for t in self.any if t in hits]
            if len(found) < self.min_any:
                return None
            fired.extend(found)
        for clause in self.near:
            pair = _near_pair(clause, hits)
            if pair is None:
                return None
            fired.extend(pair)
        return list(dict.fromkeys(fired))


def _near_pair(clause: Near, hits: Hits) -> tuple[str, str] | None:
    for a in clause.a:
        pa = hits.get(a)
        if not pa:
            continue
        for b in clause.b:
            pb = hits.get(b)
            if not pb:
                continue
            for i in pa:
                for j in pb:
                    gap = j - (i + len(a)) if j >= i else i - (j + len(b))
                    if gap <= clause.within:
                        return (a, b)
    return None


def _str_list(value: Any, where: str, key: str, *, allow_groups: bool = False) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise RuleError(f"{where}: {key} 应为字符串列表 (must be a list of strings)")
    out: list[Any] = []
    for item in value:
        if isinstance(item, str):
            if not item.strip():
                raise RuleError(f"{where}: {key} 含空字符串 (empty term)")
            out.append((item.lower(),) if allow_groups else item.lower())
        elif allow_groups and isinstance(item, list) and item and all(isinstance(x, str) and x.strip() for x in item):
            out.append(tuple(x.lower() for x in item))
        else:
            raise RuleError(f"{where}: {key} 中的 {item!r} 不是有效的词语 (not a term)")
    return tuple(out)


_RULE_KEYS = {"id", "name", "kind", "all", "any", "min_any", "none", "near", "threshold", "lead_unit", "weight"}


def parse_rule(raw: Mapping[str, Any], index: int) -> Rule:
    """Validate one rule table and return a :class:`Rule`; :class:`RuleError` names the rule."""
    if not isinstance(raw, Mapping):
        raise RuleError(f"第 {index + 1} 条规则不是表 (rule #{index + 1} is not a table)")
    rid = raw.get("id")
    if not isinstance(rid, str) or not rid.strip():
        raise RuleError(f"第 {index + 1} 条规则缺少 id (rule #{index + 1} has no id)")
    where = f"规则 {rid}"
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise RuleError(f"{where}: 未知字段 {sorted(unknown)} (unknown keys)")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RuleError(f"{where}: 缺少 name (missing name)")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise RuleError(f"{where}: kind 应为 {' / '.join(KINDS)}，而不是 {kind!r}")
    all_ = _str_list(raw.get("all"), where, "all", allow_groups=True)
    any_ = _str_list(raw.get("any"), where, "any")
    none = _str_list(raw.get("none"), where, "none")
    min_any = raw.get("min_any", 1)
    if not isinstance(min_any, int) or isinstance(min_any, bool) or min_any < 1:
        raise RuleError(f"{where}: min_any 应为正整数 (positive integer)")
    if any_ and min_any > len(any_):
        raise RuleError(f"{where}: min_any={min_any} 大于 any 的词数 {len(any_)}")
    near_raw = raw.get("near") or []
    if isinstance(near_raw, Mapping):
        near_raw = [near_raw]
    if not isinstance(near_raw, list):
        raise RuleError(f"{where}: near 应为表的列表 (list of tables)")
    near: list[Near] = []
    for k, clause in enumerate(near_raw):
        if not isinstance(clause, Mapping) or set(clause) - {"a", "b", "within"}:
            raise RuleError(f"{where}: near 第 {k + 1} 项应为 {{a=[…], b=[…], within=N}}")
        a = _str_list(clause.get("a"), where, "near.a")
        b = _str_list(clause.get("b"), where, "near.b")
        within = clause.get("within")
        if not a or not b:
            raise RuleError(f"{where}: near 第 {k + 1} 项缺少 a 或 b")
        if not isinstance(within, int) or isinstance(within, bool) or within < 0:
            raise RuleError(f"{where}: near 第 {k + 1} 项的 within 应为非负整数 (characters)")
        near.append(Near(a, b, within))
    if not all_ and not any_ and not near:
        raise RuleError(f"{where}: 至少需要 all、any 或 near 之一 (needs all, any or near)")
    overlap = set(none) & ({t for g in all_ for t in g} | set(any_))
    if overlap:
        raise RuleError(f"{where}: 词语同时出现在 none 与 all/any 中: {sorted(overlap)}")
    threshold = _unit_float(raw.get("threshold"), where, "threshold")
    weight = _unit_float(raw.get("weight"), where, "weight")
    lead_unit = raw.get("lead_unit")
    if lead_unit is not None and (not isinstance(lead_unit, str) or not lead_unit.strip()):
        raise RuleError(f"{where}: lead_unit 应为单位名称 (unit name)")
    if kind == "topic" and lead_unit is None:
        raise RuleError(f"{where}: 重点领域 (topic) 规则须指定 lead_unit（谁主管谁负责）")
    return Rule(
        id=rid, name=name, kind=kind, all=all_, any=any_, min_any=min_any, none=none,
        near=tuple(near), threshold=threshold, lead_unit=lead_unit, weight=weight,
    )


def _unit_float(value: Any, where: str, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise RuleError(f"{where}: {key} 应为 0 到 1 之间的数 (number in [0, 1])")
    return float(value)


@dataclass
class RuleSet:
    """The compiled monitoring rules; ``match(hits)`` returns the category and topic flags."""

    rules: list[Rule]
    _by_term: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise RuleError(f"规则 {rule.id}: id 重复 (duplicate id)")
            seen.add(rule.id)
        self._by_term = {}
        for i, rule in enumerate(self.rules):
            for t in rule.positive_terms():
                self._by_term.setdefault(t, []).append(i)

    @classmethod
    def from_dicts(cls, raws: Sequence[Mapping[str, Any]]) -> RuleSet:
        if not isinstance(raws, list | tuple):
            raise RuleError("rules 应为规则表的数组 ([[rules]])")
        return cls([parse_rule(raw, i) for i, raw in enumerate(raws)])

    def terms(self) -> set[str]:
        out: set[str] = set()
        for rule in self.rules:
            out |= rule.terms()
        return out

    def by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def thresholds(self) -> dict[str, float]:
        """Alert threshold (sensitivity) per rule id, for the rules that set one."""
        return {r.id: r.threshold for r in self.rules if r.threshold is not None}

    def fired(self, hits: Hits) -> list[tuple[Rule, list[str]]]:
        """Rules that fire on ``hits``, in file order, with the terms that fired each."""
        candidates: set[int] = set()
        by_term = self._by_term
        for term in hits:
            idx = by_term.get(term)
            if idx:
                candidates.update(idx)
        out = []
        for i in sorted(candidates):
            rule = self.rules[i]
            terms = rule.match(hits)
            if terms is not None:
                out.append((rule, terms))
        return out

    def match(self, hits: Hits) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``(categories, topics)``: lists of ``{"id", "name", "terms", "lead_unit"?}``, merged by name."""
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for rule, terms in self.fired(hits):
            key = (rule.kind, rule.name)
            flag = merged.get(key)
            if flag is None:
                flag = {"id": rule.id, "name": rule.name, "terms": list(terms)}
                if rule.lead_unit:
                    flag["lead_unit"] = rule.lead_unit
                merged[key] = flag
            else:
                flag["terms"].extend(t for t in terms if t not in flag["terms"])
        cats = [f for (kind, _), f in merged.items() if kind == "category"]
        topics = [f for (kind, _), f in merged.items() if kind == "topic"]
        return cats, topics
