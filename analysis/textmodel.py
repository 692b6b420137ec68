"""Trainable text classifiers: fast n-gram features, training, evaluation, saving and loading.

Two uses in the project:

* the sentiment model (positive / negative with a calibrated probability, a neutral band around
  the decision threshold gives the three-way label), and
* the topic model a locality trains on its own labelled messages (``analysis.topicmodel``).

Features are TF-IDF weighted character n-grams computed with numpy over a whole batch at once
(n-grams are keyed by a 64-bit FNV-1a hash of their code points, looked up in a hash table),
optionally joined by jieba word n-grams. The classifier is linear (scikit-learn at training time);
a saved model holds only numpy arrays and a JSON header in one ``.npz`` file, so loading needs
neither pickle nor the network, and prediction needs only numpy and scipy.

Pure module: no database, no configuration package; paths and texts come in as arguments.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.textfeatures import _FEATURE_KINDS, Features, FeatureSpecError, make_features
from analysis.wordvectors import WordVectorMean, WordVectorsError

FORMAT = "yuqing-textmodel"
FORMAT_VERSION = 1


# Polarity label synonyms accepted in training / evaluation data (lower-cased keys).
# fmt: off
_POSITIVE = ("positive", "pos", "p", "1", "+1", "+", "正", "正面", "积极", "褒", "好评",
             "optimism", "gratitude", "joy", "happy", "happiness", "like", "喜", "乐", "好")
_NEGATIVE = ("negative", "neg", "n", "-1", "-", "0", "负", "负面", "消极", "贬", "差评",
             "anger", "disgust", "sadness", "fear", "angry", "sad", "怒", "哀", "惧", "恶")
_NEUTRAL = ("neutral", "neu", "none", "中", "中性", "中立", "surprise", "惊", "other", "others")
# fmt: on
# Labels that name a polarity itself, not a finer emotion.
_PLAIN_POLARITY = frozenset(_POSITIVE[:11] + _NEGATIVE[:11] + _NEUTRAL[:6])
POLARITY_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(_POSITIVE, "positive"),
    **dict.fromkeys(_NEGATIVE, "negative"),
    **dict.fromkeys(_NEUTRAL, "neutral"),
}


class TextModelError(ValueError):
    """Bad training data, bad model file or bad arguments (message is fit for the user)."""


def normalize_polarity(value: Any) -> str | None:
    """Map a polarity label or common synonym to positive / negative / neutral (None if unknown)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    key = str(value).strip().lower()
    key = key.removesuffix(".0")  # 1.0 / -1.0 / 0.0 read from numeric columns
    return POLARITY_SYNONYMS.get(key)


# --------------------------------------------------------------------------- models


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
    def emotion_polarity(self) -> list[str] | None:
        """Polarity of each emotion row of a mixed sentiment model (None for a plain model)."""
        pol = self.info.get("emotion_polarity")
        return list(pol) if pol and self.coef.shape[0] == 1 + len(pol) else None

    def _raw(self, texts: Sequence[str]) -> np.ndarray:
        X = self.features.transform(list(texts))
        return np.asarray(X @ self._coef_t, dtype=np.float64) + self.intercept

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        """Raw scores: shape (n,) for a binary model, (n, classes) otherwise.

        For a mixed sentiment model (binary row plus emotion rows) this is the log-odds of the
        mixed probability of ``positive``.
        """
        z = self._raw(texts)
        if self.emotion_polarity is not None:
            p = np.clip(self._mixed_positive(z), 1e-9, 1 - 1e-9)
            return np.log(p / (1.0 - p))
        return z[:, 0] if self.coef.shape[0] == 1 else z

    def _mixed_positive(self, z: np.ndarray) -> np.ndarray:
        """Mean of the binary row's P(positive) and the emotion rows' summed P(positive emotion)."""
        pos = np.array([p == "positive" for p in self.emotion_polarity or []])
        p_bin = 1.0 / (1.0 + np.exp(-z[:, 0]))
        p_emo = softmax(z[:, 1:].copy())[:, pos].sum(axis=1)
        return (p_bin + p_emo) / 2.0

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes``."""
        z = self._raw(texts)
        if self.emotion_polarity is not None:
            p = self._mixed_positive(z)
            return np.stack([1.0 - p, p], axis=1)
        if self.coef.shape[0] == 1:
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
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


# --------------------------------------------------------------------------- data


def read_labelled_csv(
    path: str | Path, text_cols: Sequence[str], label_col: str
) -> tuple[list[str], list[str]]:
    """Texts (the named columns joined by line breaks, as the project stores a message: title,
    then body) and raw labels from a UTF-8 CSV file.

    Rows with an empty label are skipped. Missing file or columns raise ``TextModelError``
    naming what is missing and what the file has.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise TextModelError(f"数据文件不存在 (data file not found): {path}")
    text_cols = [c.strip() for c in text_cols if c.strip()]
    if not text_cols:
        raise TextModelError("未指定文本列 (no text column given)")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in [*text_cols, label_col] if c not in header]
            if missing:
                raise TextModelError(
                    f"数据文件缺少列 (missing column) {', '.join(missing)}: {path}; "
                    f"已有列 (columns): {', '.join(header) or '无'}"
                )
            reader.fieldnames = header
            texts, labels = [], []
            for row in reader:
                label = (row.get(label_col) or "").strip()
                if not label:
                    continue
                texts.append("\n".join((row.get(c) or "").strip() for c in text_cols).strip())
                labels.append(label)
    except UnicodeDecodeError as exc:
        raise TextModelError(f"数据文件不是 UTF-8 编码 (not UTF-8): {path}: {exc}") from None
    except csv.Error as exc:
        raise TextModelError(f"CSV 格式错误 (bad CSV): {path}: {exc}") from None
    if not texts:
        raise TextModelError(f"数据文件没有带标签的行 (no labelled rows): {path}")
    return texts, labels


