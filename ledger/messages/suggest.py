"""Reply suggestions: the answered messages most like a new one, with their replies.

The index holds one TF-IDF vector per answered message (title and text), over character 1–2-grams
hashed into a fixed space (``HashingVectorizer``: no vocabulary to refit, so messages are added
to the index as they are answered without rebuilding it). Document frequencies are kept as a
running count and IDF weights applied at query time, so the scores are exactly those of an index
built afresh. Similarity is the cosine between the query and each message.

:class:`ReplyIndex` is built and kept current by :func:`refresh`, which reads only the ids of the
answered messages and then the title and text of those not yet indexed: a dashboard process keeps
one index and adds what was answered since; a command builds it once. The replies, units and
times shown are read fresh for the top hits (a reply corrected later shows corrected).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlmodel import Session

from analysis.normalize import normalize_text
from analysis.pii import mask
from analysis.replyunit import reply_unit
from ledger.models.core import Message

N_FEATURES = 2**20
NGRAMS = (1, 2)
MAX_QUERY_CHARS = 5000
FETCH_CHUNK = 2000
_MESSAGE = Message.__table__  # type: ignore[attr-defined]


class SuggestError(ValueError):
    """A suggestion request that cannot be served (message in Chinese for the user)."""


def _vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer="char", ngram_range=NGRAMS, n_features=N_FEATURES, alternate_sign=False,
                             norm=None, lowercase=True)


def document(title: str | None, text: str | None) -> str:
    """What is indexed of a message: its title and text."""
    return ((title or "") + "\n" + (text or "")).strip()


@dataclass
class ReplyIndex:
    """TF-IDF vectors of answered messages over hashed character n-grams, grown incrementally.

    Stored: the sublinear term counts (CSR, one row per message) and the document frequencies.
    IDF weights are applied at query time, so adding messages never rewrites the stored rows; only
    the rows' norms under the current weights and a column-major copy of the counts are recomputed
    (one vectorised pass each) after growth. A query reads only the columns of its own n-grams in
    that copy (an inverted index: the work follows the postings of the query's n-grams, not the
    size of the whole index)."""

    ids: list[int] = field(default_factory=list)
    _tf: Any = field(default=None, repr=False)  # scipy CSR: sublinear term counts per message
    _df: Any = field(default=None, repr=False)  # document frequency per hashed feature
    _norms: Any = field(default=None, repr=False)  # rows' TF-IDF norms under the current IDF; None: stale
    _csc: Any = field(default=None, repr=False)  # column-major copy of _tf (postings per n-gram); None: stale

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, ids: Sequence[int], documents: Sequence[str]) -> None:
        """Index ``documents`` (normalised title + text) under their message ``ids``."""
        if not ids:
            return
        import scipy.sparse as sp

        counts = _vectorizer().transform(list(documents)).tocsr()
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf
        df = np.bincount(counts.indices, minlength=N_FEATURES).astype(np.float64)
        self._tf = counts if self._tf is None else sp.vstack([self._tf, counts], format="csr")
        self._df = df if self._df is None else self._df + df
        self.ids.extend(int(i) for i in ids)
        self._norms = None
        self._csc = None

    def _idf(self) -> np.ndarray:
        n = len(self.ids)
        return np.log((1.0 + n) / (1.0 + self._df)) + 1.0

    def _row_norms(self, idf: np.ndarray) -> np.ndarray:
        if self._norms is None:
            tf = self._tf
            rows = np.repeat(np.arange(tf.shape[0]), np.diff(tf.indptr))
            sq = np.bincount(rows, weights=(tf.data * idf[tf.indices]) ** 2, minlength=tf.shape[0])
            self._norms = np.sqrt(sq)
            self._norms[self._norms == 0] = 1.0
        return self._norms

    def query(self, text: str, *, top: int = 5, exclude: set[int] | None = None) -> list[tuple[int, float]]:
        """(message id, cosine similarity) of the ``top`` most similar indexed messages, best first
        (only those sharing something with ``text``)."""
        if not self.ids:
            return []
        q = _vectorizer().transform([text]).tocsr()
        if q.nnz == 0:
            return []
        idf = self._idf()
        cols = q.indices
        weights = (1.0 + np.log(q.data)) * idf[cols]
        weights /= np.sqrt((weights**2).sum())
        if self._csc is None:
            self._csc = self._tf.tocsc()
        postings = self._csc[:, cols]  # only the query's n-grams' columns
        scores = (postings @ (weights * idf[cols])) / self._row_norms(idf)  # the documents' IDF, applied here
        want = top + len(exclude or ())
        if want < len(scores):
            cand = np.argpartition(-scores, want)[:want]
        else:
            cand = np.arange(len(scores))
        order = cand[np.argsort(-scores[cand], kind="stable")]
        out = []
        for i in order:
            mid = self.ids[i]
            if scores[i] <= 0 or (exclude and mid in exclude):
                continue
            out.append((mid, float(scores[i])))
            if len(out) == top:
                break
        return out


def refresh(session: Session, index: ReplyIndex | None = None) -> ReplyIndex:
    """``index`` (or a new one) with every answered message added that it does not hold yet."""
    index = index or ReplyIndex()
    c = _MESSAGE.c
    answered = [r[0] for r in session.execute(
        select(c.id).where(c.reply_text.is_not(None), c.reply_text != "").order_by(c.id))]
    have = set(index.ids)
    missing = [i for i in answered if i not in have]
    ids: list[int] = []
    docs: list[str] = []
    for start in range(0, len(missing), FETCH_CHUNK):
        chunk = missing[start : start + FETCH_CHUNK]
        rows = {r[0]: r for r in session.execute(select(c.id, c.title, c.text).where(c.id.in_(chunk)))}
        kept = [i for i in chunk if i in rows]
        ids.extend(kept)
        docs.extend(document(rows[i][1], rows[i][2]) for i in kept)
    index.add(ids, docs)  # one append to the stored rows, however many were read
    return index


def suggest(session: Session, *, text: str, index: ReplyIndex | None = None, top: int = 3,
            exclude_id: int | None = None, unmasked: bool = False) -> list[dict[str, Any]]:
    """The ``top`` answered messages most similar to ``text``, best first, each with its reply,
    unit (the message's, else the one its reply names: ``unit_from`` says which) and similarity.
    Personal numbers are masked unless ``unmasked``. ``index``: one kept current by the caller
    (refreshed here); without it one is built for this call."""
    query = normalize_text(text or "").strip()
    if len(query) < 2:
        raise SuggestError("请输入留言内容 (至少两个字)")
    if len(query) > MAX_QUERY_CHARS:
        query = query[:MAX_QUERY_CHARS]
    if top < 1 or top > 50:
        raise SuggestError("条数须在 1 到 50 之间")
    index = refresh(session, index)
    hits = index.query(query, top=top, exclude={exclude_id} if exclude_id is not None else None)
    if not hits:
        return []
    rows = {m.id: m for m in session.execute(select(Message).where(Message.id.in_([i for i, _ in hits]))).scalars()}
    show = (lambda s: s) if unmasked else mask
    out = []
    for mid, score in hits:
        m = rows.get(mid)
        if m is None or not m.reply_text:
            continue
        unit, unit_from = (m.unit, "message") if m.unit else (reply_unit(m.reply_text), "reply_text")
        out.append({
            "message_id": m.id, "external_id": m.external_id, "channel": m.channel,
            "title": show(m.title) if m.title else m.title, "text": show(m.text),
            "reply": show(m.reply_text), "unit": unit, "unit_from": unit_from if unit else None,
            "received_at": m.received_at, "replied_at": m.replied_at, "similarity": round(score, 4),
        })
    return out


__all__ = ["ReplyIndex", "SuggestError", "document", "refresh", "suggest"]
