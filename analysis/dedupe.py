"""Duplicate detection: exact duplicates by normalised hash, near duplicates by 64-bit SimHash.

Everything here is pure and bounded in memory:

* ``shingles(text)`` — the character bigrams (ASCII words count as one character) a text is
  made of; the same units feed SimHash and the event clusterer.
* ``simhash_batch(shingle_sets)`` — 64-bit SimHash fingerprints of many texts at once (numpy,
  vectorised over the batch; the stable per-shingle hash is blake2b, so fingerprints are equal
  across processes and can be stored in the database).
* ``DuplicateIndex`` — remembers the most recent posts (exact key → post, SimHash split into four
  16-bit blocks → posts) and answers "which earlier post is this a copy of?". Two fingerprints
  within Hamming distance 3 always share a 16-bit block and closer ones usually do, so a lookup touches only posts that
  share a block. When the index is full the oldest posts are forgotten (FIFO).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

_SEG = re.compile(r"[0-9a-z\u4e00-\u9fff]+")
_TOK = re.compile(r"[0-9a-z]+|[\u4e00-\u9fff]")
_ASCII_OR_DIGIT = re.compile(r"[0-9a-z]")

#: Hamming distance at or below which two fingerprints are near duplicates.
NEAR_DISTANCE = 5
#: Texts with fewer distinct shingles than this are matched only exactly.
MIN_SHINGLES = 8

_MASK64 = (1 << 64) - 1


def shingles(text: str, *, limit: int = 600) -> list[str]:
    """Character bigrams of ``text`` (lower-cased, first ``limit`` characters).

    Runs of Chinese characters give overlapping bigrams; a run of ASCII letters or digits counts
    as one unit, so ``58车贷`` gives ``58车`` and ``车贷``. Punctuation and spaces break runs.
    A lone unit (one Chinese character between punctuation, or an ASCII word of two or more
    characters) is kept as a unigram.
    """
    out: list[str] = []
    for seg in _SEG.findall(text[:limit].lower()):
        if not _ASCII_OR_DIGIT.search(seg):
            n = len(seg)
            if n == 1:
                out.append(seg)
            else:
                out.extend([seg[i : i + 2] for i in range(n - 1)])
            continue
        toks = _TOK.findall(seg)
        if len(toks) == 1:
            if len(toks[0]) >= 2:
                out.append(toks[0])
            continue
        out.extend([a + b for a, b in itertools.pairwise(toks)])
    return out


class _HashCache:
    """Stable 64-bit hashes of shingles, memoised (bounded: cleared when it grows too big)."""

    def __init__(self, cap: int = 200_000) -> None:
        self.cap = cap
        self.map: dict[str, int] = {}

    def get_many(self, terms: Iterable[str]) -> list[int]:
        m = self.map
        out = []
        for t in terms:
            h = m.get(t)
            if h is None:
                if len(m) >= self.cap:
                    m.clear()
                h = int.from_bytes(
                    hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little"
                )
                m[t] = h
            out.append(h)
        return out


_HASHES = _HashCache()


def simhash_batch(shingle_sets: Sequence[Iterable[str]]) -> list[int | None]:
    """Unweighted 64-bit SimHash of each set of shingles (None when it has too few shingles).

    The batch is one sparse matrix (posts × distinct shingles) multiplied by the bit matrix of
    the distinct shingles' hashes: each bit of a fingerprint is set when more than half of the
    post's shingles have it set.
    """
    from scipy.sparse import csr_matrix  # lazily: only ingest needs it

    sets = [sset if isinstance(sset, set | frozenset) else set(sset) for sset in shingle_sets]
    sizes = [len(u) if len(u) >= MIN_SHINGLES else 0 for u in sets]
    out: list[int | None] = [None] * len(shingle_sets)
    flat = list(chain.from_iterable(u for u, n in zip(sets, sizes, strict=True) if n))
    if not flat:
        return out
    keys = list(dict.fromkeys(flat))
    vocab = dict(zip(keys, range(len(keys)), strict=True))
    indices = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    indptr = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    hashes = np.fromiter(_HASHES.get_many(keys), dtype=np.uint64, count=len(keys))
    bits = np.unpackbits(hashes.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little").astype(
        np.float32
    )
    matrix = csr_matrix(
        (np.ones(len(flat), dtype=np.float32), indices, indptr), shape=(len(sets), len(keys))
    )
    counts = matrix @ bits
    size_arr = np.array(sizes, dtype=np.float32)
    on = counts * 2.0 > size_arr[:, None]
    values = np.packbits(on, axis=1, bitorder="little").view("<u8").reshape(-1).tolist()
    for i, (v, n) in enumerate(zip(values, sizes, strict=True)):
        if n:
            out[i] = int(v)
    return out


def to_signed64(value: int | None) -> int | None:
    """Unsigned 64-bit fingerprint → signed (for a BIGINT column)."""
    if value is None:
        return None
    return value - (1 << 64) if value >= 1 << 63 else value


def from_signed64(value: int | None) -> int | None:
    """Signed BIGINT → unsigned 64-bit fingerprint."""
    if value is None:
        return None
    return value & _MASK64


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two fingerprints."""
    return (a ^ b).bit_count()