def polarity_labels(raw: Sequence[Any]) -> list[str | None]:
    """Polarity of each raw label (None when unknown); ``0`` is neutral when ``-1`` also occurs."""
    keys = {str(v).strip().lower().removesuffix(".0") for v in raw}
    zero = "neutral" if "-1" in keys else "negative"
    out = []
    for v in raw:
        key = str(v).strip().lower().removesuffix(".0")
        out.append(zero if key == "0" else normalize_polarity(key))
    return out


# --------------------------------------------------------------------------- training

DEFAULT_SENTIMENT_FEATURES = "char:1-4@2"
DEFAULT_SENTIMENT_C = 20.0
DEFAULT_NB_POWER = 0.5
MAX_BAND_HALF_WIDTH = 0.15


def _fit_linear(X, y: np.ndarray, C: float, *, balanced: bool = False, seed: int = 0):
    from sklearn.linear_model import LogisticRegression

    solver = "liblinear" if len(set(y.tolist())) == 2 else "lbfgs"
    clf = LogisticRegression(
        C=C,
        solver=solver,
        max_iter=3000,
        random_state=seed,
        class_weight="balanced" if balanced else None,
    )
    return clf.fit(X, y)


def _fit_model(
    task: str,
    texts: Sequence[str],
    y: Sequence[str],
    *,
    features: str,
    C: float,
    balanced: bool,
    seed: int,
    info: Mapping[str, Any],
) -> LinearTextModel:
    feats = make_features(features)
    X = feats.fit_transform(list(texts))
    clf = _fit_linear(X, np.asarray(y), C, balanced=balanced, seed=seed)
    return LinearTextModel(
        task=task,
        features=feats,
        classes=list(clf.classes_),
        coef=clf.coef_,
        intercept=clf.intercept_,
        info={**info, "features": features, "C": C, "seed": seed, "n_features": feats.n_features},
    )


def nb_scale(X, y: np.ndarray, power: float) -> np.ndarray:
    """Per-feature scale sign(r)·|r|^power from the log-count ratio r of binary feature presence
    in positive (y == 1) vs negative rows (add-one smoothed; NB-SVM, Wang & Manning 2012)."""
    import scipy.sparse as sp

    B = sp.csr_matrix(X, copy=True)
    B.data[:] = 1.0
    p = np.asarray(B[y == 1].sum(axis=0)).ravel() + 1.0
    q = np.asarray(B[y == 0].sum(axis=0)).ravel() + 1.0
    r = np.log((p / p.sum()) / (q / q.sum()))
    return np.sign(r) * np.abs(r) ** power


