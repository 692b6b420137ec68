"""Fast n-gram features for the text classifiers of ``analysis.textmodel``.

Character n-grams are computed with numpy over a whole batch at once: each n-gram is keyed by a
64-bit FNV-1a hash of its code points and looked up in an open-addressing hash table, so a batch
of short posts costs a few microseconds per post. Word n-grams (jieba) are slower and meant for
long texts such as citizens' messages. Both are TF-IDF weighted (sublinear tf, smooth idf, L2).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from analysis.wordtokens import word_ngrams
from analysis.wordvectors import WordVectorMean

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_SEP = "\x00"


class FeatureSpecError(ValueError):
    """A feature description that cannot be understood."""


def _prepare(texts: Sequence[str]) -> str:
    """One string holding the texts separated by NUL."""
    cleaned = ["" if t is None else str(t) for t in texts]
    big = _SEP.join(cleaned)
    if big.count(_SEP) != max(len(cleaned) - 1, 0):  # a text contains NUL itself
        big = _SEP.join(t.replace(_SEP, " ") for t in cleaned)
    return big


def _fold(codes: np.ndarray) -> np.ndarray:
    """Fold code points in place: full-width ASCII to ASCII, ideographic space to space,
    ASCII upper case to lower case (a vectorised stand-in for NFKC + lower on Chinese posts)."""
    full = (codes >= 0xFF01) & (codes <= 0xFF5E)
    codes[full] -= 0xFEE0
    codes[codes == 0x3000] = 0x20
    upper = (codes >= 0x41) & (codes <= 0x5A)
    codes[upper] += 0x20
    return codes


def _char_ngram_keys(texts: Sequence[str], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """(doc index, n-gram key) for every character n-gram, lo <= n <= hi, of every text."""
    big = _prepare(texts)
    codes = _fold(np.frombuffer(big.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64))
    size = codes.shape[0]
    is_sep = codes == 0
    doc_of = np.cumsum(is_sep, dtype=np.int64)  # separator belongs to the next doc; masked below
    sep_cum = np.concatenate(([0], np.cumsum(is_sep, dtype=np.int64)))
    docs, keys = [], []
    h = np.full(size, _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for n in range(1, hi + 1):
            m = size - n + 1
            if m <= 0:
                break
            h = (h[:m] ^ codes[n - 1 : n - 1 + m]) * _FNV_PRIME
            if n < lo:
                continue
            ok = (sep_cum[n : n + m] - sep_cum[:m]) == 0
            docs.append(doc_of[:m][ok])
            keys.append(h[ok] ^ np.uint64(n))
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    return np.concatenate(docs), np.concatenate(keys)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class KeyIndex:
    """Open-addressing hash table (numpy, linear probing) from 64-bit keys to their positions.

    ``np.searchsorted`` over a large sorted array costs one cache miss per bisection step; this
    table costs about one per lookup, which matters at millions of n-grams per second.
    """

    def __init__(self, keys: np.ndarray) -> None:
        n = int(keys.shape[0])
        self.bits = max(4, math.ceil(math.log2(max(n, 1) * 2 + 1)))
        size = 1 << self.bits
        self.mask = size - 1
        self.table_keys = np.zeros(size, dtype=np.uint64)
        self.table_vals = np.full(size, -1, dtype=np.int32)
        pending = np.arange(n, dtype=np.int64)
        slot = self._slot(keys)
        while pending.shape[0]:
            s = slot[pending]
            free = self.table_vals[s] < 0
            # among pending keys aiming at the same free slot, the first one wins
            cand, s_free = pending[free], s[free]
            _, first = np.unique(s_free, return_index=True)
            win = cand[first]
            self.table_keys[slot[win]] = keys[win]
            self.table_vals[slot[win]] = win
            placed = np.zeros(n, dtype=bool)
            placed[win] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & self.mask

    def _slot(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((keys * _GOLDEN) >> np.uint64(64 - self.bits)).astype(np.int64)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Position of each key, or -1 when absent."""
        slot = self._slot(keys)
        vals = self.table_vals[slot]
        occupied = vals >= 0
        hit = occupied & (self.table_keys[slot] == keys)
        out = np.where(hit, vals, -1).astype(np.int64)
        todo = np.flatnonzero(occupied & ~hit)  # collided on the first probe: keep probing
        slot = slot[todo]
        while todo.shape[0]:
            slot = (slot + 1) & self.mask
            vals = self.table_vals[slot]
            occupied = vals >= 0
            hit = occupied & (self.table_keys[slot] == keys[todo])
            out[todo[hit]] = vals[hit]
            go_on = occupied & ~hit
            todo, slot = todo[go_on], slot[go_on]
        return out