@dataclass(slots=True)
class Known:
    """A remembered post: its id, the original it copies (itself if none) and its event."""

    post_id: int
    root_id: int
    event_id: int | None
    fingerprint: int | None


class DuplicateIndex:
    """Bounded index of recent posts by exact key and by SimHash blocks.

    ``cap`` is the number of posts remembered; older ones are dropped first. Exact duplicates
    across the whole history are found by the caller in the database; this index makes the
    common case (copies close in time) free and finds near duplicates.
    """

    def __init__(self, cap: int = 50_000, distance: int = NEAR_DISTANCE) -> None:
        self.cap = cap
        self.distance = distance
        self.posts: dict[int, Known] = {}
        self.by_key: dict[str, int] = {}
        self.key_of: dict[int, str] = {}
        self.blocks: list[dict[int, list[int]]] = [{}, {}, {}, {}]
        self.order: deque[int] = deque()

    def __len__(self) -> int:
        return len(self.posts)

    def find_exact(self, key: str) -> Known | None:
        pid = self.by_key.get(key)
        return None if pid is None else self.posts.get(pid)

    def find_near(self, fingerprint: int | None) -> Known | None:
        """The closest remembered post within ``distance`` bits (earliest on ties)."""
        if fingerprint is None:
            return None
        best: Known | None = None
        best_d = self.distance + 1
        seen: set[int] = set()
        for i, table in enumerate(self.blocks):
            for pid in table.get((fingerprint >> (16 * i)) & 0xFFFF, ()):
                if pid in seen:
                    continue
                seen.add(pid)
                known = self.posts[pid]
                d = (known.fingerprint ^ fingerprint).bit_count()  # type: ignore[operator]
                if d < best_d or (d == best_d and best is not None and pid < best.post_id):
                    best, best_d = known, d
        return best

    def add(self, known: Known, key: str | None) -> None:
        """Remember a post (its exact key and fingerprint); forget the oldest beyond ``cap``."""
        pid = known.post_id
        if pid in self.posts:
            return
        self.posts[pid] = known
        if key:
            self.by_key.setdefault(key, pid)
            self.key_of[pid] = key
        if known.fingerprint is not None:
            fp = known.fingerprint
            for i, table in enumerate(self.blocks):
                table.setdefault((fp >> (16 * i)) & 0xFFFF, []).append(pid)
        self.order.append(pid)
        while len(self.order) > self.cap:
            self._forget(self.order.popleft())

    def set_event(self, post_id: int, event_id: int | None) -> None:
        known = self.posts.get(post_id)
        if known is not None:
            known.event_id = event_id

    def _forget(self, pid: int) -> None:
        known = self.posts.pop(pid, None)
        if known is None:
            return
        key = self.key_of.pop(pid, None)
        if key is not None and self.by_key.get(key) == pid:
            del self.by_key[key]
        if known.fingerprint is not None:
            fp = known.fingerprint
            for i, table in enumerate(self.blocks):
                block = (fp >> (16 * i)) & 0xFFFF
                ids = table.get(block)
                if ids:
                    try:
                        ids.remove(pid)
                    except ValueError:
                        pass
                    if not ids:
                        del table[block]