def _fit_sentiment(
    texts: Sequence[str],
    polarity: Sequence[str],
    emotions: Sequence[str] | None,
    *,
    features: str,
    C: float,
    nb_power: float,
    seed: int,
    info: Mapping[str, Any],
) -> LinearTextModel:
    """Positive-vs-negative logistic regression on NB-scaled features (scale folded into the
    weights, so the saved model is plain linear), plus, when fine-grained emotion labels are
    given, a multinomial emotion model whose summed positive-emotion probability is averaged
    with the binary one."""
    import scipy.sparse as sp

    feats = make_features(features)
    X = feats.fit_transform(list(texts))
    y = (np.asarray(polarity) == "positive").astype(np.int64)
    scale = nb_scale(X, y, nb_power) if nb_power > 0 else np.ones(X.shape[1])
    binary = _fit_linear(X @ sp.diags(scale), y, C, seed=seed)
    coef = [binary.coef_[0] * scale]
    intercept = [binary.intercept_[0]]
    extra: dict[str, Any] = {}
    if emotions is not None:
        emo = _fit_linear(X, np.asarray(emotions, dtype=object), C, seed=seed)
        pol_of = dict(zip(emotions, polarity, strict=True))
        coef.extend(emo.coef_)
        intercept.extend(emo.intercept_)
        extra = {
            "emotions": [str(c) for c in emo.classes_],
            "emotion_polarity": [pol_of[c] for c in emo.classes_],
        }
    return LinearTextModel(
        task="sentiment",
        features=feats,
        classes=["negative", "positive"],
        coef=np.vstack(coef),
        intercept=np.array(intercept),
        info={
            **info,
            **extra,
            "features": features,
            "C": C,
            "nb_power": nb_power,
            "seed": seed,
            "n_features": feats.n_features,
        },
    )


def _emotion_keys(raw_labels: Sequence[Any], pol: Sequence[str | None]) -> list[str] | None:
    """The raw labels of positive / negative rows when they are finer than the polarity itself
    (three or more distinct labels, each of one polarity), else None."""
    keys = [str(r).strip().lower().removesuffix(".0") for r in raw_labels]
    if not set(keys) - _PLAIN_POLARITY:
        return None
    seen: dict[str, str] = {}
    for k, p in zip(keys, pol, strict=True):
        if p in ("positive", "negative") and seen.setdefault(k, p) != p:
            return None
    if len(seen) < 3:
        return None
    return keys


def check_feature_spec(features: str) -> None:
    """Raise ``TextModelError`` (a message fit for the user) for a bad feature specification."""
    try:
        make_features(features)
    except FeatureSpecError as exc:
        raise TextModelError(str(exc)) from None


def train_sentiment(
    texts: Sequence[str],
    raw_labels: Sequence[Any],
    *,
    features: str = DEFAULT_SENTIMENT_FEATURES,
    C: float = DEFAULT_SENTIMENT_C,
    band: tuple[float, float] | None = None,
    seed: int = 0,
    folds: int = 3,
    nb_power: float = DEFAULT_NB_POWER,
    emotions: bool = True,
) -> LinearTextModel:
    """Train positive-vs-negative; choose the neutral band on out-of-fold scores unless given.

    Labels may be positive / negative / neutral or common synonyms (see ``POLARITY_SYNONYMS``).
    When the labels are finer emotions that each map to one polarity (e.g. anger / sadness /
    optimism / gratitude …) and ``emotions`` is true, an emotion model is trained as well and
    mixed in (see ``_fit_sentiment``). Neutral rows do not train the classifier; they choose the
    band [low, high] of scores that is called neutral (the band maximising three-way macro-F1,
    half-width at most 0.15). Without neutral rows the band is 0.45..0.55.
    """
    check_feature_spec(features)
    if nb_power < 0:
        raise TextModelError(f"NB 缩放指数不能为负 (nb_power must be >= 0): {nb_power}")
    pol = polarity_labels(raw_labels)
    keys = _emotion_keys(raw_labels, pol) if emotions else None
    rows = [
        (t, p, keys[i] if keys else None)
        for i, (t, p) in enumerate(zip(texts, pol, strict=True))
        if p is not None
    ]
    unknown = len(pol) - len(rows)
    if unknown > len(pol) / 2:
        bad = sorted({str(r) for r, p in zip(raw_labels, pol, strict=True) if p is None})[:8]
        raise TextModelError(f"无法识别的情感标签 (unknown sentiment labels): {', '.join(bad)}")
    pn = [r for r in rows if r[1] != "neutral"]
    if len({p for _, p, _ in pn}) < 2:
        raise TextModelError("训练数据需要同时包含正面和负面样本 (need positive and negative rows)")
    info = {
        "rows": len(rows),
        "skipped_rows": unknown,
        "counts": {
            k: sum(1 for _, p, _ in rows if p == k) for k in ("positive", "negative", "neutral")
        },
    }
    recipe = {"features": features, "C": C, "nb_power": nb_power, "seed": seed}
    if band is None:
        band = _choose_band(rows, folds=folds, **recipe)
    lo, hi = band
    if not 0.0 <= lo <= 0.5 <= hi <= 1.0:
        raise TextModelError(f"中性区间无效 (bad neutral band): {lo}..{hi}")
    return _fit_sentiment(
        [t for t, _, _ in pn],
        [p for _, p, _ in pn],
        [e for _, _, e in pn] if keys else None,
        info={**info, "band": [lo, hi]},
        **recipe,
    )


