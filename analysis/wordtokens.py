"""Word tokens for the text classifiers: jieba words and word n-grams of a batch of texts.

Shared by the word n-gram features (``analysis.textfeatures``) and the word-vector features
(``analysis.wordvectors``). jieba is imported on first use, not at import time.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Sequence

_SEP = "\x00"
WORD_CACHE_TEXTS = 4096  # texts whose jieba words are kept (a few MB for citizens' messages)


@functools.lru_cache(maxsize=WORD_CACHE_TEXTS)
def _word_tokens(text: str) -> tuple[str, ...]:
    """The jieba words of ``text``, blank ones dropped.

    Cached per text: a topic model's word block and its word-vector block segment the same
    texts one after the other, and training segments each text again in every fold.
    """
    import jieba

    jieba.setLogLevel(logging.WARNING)  # no dictionary-loading chatter on stderr
    return tuple(w for w in jieba.lcut(text) if w.strip())


def word_ngrams(texts: Sequence[str], lo: int, hi: int) -> list[list[str]]:
    """Per text, its jieba word n-grams (``lo <= n <= hi``, words joined by a space) after NFKC
    folding and lower-casing."""
    out = []
    joined = unicodedata.normalize("NFKC", _SEP.join(map(str, texts))).lower()
    for text in joined.split(_SEP):
        toks = _word_tokens(text)
        grams = []
        for n in range(lo, hi + 1):
            grams.extend(" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1))
        out.append(grams)
    if len(out) != len(texts):  # a text contained NUL: fall back to one by one
        out = [word_ngrams([str(t).replace(_SEP, " ")], lo, hi)[0] for t in texts]
    return out
