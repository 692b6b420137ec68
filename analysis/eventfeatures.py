"""Event features of one post: character shingles, hashtags and entity-like names, as term counts.

A post becomes term counts over character bigrams (``analysis.dedupe.shingles``, the title
counted ``title_weight`` times) plus *distinctive* anchor terms: hashtags (``#双黄连可抑制新型冠状病毒#``)
and entity-like names (two characters before a place or organisation suffix such as 新城, 小区, 苑,
车贷: ``丽发新城``, ``滨河苑``, ``58车贷``), and optionally the words of each hashtag.

Also here: the compact forms in which import workers ship features to the importing process
(``PostFeatures`` pickles its counts packed; a batch's terms travel as one run, see
``TermSpan``), and the bounded cache of hashtag words (``prime_tag_words``). Used by the
clusterer (``analysis.eventcluster``); ``analysis.events`` re-exports the public names.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.dedupe import shingles
from analysis.eventtext import _GENERIC_HEADS, _STOP_PREFIX, _jieba
from analysis.heat import EventParams

_HASHTAG = re.compile(r"#([^#\n]{2,40})#")
_ENTITY = re.compile(
    r"([0-9a-z]+|[\u4e00-\u9fff]{2})(小区|花园|新城|家园|山庄|公寓|大厦|广场|苑|园|府|湾|城|村|社区|"
    r"小学|中学|大学|学校|幼儿园|医院|车贷|公司|集团|市场|工地|搅拌站|高铁|地铁)"
)


@dataclass
class PostFeatures:
    """What the clusterer needs to know about one post's text."""

    shingles: list[str]
    terms: Mapping[str, int]  # term -> raw count (shingles, hashtags, entities)
    hashtags: list[str]
    entities: list[str]
    #: words of each hashtag (``_tag_words``), when computed ahead (e.g. in an import worker)
    tag_words: dict[str, tuple[str, ...]] | None = None

    def __reduce__(self):
        # compact pickling for import workers (about 3x cheaper to load than a pickled dict of a
        # hundred short strings)
        return (_unpickle_features, (self.shingles, pack_counts(self.terms), self.hashtags, self.entities,
                                     self.tag_words))


def pack_counts(counts: dict[str, int]) -> tuple[str, bytes] | dict[str, int]:
    """A term → count mapping as one string of the terms and one array of the counts."""
    keys = "\x00".join(counts)
    if keys.count("\x00") != max(0, len(counts) - 1):  # a term holds the separator: keep the dict
        return dict(counts)
    return keys, array("I", counts.values()).tobytes()


def unpack_counts(packed: tuple[str, bytes] | dict[str, int]) -> dict[str, int]:
    if isinstance(packed, dict):
        return packed
    keys, raw = packed
    values = array("I")
    values.frombytes(raw)
    return dict(zip(keys.split("\x00"), values, strict=True)) if keys else {}


def _unpickle_features(shingles, packed, tags, ents, tag_words) -> PostFeatures:
    return PostFeatures(shingles, unpack_counts(packed), tags, ents, tag_words)


class TermSpan(Mapping):
    """A post's term counts as a slice of a whole batch's flat term and count lists (how an
    import worker ships them: no dict per post is built unless one is asked for)."""

    __slots__ = ("_counts", "_dict", "_keys", "hi", "lo")

    def __init__(self, keys: list[str], counts: Sequence[int], lo: int, hi: int) -> None:
        self._keys, self._counts, self.lo, self.hi = keys, counts, lo, hi
        self._dict: dict[str, int] | None = None

    def key_list(self) -> list[str]:
        return self._keys[self.lo : self.hi]

    def count_list(self) -> Sequence[int]:
        return self._counts[self.lo : self.hi]

    def _as_dict(self) -> dict[str, int]:
        if self._dict is None:
            self._dict = dict(zip(self.key_list(), self.count_list(), strict=True))
        return self._dict

    def __getitem__(self, term: str) -> int:
        return self._as_dict()[term]

    def __iter__(self):
        return iter(self.key_list())

    def __len__(self) -> int:
        return self.hi - self.lo

    def __reduce__(self):
        return (dict, (self._as_dict(),))