def _choose_band(rows, *, folds: int, **recipe: Any) -> tuple[float, float]:
    from sklearn.model_selection import StratifiedKFold

    labels = np.array([p for _, p, _ in rows])
    if (labels == "neutral").sum() < folds or min(
        (labels == k).sum() for k in ("positive", "negative")
    ) < folds:
        return (0.45, 0.55)
    texts = [t for t, _, _ in rows]
    emos = [e for _, _, e in rows]
    scores = np.zeros(len(rows))
    for a, b in StratifiedKFold(folds, shuffle=True, random_state=recipe["seed"]).split(
        texts, labels
    ):
        a = a[labels[a] != "neutral"]
        m = _fit_sentiment(
            [texts[i] for i in a],
            labels[a].tolist(),
            [emos[i] for i in a] if emos[0] is not None else None,
            info={},
            **recipe,
        )
        scores[b] = m.predict_proba([texts[i] for i in b])[:, 1]
    best, best_f1 = (0.5, 0.5), -1.0
    for lo in np.arange(0.5, 0.5 - MAX_BAND_HALF_WIDTH - 1e-9, -0.025):
        for hi in np.arange(0.5, 0.5 + MAX_BAND_HALF_WIDTH + 1e-9, 0.025):
            pred = np.where(scores < lo, "negative", np.where(scores > hi, "positive", "neutral"))
            f1 = macro_f1_score(labels, pred, ("negative", "neutral", "positive"))
            if f1 > best_f1 + 1e-9:
                best, best_f1 = (round(float(lo), 3), round(float(hi), 3)), f1
    return best


# --------------------------------------------------------------------------- evaluation


def macro_f1_score(y_true, y_pred, classes) -> float:
    """Unweighted mean of the per-class F1 over ``classes``."""
    return float(np.mean([per_class(y_true, y_pred, c)["f1"] for c in classes]))


def per_class(y_true, y_pred, cls: str) -> dict[str, float]:
    """Precision, recall, F1 and support of one class."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    tp = int(((y_true == cls) & (y_pred == cls)).sum())
    n_pred, n_true = int((y_pred == cls).sum()), int((y_true == cls).sum())
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_true if n_true else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": n_true}


def sentiment_metrics(
    true_labels: Sequence[str | None], pred_labels: Sequence[str], scores: Sequence[float]
) -> dict[str, Any]:
    """Metrics of three-way predictions against polarity labels.

    ``pos_neg_accuracy`` counts only positive / negative rows and decides by score > 0.5 (the
    neutral band does not apply); ``accuracy`` is three-way over all rows with a known label.
    """
    keep = [i for i, t in enumerate(true_labels) if t is not None]
    yt = np.array([true_labels[i] for i in keep], dtype=object)
    yp = np.array([pred_labels[i] for i in keep], dtype=object)
    sc = np.array([scores[i] for i in keep], dtype=float)
    pn = yt != "neutral"
    binary = np.where(sc[pn] > 0.5, "positive", "negative")
    classes = [c for c in ("negative", "neutral", "positive") if (yt == c).any() or (yp == c).any()]
    return {
        "rows": len(yt),
        "accuracy": round(float((yt == yp).mean()), 4) if len(yt) else 0.0,
        "pos_neg_rows": int(pn.sum()),
        "pos_neg_accuracy": round(float((binary == yt[pn]).mean()), 4) if pn.any() else 0.0,
        "negative_recall": per_class(yt, yp, "negative")["recall"],
        "macro_f1": round(macro_f1_score(yt, yp, classes), 4),
        "per_class": {c: per_class(yt, yp, c) for c in classes},
    }


def holdout_split(labels: Sequence[Any], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Stratified (train indices, held-out indices); the same labels, fraction and seed give the
    same split."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < fraction < 1.0:
        raise TextModelError(f"留出比例必须在 0 和 1 之间 (holdout must be in (0, 1)): {fraction}")
    idx = np.arange(len(labels))
    strat = np.array([str(x) for x in labels], dtype=object)
    try:
        a, b = train_test_split(idx, test_size=fraction, random_state=seed, stratify=strat)
    except ValueError as exc:
        raise TextModelError(f"无法分层留出 (cannot make a stratified holdout): {exc}") from None
    return sorted(a.tolist()), sorted(b.tolist())