def _tfidf(rows: np.ndarray, cols: np.ndarray, n_docs: int, idf: np.ndarray, sublinear: bool):
    counts = sp.csr_matrix(
        (np.ones(rows.shape[0], dtype=np.float32), (rows, cols)), shape=(n_docs, idf.shape[0])
    )
    counts.sum_duplicates()
    data = counts.data
    if sublinear:
        np.log(data, out=data)
        data += 1.0
    data *= idf[counts.indices]
    sq = np.bincount(
        np.repeat(np.arange(n_docs), np.diff(counts.indptr)), weights=data * data, minlength=n_docs
    )
    norms = np.sqrt(sq).astype(np.float32)
    norms[norms == 0] = 1.0
    data /= np.repeat(norms, np.diff(counts.indptr))
    return counts


def _idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)


def _doc_freq(feature: np.ndarray, docs: np.ndarray, n_docs: int, n_features: int) -> np.ndarray:
    """Number of documents in which each feature (0..``n_features``-1) occurs, from one entry per
    occurrence: distinct (feature, doc) pairs as one int64 code each (feature times the number
    of docs plus the doc), far faster than ``np.unique(..., axis=1)``."""
    width = max(n_docs, 1)
    pairs = np.unique(feature.astype(np.int64) * width + docs)
    return np.bincount(pairs // width, minlength=n_features)


@dataclass
class CharNgrams:
    """TF-IDF over character n-grams, vectorised with numpy over the whole batch."""

    ngram: tuple[int, int] = (1, 4)
    min_df: int = 1
    sublinear: bool = True
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    _index: KeyIndex | None = field(default=None, repr=False, compare=False)

    kind = "char"

    def fit(self, texts: Sequence[str]) -> CharNgrams:
        docs, keys = _char_ngram_keys(texts, *self.ngram)
        uniq, rank = np.unique(keys, return_inverse=True)
        df = _doc_freq(rank, docs, len(texts), uniq.shape[0])
        keep = df >= self.min_df
        self.keys, self.idf = uniq[keep], _idf(df[keep], len(texts))
        self._index = None
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        docs, keys = _char_ngram_keys(texts, *self.ngram)
        if self.keys.shape[0] == 0:
            return sp.csr_matrix((len(texts), 0), dtype=np.float32)
        if self._index is None:
            self._index = KeyIndex(self.keys)
        pos = self._index.lookup(keys)
        hit = pos >= 0
        return _tfidf(docs[hit], pos[hit], len(texts), self.idf, self.sublinear)

    @property
    def n_features(self) -> int:
        return int(self.keys.shape[0])

    def header(self) -> dict[str, Any]:
        return {
            "kind": "char",
            "ngram": list(self.ngram),
            "min_df": self.min_df,
            "sublinear": self.sublinear,
        }

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}keys": self.keys, f"{prefix}idf": self.idf}

    @classmethod
    def restore(cls, head: Mapping[str, Any], arrays: Mapping[str, np.ndarray], prefix: str):
        return cls(
            tuple(head["ngram"]),
            head["min_df"],
            head["sublinear"],
            arrays[f"{prefix}keys"].astype(np.uint64),
            arrays[f"{prefix}idf"],
        )