def pack_batch_terms(feats: Sequence[PostFeatures]) -> tuple[Any, list[int]]:
    """The terms of a batch's posts as one packed term → count run and each post's start."""
    starts = [0]
    keys: list[str] = []
    counts: list[int] = []
    for f in feats:
        keys.extend(f.terms)
        counts.extend(f.terms.values())
        starts.append(len(keys))
    joined = "\x00".join(keys)
    if joined.count("\x00") != max(0, len(keys) - 1):  # a term holds the separator
        return ("list", keys, counts), starts
    return (joined, array("I", counts).tobytes()), starts


def unpack_batch_terms(packed: Any, starts: list[int], feats: Sequence[PostFeatures]) -> None:
    """Give each of ``feats`` its :class:`TermSpan` of the batch's unpacked term run."""
    if packed[0] == "list":
        keys, counts = packed[1], packed[2]
    else:
        joined, raw = packed
        keys = joined.split("\x00") if joined else []
        counts = array("I")
        counts.frombytes(raw)
    for i, f in enumerate(feats):
        f.terms = TermSpan(keys, counts, starts[i], starts[i + 1])


def hashtags(text: str) -> list[str]:
    """Weibo-style hashtags ``#…#`` in ``text``, in order, without duplicates."""
    seen: dict[str, None] = {}
    for tag in _HASHTAG.findall(text):
        tag = tag.strip()
        if len(tag) >= 2:
            seen.setdefault(f"#{tag}#", None)
    return list(seen)


def entities(text: str) -> list[str]:
    """Entity-like names: two characters (or an ASCII/number word) before a place suffix."""
    out: dict[str, None] = {}
    for m in _ENTITY.finditer(text.lower()):
        head = m.group(1)
        if head[0] in _STOP_PREFIX or head[-1] in _STOP_PREFIX or head in _GENERIC_HEADS:
            continue
        out.setdefault(head + m.group(2), None)
    return list(out)


def features(
    text: str, title: str | None = None, params: EventParams | None = None, *, with_tag_words: bool = False
) -> PostFeatures:
    """Features of a post: shingles (title counted ``title_weight`` times), hashtags, entities;
    ``with_tag_words``: also the words of each hashtag (see :func:`prime_tag_words`)."""
    p = params or _DEFAULT
    body = text[: p.text_limit]
    full = f"{title} {body}" if title else body
    tags = hashtags(full)
    if tags:
        # a hashtag is one feature of its own: its characters would otherwise make every post
        # under it look alike and hide what the posts actually say
        body = _HASHTAG.sub(" ", body)
    sh = shingles(body, limit=p.text_limit)
    terms = Counter(sh)
    if title:
        tsh = shingles(title, limit=200)
        for _ in range(p.title_weight):
            terms.update(tsh)
        sh = tsh + sh
    ents = entities(full)
    for t in tags:
        terms[t] += 1
    for e in ents:
        terms["@" + e] += 1
    words = {t: _tag_words(t) for t in tags} if with_tag_words and tags else None
    return PostFeatures(shingles=sh, terms=terms, hashtags=tags, entities=ents, tag_words=words)


_TAG_WORDS: OrderedDict[str, tuple[str, ...]] = OrderedDict()
_TAG_WORDS_CAP = 20_000


def _tag_words(tag: str) -> tuple[str, ...]:
    """Words of three or more characters in a hashtag (jieba), digits and ASCII left out."""
    words = _TAG_WORDS.get(tag)
    if words is None:
        found: list[str] = []
        for w in _jieba().lcut(tag.strip("#"), HMM=False):
            if len(w) >= 3 and _HAN_WORD.fullmatch(w) and w not in found:
                found.append(w)
        words = tuple(found)
        _remember_tag(tag, words)
    return words


def _remember_tag(tag: str, words: tuple[str, ...]) -> None:
    _TAG_WORDS[tag] = words
    if len(_TAG_WORDS) > _TAG_WORDS_CAP:
        _TAG_WORDS.popitem(last=False)


def prime_tag_words(known: dict[str, tuple[str, ...]]) -> None:
    """Remember hashtag words computed elsewhere (an import worker), so that this process
    needs no word segmenter (whose dictionary takes half a second to load) for them."""
    for tag, words in known.items():
        if tag not in _TAG_WORDS:
            _remember_tag(tag, tuple(words))


_HAN_WORD = re.compile(r"[\u4e00-\u9fff]+")


_DEFAULT = EventParams()
