"""The linear text classifier of ``analysis.textmodel``: prediction, and its model file.

A saved model holds only numpy arrays and a JSON header in one ``.npz`` file, so loading needs
neither pickle nor the network, and prediction needs only numpy and scipy. ``PriorScores`` is a
feature block made of another, already trained model (a *prior*), stored inside the model that
uses it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.textfeatures import _FEATURE_KINDS, Features
from analysis.textlabels import TextModelError
from analysis.wordvectors import WordVectorMean, WordVectorsError

FORMAT = "yuqing-textmodel"
FORMAT_VERSION = 1


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a score matrix (computed in place on ``z``)."""
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


class LinearTextModel:
    """A linear classifier over n-gram features; binary models hold one weight row."""

    def __init__(
        self,
        *,
        task: str,
        features: Features,
        classes: Sequence[str],
        coef: np.ndarray,
        intercept: np.ndarray,
        info: Mapping[str, Any] | None = None,
    ):
        self.task = task
        self.features = features
        self.classes = [str(c) for c in classes]
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.info: dict[str, Any] = dict(info or {})
        self._coef_t = np.ascontiguousarray(self.coef.T)

    @property
    def labels(self) -> list[str]:
        return list(self.classes)

    @property
    def has_neutral_head(self) -> bool:
        """Whether the last weight row is a learned neutral-vs-polar head (sentiment models)."""
        return bool(self.info.get("neutral_head")) and self.coef.shape[0] >= 2

    @property
    def _polar_rows(self) -> int:
        """Number of weight rows of the polarity part (all rows but the neutral head)."""
        return self.coef.shape[0] - int(self.has_neutral_head)

    @property
    def emotion_polarity(self) -> list[str] | None:
        """Polarity of each emotion row of a mixed sentiment model (None for a plain model)."""
        pol = self.info.get("emotion_polarity")
        return list(pol) if pol and self._polar_rows == 1 + len(pol) else None

    def _raw(self, texts: Sequence[str]) -> np.ndarray:
        X = self.features.transform(list(texts))
        return np.asarray(X @ self._coef_t, dtype=np.float64) + self.intercept

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        """Raw scores: shape (n,) for a binary model, (n, classes) otherwise.

        For a mixed sentiment model (binary row plus emotion rows) this is the log-odds of the
        mixed probability of ``positive``.
        """
        z = self._raw(texts)
        if self.emotion_polarity is not None or self.has_neutral_head:
            p = np.clip(self._positive(z), 1e-9, 1 - 1e-9)
            return np.log(p / (1.0 - p))
        return z[:, 0] if self.coef.shape[0] == 1 else z

    def _mixed_positive(self, z: np.ndarray) -> np.ndarray:
        """Mean of the binary row's P(positive) and the emotion rows' summed P(positive emotion)."""
        pol = self.emotion_polarity or []
        pos = np.array([p == "positive" for p in pol])
        p_bin = 1.0 / (1.0 + np.exp(-z[:, 0]))
        p_emo = softmax(z[:, 1 : 1 + len(pol)].copy())[:, pos].sum(axis=1)
        return (p_bin + p_emo) / 2.0

    def _positive(self, z: np.ndarray) -> np.ndarray:
        """P(positive) of a sentiment model's polarity part (positive vs negative)."""
        if self.emotion_polarity is not None:
            return self._mixed_positive(z)
        return 1.0 / (1.0 + np.exp(-z[:, 0]))

    def sentiment_parts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """(P(positive) of the polarity part, P(neutral) of the neutral head or None), from one
        pass over the features."""
        z = self._raw(texts)
        p_neu = 1.0 / (1.0 + np.exp(-z[:, -1])) if self.has_neutral_head else None
        return self._positive(z), p_neu

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes``.

        For a sentiment model these are the polarity part's (positive vs negative); the neutral
        head, when there is one, is read with :meth:`sentiment_parts`."""
        z = self._raw(texts)
        if self.emotion_polarity is not None or self.has_neutral_head or self.coef.shape[0] == 1:
            p = self._positive(z)
            return np.stack([1.0 - p, p], axis=1)
        return softmax(z)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(label, probability) of the most probable class for each text."""
        texts = list(texts)
        if not texts:
            return []
        proba = self.predict_proba(texts)
        best = proba.argmax(axis=1)
        return [(self.classes[i], float(proba[k, i])) for k, i in enumerate(best)]

    # -- persistence
    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` (a ``.npz`` file: arrays plus a JSON header)."""
        path = Path(path)
        head = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "task": self.task,
            "classes": self.classes,
            "features": [b.header() for b in self.features.blocks],
            "info": self.info,
        }
        arrays: dict[str, np.ndarray] = {
            "header": np.array(json.dumps(head, ensure_ascii=False)),
            "coef": self.coef,
            "intercept": self.intercept,
        }
        for i, b in enumerate(self.features.blocks):
            arrays.update(b.arrays(f"f{i}_"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:  # np.savez_compressed would append .npz to a str path
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> LinearTextModel:
        """Read a model written by :meth:`save`; clear ``TextModelError`` when it is not one."""
        path = Path(path)
        if not path.is_file():
            raise TextModelError(f"模型文件不存在 (model file not found): {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            head = json.loads(str(arrays["header"]))
        except (OSError, ValueError, KeyError) as exc:  # zip, npy and JSON errors
            raise TextModelError(f"不是有效的模型文件 (not a model file): {path}: {exc}") from None
        if head.get("format") != FORMAT or head.get("version") != FORMAT_VERSION:
            raise TextModelError(f"不支持的模型格式 (unsupported model format): {path}")
        try:
            blocks = [
                _BLOCK_KINDS[h["kind"]].restore(h, arrays, f"f{i}_")
                for i, h in enumerate(head["features"])
            ]
        except KeyError as exc:
            raise TextModelError(f"不是有效的模型文件 (not a model file): {path}: {exc}") from None
        check_vectors(blocks, f"{path}: ")
        return cls(
            task=head["task"],
            features=Features(blocks),
            classes=head["classes"],
            coef=arrays["coef"],
            intercept=arrays["intercept"],
            info=head.get("info"),
        )


class PriorScores:
    """Feature block: the log-probabilities of a fixed, already trained model (a *prior*, e.g.
    ``analysis/models/topic_prior_hotline.npz``) times ``weight``.

    Lets a model trained on few labelled rows stack the scores of a model learned elsewhere (on
    weakly labelled messages of the same platform). The prior is stored inside the model that
    uses it, so a saved model stays one self-contained file.
    """

    kind = "prior"

    def __init__(self, model: LinearTextModel, weight: float, name: str = "") -> None:
        self.model = model
        self.weight = float(weight)
        self.name = name

    def fit(self, texts: Sequence[str]) -> PriorScores:
        return self  # the prior is fixed

    def transform(self, texts: Sequence[str]):
        import scipy.sparse as sp

        texts = list(texts)
        if not texts:
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)
        p = self.model.predict_proba(texts)
        z = np.log(np.clip(p, 1e-12, 1.0)) * self.weight
        return sp.csr_matrix(z.astype(np.float32))

    @property
    def n_features(self) -> int:
        return len(self.model.classes)

    def header(self) -> dict[str, Any]:
        return {
            "kind": "prior",
            "weight": self.weight,
            "name": self.name,
            "task": self.model.task,
            "classes": self.model.classes,
            "features": [b.header() for b in self.model.features.blocks],
            "info": self.model.info,
        }

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        out = {f"{prefix}coef": self.model.coef, f"{prefix}intercept": self.model.intercept}
        for i, b in enumerate(self.model.features.blocks):
            out.update(b.arrays(f"{prefix}p{i}_"))
        return out

    @classmethod
    def restore(cls, head: Mapping[str, Any], arrays: Mapping[str, np.ndarray], prefix: str):
        blocks = [
            _FEATURE_KINDS[h["kind"]].restore(h, arrays, f"{prefix}p{i}_")
            for i, h in enumerate(head["features"])
        ]
        model = LinearTextModel(
            task=head["task"],
            features=Features(blocks),
            classes=head["classes"],
            coef=arrays[f"{prefix}coef"],
            intercept=arrays[f"{prefix}intercept"],
            info=head.get("info"),
        )
        return cls(model, head["weight"], head.get("name", ""))


_BLOCK_KINDS: dict[str, Any] = {**_FEATURE_KINDS, "prior": PriorScores}


def check_vectors(blocks: Sequence[Any], where: str = "") -> None:
    """``TextModelError`` unless the word vectors that ``blocks`` use are installed and are the
    ones they were fitted with (``analysis.wordvectors``)."""
    try:
        for b in blocks:
            if isinstance(b, WordVectorMean):
                b.check()
    except WordVectorsError as exc:
        raise TextModelError(f"{where}{exc}") from None


def load_model(path: str | Path, task: str | None = None) -> LinearTextModel:
    """Load a saved model, checking its task (``sentiment`` / ``topic``) when given."""
    model = LinearTextModel.load(path)
    if task is not None and model.task != task:
        raise TextModelError(
            f"模型类型不符 (wrong model type): {path} 是 {model.task} 模型, 需要 {task} 模型"
        )
    return model
