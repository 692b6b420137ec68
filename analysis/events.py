"""Event clustering: group posts about one thing into events, incrementally, in bounded memory.

A post becomes a sparse TF-IDF vector over character bigrams (``analysis.dedupe.shingles``),
plus boosted *distinctive* features: hashtags (``#双黄连可抑制新型冠状病毒#``) and entity-like
names (two characters before a place or organisation suffix such as 新城, 小区, 苑, 车贷: ``丽发新城``,
``滨河苑``, ``58车贷``). IDF is estimated on the stream itself (document frequencies counted batch
by batch, halved when the vocabulary outgrows its cap, which also lets old topics fade).

``EventClusterer`` keeps the active events (an LRU of at most ``max_active`` events, each with a
centroid truncated to ``centroid_terms`` terms) and an inverted index from terms to the events
that contain them (bounded per term). A post is compared (cosine) with the events that share
one of its strongest terms and joins the most similar one above ``threshold``; otherwise it
starts a new event. Memory therefore does not grow with the length of the stream.

Heat and trend are plain functions (``heat_base``, ``heat``, ``trend``) so the formula is in one
place and documented in docs/BENCHMARKS.md and in ``EventParams``.

This module is the entry point and re-exports the public names; the code lives in
``analysis.eventfeatures`` (a post's features and their compact forms), ``analysis.eventstate``
(stream IDF, an event's state) and ``analysis.eventcluster`` (the clusterer); heat and trend in
``analysis.heat``, titles and keywords in ``analysis.eventtext``.
"""

from __future__ import annotations

from analysis.eventcluster import EventClusterer
from analysis.eventfeatures import (
    PostFeatures,
    TermSpan,
    entities,
    features,
    hashtags,
    pack_batch_terms,
    pack_counts,
    prime_tag_words,
    unpack_batch_terms,
    unpack_counts,
)
from analysis.eventstate import EventState, IdfModel, document_counts
from analysis.eventtext import Draft, keywords, title_of
from analysis.heat import EventParams, heat, heat_base, trend

__all__ = [
    "Draft",
    "EventClusterer",
    "EventParams",
    "EventState",
    "IdfModel",
    "PostFeatures",
    "TermSpan",
    "document_counts",
    "entities",
    "features",
    "hashtags",
    "heat",
    "heat_base",
    "keywords",
    "pack_batch_terms",
    "pack_counts",
    "prime_tag_words",
    "title_of",
    "trend",
    "unpack_batch_terms",
    "unpack_counts",
]
