"""Pretrained Chinese word vectors as a feature block for the topic classifier.

A locality's labelled history is small (hundreds of messages), so two messages about the same
remit often share no n-gram ("噪音" vs "扰民", "医保" vs "医疗保险"). Averaged pretrained word
vectors let the classifier see that such words are related. The vectors are the 125,796-word,
100-dimension word2vec vectors trained on Chinese Wikipedia that the ``synonyms`` package
(version 3.10.2, MIT licence; data "可用于研究和商业产品, 必须注明引用和地址":
https://github.com/chatopera/Synonyms) ships as ``synonyms/data/words.vector``. They are read
from the installed package, never imported through it (its ``__init__`` loads the whole model
and prints to stdout), and never downloaded.

A saved model records the vectors' name and SHA-256 instead of the 50 MB of vectors,
and loading refuses a model whose vectors are missing or different.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from analysis.wordtokens import word_ngrams

VECTORS_NAME = "synonyms-3.10.2-wiki-word2vec"


class WordVectorsError(ValueError):
    """The word vectors are not installed or are not the ones a model was trained with."""


def vectors_path() -> Path:
    """Where the installed ``synonyms`` package keeps its word2vec file."""
    spec = importlib.util.find_spec("synonyms")  # finds the package without running it
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / "data" / "words.vector"
        if path.is_file():
            return path
    raise WordVectorsError(
        "未找到词向量文件: 请安装 synonyms==3.10.2 (pip install synonyms==3.10.2) "
        "(word vectors not found: install synonyms==3.10.2)"
    )


@functools.lru_cache(maxsize=2)
def load_vectors(path: str | None = None) -> tuple[dict[str, int], np.ndarray, str]:
    """(word → row, unit-length float32 vectors, sha256 of the file) of a binary word2vec file."""
    raw = Path(path or vectors_path()).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        nl = raw.index(b"\n")
        n, dim = (int(x) for x in raw[:nl].split())
        vecs = np.empty((n, dim), dtype=np.float32)
        index: dict[str, int] = {}
        pos, width = nl + 1, 4 * dim
        for i in range(n):
            sp_at = raw.index(b" ", pos)
            word = raw[pos:sp_at].decode("utf-8", "replace").strip()
            pos = sp_at + 1
            vecs[i] = np.frombuffer(raw, dtype=np.float32, count=dim, offset=pos)
            pos += width
            if raw[pos : pos + 1] == b"\n":
                pos += 1
            if word and word != "</s>":
                index.setdefault(word, i)
    except ValueError as exc:
        raise WordVectorsError(f"词向量文件格式错误 (bad word2vec file): {exc}") from None
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return index, vecs / norms, digest


class WordVectorMean:
    """Feature block: the L2-normalised mean of the unit word vectors of a text's jieba words,
    times ``weight``; ``part="lead"`` uses the first line only (a message's title)."""

    kind = "vec"

    def __init__(self, part: str = "all", weight: float = 1.0) -> None:
        if part not in ("all", "lead"):
            raise ValueError(part)
        self.part = part
        self.weight = float(weight)
        self.digest = ""

    def _vectors(self):
        index, vecs, digest = load_vectors()
        if self.digest and digest != self.digest:
            raise WordVectorsError(
                "词向量与训练模型时所用的不同 (the word vectors differ from those the model was "
                f"trained with): {digest[:12]} != {self.digest[:12]}"
            )
        return index, vecs, digest

    def check(self) -> None:
        """Raise ``WordVectorsError`` unless the vectors are installed and are the model's."""
        self._vectors()

    def fit(self, texts: Sequence[str]) -> WordVectorMean:
        self.digest = self._vectors()[2]
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        index, vecs, _ = self._vectors()
        texts = ["" if t is None else str(t) for t in texts]
        if self.part == "lead":
            texts = [t.split("\n", 1)[0] for t in texts]
        out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        for r, words in enumerate(word_ngrams(texts, 1, 1) if texts else []):
            rows = [index[w] for w in words if w in index]
            if rows:
                v = vecs[rows].sum(axis=0)
                norm = float(np.linalg.norm(v))
                if norm:
                    out[r] = v * (self.weight / norm)
        return sp.csr_matrix(out)

    @property
    def n_features(self) -> int:
        return int(load_vectors()[1].shape[1])

    def header(self) -> dict[str, Any]:
        return {
            "kind": "vec",
            "part": self.part,
            "weight": self.weight,
            "vectors": VECTORS_NAME,
            "sha256": self.digest,
        }

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {}

    @classmethod
    def restore(cls, head: Mapping[str, Any], arrays: Mapping[str, np.ndarray], prefix: str):
        block = cls(str(head["part"]), float(head["weight"]))
        block.digest = str(head.get("sha256", ""))
        return block