@dataclass
class WordNgrams:
    """TF-IDF over jieba word n-grams (slower than characters; used for long texts)."""

    ngram: tuple[int, int] = (1, 2)
    min_df: int = 1
    sublinear: bool = True
    vocab: dict[str, int] = field(default_factory=dict)
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    kind = "word"

    def fit(self, texts: Sequence[str]) -> WordNgrams:
        df: dict[str, int] = {}
        for grams in word_ngrams(texts, *self.ngram):
            for g in set(grams):
                df[g] = df.get(g, 0) + 1
        words = sorted(w for w, c in df.items() if c >= self.min_df)
        self.vocab = {w: i for i, w in enumerate(words)}
        self.idf = _idf(np.array([df[w] for w in words], dtype=np.float64), len(texts))
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        rows, cols = [], []
        get = self.vocab.get
        for i, grams in enumerate(word_ngrams(texts, *self.ngram)):
            for g in grams:
                j = get(g)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        return _tfidf(
            np.array(rows, dtype=np.int64),
            np.array(cols, dtype=np.int64),
            len(texts),
            self.idf,
            self.sublinear,
        )

    @property
    def n_features(self) -> int:
        return len(self.vocab)

    def header(self) -> dict[str, Any]:
        return {
            "kind": "word",
            "ngram": list(self.ngram),
            "min_df": self.min_df,
            "sublinear": self.sublinear,
        }

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        return {f"{prefix}words": np.array(words, dtype=np.str_), f"{prefix}idf": self.idf}

    @classmethod
    def restore(cls, head: Mapping[str, Any], arrays: Mapping[str, np.ndarray], prefix: str):
        words = [str(w) for w in arrays[f"{prefix}words"]]
        return cls(
            tuple(head["ngram"]),
            head["min_df"],
            head["sublinear"],
            {w: i for i, w in enumerate(words)},
            arrays[f"{prefix}idf"],
        )


LEAD_CHARS = 30


@dataclass
class LeadCharNgrams(CharNgrams):
    """TF-IDF over character n-grams of the first line of each text, at most ``chars``
    characters of it.

    A second, separately weighted view of a message's opening: for citizens' messages the first
    line is the title (the project stores a message as ``title + "\n" + body``, and
    ``read_labelled_csv`` joins text columns with line breaks), which names the topic most plainly.
    """

    chars: int = LEAD_CHARS

    kind = "lead"

    def _cut(self, texts: Sequence[str]) -> list[str]:
        return ["" if t is None else str(t).split("\n", 1)[0][: self.chars] for t in texts]

    def fit(self, texts: Sequence[str]) -> LeadCharNgrams:
        super().fit(self._cut(texts))
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return super().transform(self._cut(texts))

    def header(self) -> dict[str, Any]:
        return {**super().header(), "kind": "lead", "chars": self.chars}

    @classmethod
    def restore(cls, head: Mapping[str, Any], arrays: Mapping[str, np.ndarray], prefix: str):
        block = cls(
            tuple(head["ngram"]),
            head["min_df"],
            head["sublinear"],
            arrays[f"{prefix}keys"].astype(np.uint64),
            arrays[f"{prefix}idf"],
        )
        block.chars = int(head["chars"])
        return block


# What a flattened text drops: a Latin letter standing alone (the segmented hotline corpus turns
# "A市" into "市" but keeps "A3"), and every run of whitespace, punctuation, symbols and "_".
_FLAT_DROP = re.compile(r"(?<![A-Za-z0-9])[A-Za-z](?![A-Za-z0-9])|[\W_]+")


def flatten(text: str | None) -> str:
    """``text`` without whitespace, punctuation, symbols and stand-alone Latin letters.

    The same string comes out of a raw message and of the same message segmented into words with
    punctuation and single Latin letters removed ("投诉 市 物业 违规" and "投诉A市物业违规！" both give
    "投诉市物业违规"), so features of the flattened text do not depend on whether, or how, the
    text was segmented.
    """
    return "" if text is None else _flatten(str(text))


