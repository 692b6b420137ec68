"""Monitoring schemes (监测方案): saving them, matching new posts against them, and their hits.

A scheme is an expression over terms: every ``all`` term, at least one ``any`` term (when any
are given) and no ``none`` term. Terms are normalised like stored text (simplified characters,
folded width) and matched case-insensitively as substrings.

- New posts: :func:`match_posts` (called by the intake hook the composition root registers)
  reads the enabled schemes once per batch and scans each post once with one Aho–Corasick
  automaton over every term of every scheme (``analysis.rules.TermIndex``, the rules' matcher);
  no query per post. The alert it leads to is :mod:`ledger.alerts.schemes`.
- Stored posts: :func:`scheme_hits` finds the candidates through the search index
  (:mod:`ledger.posts.search`: the ``all`` terms together, or each ``any`` term) and confirms
  each with the same automaton, so ``scheme hits`` and the dashboard's preview agree with what
  the intake would have raised.

Repository functions take the session and do not commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from analysis.normalize import normalize_text
from analysis.rules import Hits, TermIndex
from ledger import audit
from ledger.models.core import Post
from ledger.models.schemes import MonitorScheme
from ledger.posts.search import MIN_TERM_CHARS, SearchFilters, search_post_ids

GRADES = ("一般", "较大", "重大", "特别重大")
MAX_TERMS_PER_LIST = 50
_POST = Post.__table__  # type: ignore[attr-defined]
CHUNK = 1000


class SchemeError(ValueError):
    """A scheme that cannot be saved or found (message in Chinese for the user)."""


def clean_terms(values: Iterable[str] | str | None, *, label: str) -> tuple[str, ...]:
    """Terms normalised as stored text is (simplified, folded width), lower-cased, in order, once.

    ``values`` may be one comma-separated string (，、 also separate). Refused: a term of one
    character, more than ``MAX_TERMS_PER_LIST`` terms."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = values.replace("，", ",").replace("、", ",").split(",")
    out: list[str] = []
    for value in values:
        term = normalize_text(str(value)).lower().strip()
        if not term:
            continue
        if len(term) < MIN_TERM_CHARS:
            raise SchemeError(f"{label}中的词至少两个字: {term}")
        if term not in out:
            out.append(term)
    if len(out) > MAX_TERMS_PER_LIST:
        raise SchemeError(f"{label}最多 {MAX_TERMS_PER_LIST} 个词")
    return tuple(out)


@dataclass(frozen=True)
class SchemeSpec:
    """What a scheme says (unsaved, or read from a row)."""

    name: str
    all_terms: tuple[str, ...] = ()
    any_terms: tuple[str, ...] = ()
    none_terms: tuple[str, ...] = ()
    unit: str | None = None
    grade: str | None = None
    id: int | None = None

    @classmethod
    def build(cls, *, name: str, all_terms: Any = None, any_terms: Any = None, none_terms: Any = None,
              unit: str | None = None, grade: str | None = None, id: int | None = None) -> SchemeSpec:
        """A validated spec (:class:`SchemeError` with a Chinese message otherwise)."""
        name = (name or "").strip()
        if not name:
            raise SchemeError("方案名称不能为空")
        if len(name) > 100:
            raise SchemeError("方案名称最多 100 个字")
        spec = cls(
            name=name,
            all_terms=clean_terms(all_terms, label="必含词 (all)"),
            any_terms=clean_terms(any_terms, label="任含词 (any)"),
            none_terms=clean_terms(none_terms, label="排除词 (none)"),
            unit=(unit or "").strip()[:100] or None,
            grade=(grade or "").strip() or None,
            id=id,
        )
        if not spec.all_terms and not spec.any_terms:
            raise SchemeError("方案须至少有一个必含词 (all) 或任含词 (any)")
        if spec.grade is not None and spec.grade not in GRADES:
            raise SchemeError(f"等级须为 {' / '.join(GRADES)} 之一: {spec.grade}")
        clash = set(spec.none_terms) & (set(spec.all_terms) | set(spec.any_terms))
        if clash:
            raise SchemeError(f"排除词与必含词或任含词相同: {'、'.join(sorted(clash))}")
        return spec

    @classmethod
    def of(cls, row: MonitorScheme) -> SchemeSpec:
        return cls(name=row.name, all_terms=tuple(row.all_terms or ()), any_terms=tuple(row.any_terms or ()),
                   none_terms=tuple(row.none_terms or ()), unit=row.unit, grade=row.grade, id=row.id)

    def holds(self, hits: Hits) -> bool:
        """Whether a text with these term hits matches the scheme."""
        return (all(t in hits for t in self.all_terms)
                and (not self.any_terms or any(t in hits for t in self.any_terms))
                and not any(t in hits for t in self.none_terms))

    def expression(self) -> str:
        """The expression as people read it: ``A 且 B 且 (C 或 D) 不含 E``."""
        parts = list(self.all_terms)
        if self.any_terms:
            parts.append("(" + " 或 ".join(self.any_terms) + ")" if len(self.any_terms) > 1 else self.any_terms[0])
        out = " 且 ".join(parts)
        if self.none_terms:
            out += " 不含 " + "、".join(self.none_terms)
        return out