@functools.lru_cache(maxsize=4096)
def _flatten(text: str) -> str:
    # cached: every flat block of a model flattens the same batch of texts (the regular
    # expression costs more than the n-grams of the result)
    return _FLAT_DROP.sub("", text)


@dataclass
class FlatCharNgrams(CharNgrams):
    """TF-IDF over character n-grams of the flattened text (``flatten``): the same features for
    a raw message and for its segmented, punctuation-free form."""

    kind = "flat"

    def _cut(self, texts: Sequence[str]) -> list[str]:
        return [flatten(t) for t in texts]

    def fit(self, texts: Sequence[str]) -> FlatCharNgrams:
        super().fit(self._cut(texts))
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return super().transform(self._cut(texts))

    def header(self) -> dict[str, Any]:
        return {**super().header(), "kind": self.kind}


@dataclass
class FlatLeadCharNgrams(FlatCharNgrams):
    """TF-IDF over character n-grams of the first ``chars`` characters of the flattened text:
    the opening of a message (its title, when title and body are joined), found the same way in
    raw and in segmented text, with or without a line break after the title."""

    chars: int = 20

    kind = "flatlead"

    def _cut(self, texts: Sequence[str]) -> list[str]:
        return [flatten(t)[: self.chars] for t in texts]

    def header(self) -> dict[str, Any]:
        return {**super().header(), "chars": self.chars}

    @classmethod
    def restore(cls, head: Mapping[str, Any], arrays: Mapping[str, np.ndarray], prefix: str):
        block = super().restore(head, arrays, prefix)
        block.chars = int(head["chars"])
        return block


# A space between two Chinese characters: the text is segmented into words (``FlatWords.fit``).
_CJK_GAP = re.compile(r"[\u4e00-\u9fff] (?=[\u4e00-\u9fff])")


def _training_words(text: str) -> list[str]:
    """The words of a training text, flattened: its space-separated tokens when it is segmented
    (what flattening drops separates tokens too), its jieba words otherwise."""
    if _CJK_GAP.search(text):
        return _FLAT_DROP.sub(" ", text).split()
    from analysis.wordtokens import _word_tokens

    return [w for w in (flatten(t) for t in _word_tokens(flatten(text))) if w]


def _word_keys(words: Sequence[str]) -> np.ndarray:
    """The n-gram key (``_char_ngram_keys``: FNV-1a of the folded code points, xor the length)
    of each word taken whole."""
    out = np.zeros(len(words), dtype=np.uint64)
    by_len: dict[int, list[int]] = {}
    for i, w in enumerate(words):
        by_len.setdefault(len(w), []).append(i)
    with np.errstate(over="ignore"):
        for n, idx in by_len.items():
            codes = np.frombuffer("".join(words[i] for i in idx).encode("utf-32-le"), np.uint32)
            codes = _fold(codes.astype(np.uint64)).reshape(len(idx), n)
            h = np.full(len(idx), _FNV_OFFSET, dtype=np.uint64)
            for k in range(n):
                h = (h ^ codes[:, k]) * _FNV_PRIME
            out[idx] = h ^ np.uint64(n)
    return out


@dataclass
class FlatWords(FlatCharNgrams):
    """TF-IDF over the training vocabulary's words found as substrings of the flattened text.

    The vocabulary is the words of the training texts (their tokens when the text is segmented,
    jieba words otherwise) of ``ngram[0]``..``ngram[1]`` characters that occur in at least
    ``min_df`` training texts. At both ends, fitting and prediction alike, a text's features are
    every occurrence of a vocabulary word in its flattened form (``flatten``), overlapping ones
    included: the character n-grams of the flattened text whose key is a vocabulary word's, so
    the lookup is the vectorised one of ``CharNgrams`` and no segmenter runs at prediction. The
    features depend only on the flattened string: a segmented training text and its raw form
    give the same ones, whatever the segmentation. The idf counts the texts in which a word
    occurs that way (what prediction sees), not the texts that had it as a token.
    """

    ngram: tuple[int, int] = (2, 4)
    min_df: int = 2

    kind = "flatword"

    def fit(self, texts: Sequence[str]) -> FlatWords:
        lo, hi = self.ngram
        df: dict[str, int] = {}
        for t in texts:
            for w in set(_training_words("" if t is None else str(t))):
                if lo <= len(w) <= hi:
                    df[w] = df.get(w, 0) + 1
        vocab = _word_keys([w for w, c in df.items() if c >= self.min_df])
        vocab = np.unique(vocab)
        docs, keys = _char_ngram_keys(self._cut(texts), lo, hi)
        pos = KeyIndex(vocab).lookup(keys)
        hit = pos >= 0
        n_docs = _doc_freq(pos[hit], docs[hit], len(texts), vocab.shape[0])
        self.keys, self.idf = vocab, _idf(n_docs, len(texts))
        self._index = None
        return self