class SchemeMatcher:
    """Every term of several schemes in one automaton; :meth:`match` scans a text once."""

    def __init__(self, specs: Sequence[SchemeSpec]) -> None:
        self.specs = tuple(specs)
        self.index = TermIndex(t for s in self.specs for t in (*s.all_terms, *s.any_terms, *s.none_terms))

    def match(self, title: str | None, text: str) -> list[SchemeSpec]:
        """The schemes a post (its title and text, normalised) matches."""
        hits = self.index.scan((title or "") + "\n" + (text or ""))
        if not hits:
            return []
        return [s for s in self.specs if s.holds(hits)]


_matcher_cache: dict[tuple, SchemeMatcher] = {}


def _matcher(specs: Sequence[SchemeSpec]) -> SchemeMatcher:
    key = tuple(specs)
    found = _matcher_cache.get(key)
    if found is None:
        _matcher_cache.clear()  # only the current set of schemes is worth keeping
        found = _matcher_cache[key] = SchemeMatcher(specs)
    return found


# ---------------------------------------------------------------------------- repository
def get_scheme(session: Session, scheme_id: int) -> MonitorScheme:
    row = session.get(MonitorScheme, scheme_id)
    if row is None:
        raise SchemeError(f"监测方案不存在: {scheme_id}")
    return row


def _state(row: MonitorScheme) -> dict[str, Any]:
    return {"name": row.name, "all": list(row.all_terms or []), "any": list(row.any_terms or []),
            "none": list(row.none_terms or []), "unit": row.unit, "grade": row.grade, "enabled": row.enabled}


def add_scheme(session: Session, *, spec: SchemeSpec, actor: str, now: datetime) -> MonitorScheme:
    """Save a new scheme (enabled); refused when its name is taken."""
    if session.execute(select(MonitorScheme.id).where(MonitorScheme.name == spec.name)).first() is not None:
        raise SchemeError(f"已有同名监测方案: {spec.name}")
    row = MonitorScheme(name=spec.name, all_terms=list(spec.all_terms), any_terms=list(spec.any_terms),
                        none_terms=list(spec.none_terms), unit=spec.unit, grade=spec.grade, enabled=True,
                        created_at=now, created_by=actor, updated_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="scheme.add", entity="monitor_scheme", entity_id=row.id, now=now,
                 after=_state(row))
    return row


def update_scheme(session: Session, *, scheme_id: int, spec: SchemeSpec, actor: str, now: datetime) -> MonitorScheme:
    """Replace a scheme's name, terms, unit and grade (the old ones stay in the audit log)."""
    row = get_scheme(session, scheme_id)
    other = session.execute(select(MonitorScheme.id).where(MonitorScheme.name == spec.name,
                                                            MonitorScheme.id != scheme_id)).first()
    if other is not None:
        raise SchemeError(f"已有同名监测方案: {spec.name}")
    before = _state(row)
    row.name, row.unit, row.grade = spec.name, spec.unit, spec.grade
    row.all_terms, row.any_terms, row.none_terms = list(spec.all_terms), list(spec.any_terms), list(spec.none_terms)
    row.updated_at = now
    session.add(row)
    audit.record(session, actor=actor, action="scheme.update", entity="monitor_scheme", entity_id=row.id, now=now,
                 before=before, after=_state(row))
    return row


def set_enabled(session: Session, *, scheme_id: int, enabled: bool, actor: str, now: datetime) -> MonitorScheme:
    """Enable or disable a scheme (a disabled one is not checked on new posts)."""
    row = get_scheme(session, scheme_id)
    before = _state(row)
    row.enabled, row.updated_at = enabled, now
    session.add(row)
    audit.record(session, actor=actor, action="scheme.enable" if enabled else "scheme.disable",
                 entity="monitor_scheme", entity_id=row.id, now=now, before=before, after=_state(row))
    return row


def list_schemes(session: Session, *, enabled_only: bool = False) -> list[MonitorScheme]:
    stmt = select(MonitorScheme).order_by(MonitorScheme.id)
    if enabled_only:
        stmt = stmt.where(MonitorScheme.enabled == True)
    return list(session.execute(stmt).scalars())


# ---------------------------------------------------------------------------- new posts
def match_posts(session: Session, *, posts: Sequence[Any], now: datetime) -> dict[SchemeSpec, list[Any]]:
    """The new posts each enabled scheme matches (only schemes with hits); records the hits'
    count and time on the schemes. One query for the schemes per batch, one scan per post."""
    if not posts:
        return {}
    specs = [SchemeSpec.of(r) for r in list_schemes(session, enabled_only=True)]
    if not specs:
        return {}
    matcher = _matcher(specs)
    out: dict[SchemeSpec, list[Any]] = {}
    for post in posts:
        for spec in matcher.match(post.title, post.text):
            out.setdefault(spec, []).append(post)
    for spec, hit in out.items():
        session.execute(update(MonitorScheme).where(MonitorScheme.id == spec.id)
                        .values(hit_total=MonitorScheme.hit_total + len(hit), last_hit_at=now))
    return out


# ---------------------------------------------------------------------------- stored posts
def _candidates(session: Session, spec: SchemeSpec, filters: SearchFilters) -> set[int]:
    big = 10**9
    if spec.all_terms:
        return set(search_post_ids(session, query=" ".join(spec.all_terms[:8]), filters=filters, limit=big))
    found: set[int] = set()
    for term in spec.any_terms:
        found.update(search_post_ids(session, query=term, filters=filters, limit=big))
    return found


def scheme_hit_ids(session: Session, *, spec: SchemeSpec, since: datetime | None = None,
                   until: datetime | None = None) -> list[int]:
    """Ids of the stored posts (time ``coalesce(published_at, fetched_at)`` in [since, until))
    the scheme matches, newest first: candidates from the search index, confirmed by the automaton."""
    ids = sorted(_candidates(session, spec, SearchFilters(since=since, until=until)), reverse=True)
    matcher = SchemeMatcher([spec])
    out: list[int] = []
    c = _POST.c
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = {r[0]: r for r in session.execute(select(c.id, c.title, c.text).where(c.id.in_(chunk)))}
        out.extend(i for i in chunk if i in rows and matcher.match(rows[i][1], rows[i][2]))
    return out


def scheme_hits(session: Session, *, spec: SchemeSpec, since: datetime | None = None,
                until: datetime | None = None, limit: int = 50) -> tuple[int, list[Post]]:
    """(number of stored posts the scheme matches, the newest ``limit`` of them)."""
    ids = scheme_hit_ids(session, spec=spec, since=since, until=until)
    shown = ids[:limit]
    rows = {p.id: p for p in session.execute(select(Post).where(Post.id.in_(shown))).scalars()} if shown else {}
    return len(ids), [rows[i] for i in shown if i in rows]


__all__ = [
    "GRADES",
    "SchemeError",
    "SchemeMatcher",
    "SchemeSpec",
    "add_scheme",
    "get_scheme",
    "list_schemes",
    "match_posts",
    "scheme_hit_ids",
    "scheme_hits",
    "set_enabled",
    "update_scheme",
]