_FEATURE_KINDS = {
    "char": CharNgrams,
    "word": WordNgrams,
    "lead": LeadCharNgrams,
    "flat": FlatCharNgrams,
    "flatlead": FlatLeadCharNgrams,
    "flatword": FlatWords,
    "vec": WordVectorMean,
}
_CUT_KINDS = ("lead", "flatlead")


class Features:
    """Several n-gram blocks side by side (each block L2-normalised on its own)."""

    def __init__(self, blocks: Sequence[CharNgrams | WordNgrams]) -> None:
        self.blocks = list(blocks)

    def fit(self, texts: Sequence[str]) -> Features:
        for b in self.blocks:
            b.fit(texts)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        mats = [b.transform(texts) for b in self.blocks]
        return mats[0] if len(mats) == 1 else sp.hstack(mats, format="csr")

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)

    @property
    def n_features(self) -> int:
        return sum(b.n_features for b in self.blocks)


def make_features(spec: str) -> Features:
    """Features from a spec such as ``"char:1-4"`` or ``"char:1-3,word:1-2"`` (optionally
    ``@min_df``); ``lead:1-3/30`` is character n-grams of the first 30 characters only;
    ``flat:1-3`` / ``flatlead:1-3/20`` the same over the flattened text (``flatten``: no
    whitespace, punctuation or stand-alone Latin letters), so segmented and raw text agree;
    ``flatword:2-4@2`` the training vocabulary's words of 2–4 characters (kept from 2 texts on)
    found as substrings of the flattened text (``FlatWords``: no segmenter at prediction);
    ``vec:all`` / ``vec:lead`` the mean pretrained word vector of the whole text / its first line
    (``vec:lead*0.5`` weights the block; ``analysis.wordvectors``)."""
    blocks: list[Any] = []
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("vec:"):
            blocks.append(_vector_block(part))
            continue
        try:
            kind, rest = part.split(":")
            rest, _, chars = rest.partition("/")
            rng, _, min_df = rest.partition("@")
            lo, hi = (int(x) for x in rng.split("-"))
            cls = _FEATURE_KINDS[kind]
            if chars and kind not in _CUT_KINDS:
                raise ValueError(part)
            n_chars = int(chars) if chars else LEAD_CHARS
        except (ValueError, KeyError):
            raise FeatureSpecError(f"无法识别的特征说明 (bad feature spec): {part!r}") from None
        if not 1 <= lo <= hi <= 8:
            raise FeatureSpecError(f"n-gram 范围无效 (bad n-gram range): {part!r}")
        if n_chars < 1:
            raise FeatureSpecError(f"开头字数无效 (bad lead length): {part!r}")
        block = cls((lo, hi), int(min_df or 1))
        if kind in _CUT_KINDS:
            block.chars = n_chars
        blocks.append(block)
    return Features(blocks)


def _vector_block(part: str) -> WordVectorMean:
    which, _, weight = part.removeprefix("vec:").partition("*")
    try:
        w = float(weight) if weight else 1.0
        if not (w > 0 and math.isfinite(w)):
            raise ValueError(weight)
        return WordVectorMean(which, w)
    except ValueError:
        raise FeatureSpecError(f"无法识别的特征说明 (bad feature spec): {part!r}") from None
