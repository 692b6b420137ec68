"""Topic classifier of citizens' messages: training, the shipped default model and hotline prior,
cross-validation and metrics.

The project ships a default topic model (``DEFAULT_TOPIC_MODEL``, trained on 8,054 labelled
问政 messages, docs/MODEL_CARD_topic.md) that ``load_topic_model("default")`` returns. A locality
trains its own on its labelled 12345 / 问政 messages (``train_topic``) and uses it through
``yuqing analyze --topic-model`` or the ``topic_model`` setting. Training data may be raw text or
text already segmented into words with stop words and punctuation removed
(``looks_segmented``); on segmented data the features are those of the flattened text
(``analysis.textfeatures.flatten``), so a model learned from segmented text reads raw messages.
Features and the saved model format are those of ``analysis.textmodel``; this module holds what
is specific to topics: the linear SVM (NB-SVM on segmented data) with a fitted softmax
temperature and the stacked prior (a model learned from the same platform's weakly labelled
messages, docs/MODEL_CARD_topic_prior.md).

Pure module: no database, no configuration package; paths and texts come in as arguments.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.textfeatures import Features, make_features
from analysis.textmodel import (
    LinearTextModel,
    PriorScores,
    TextModelError,
    check_feature_spec,
    check_vectors,
    load_model,
    macro_f1_score,
    per_class,
    softmax,
)

DEFAULT_TOPIC_FEATURES = "char:1-3,word:1-1,lead:1-3,vec:all,vec:lead"
DEFAULT_TOPIC_C = 0.5
DEFAULT_TOPIC_PRIOR = Path(__file__).resolve().parent / "models" / "topic_prior_hotline.npz"
DEFAULT_PRIOR_WEIGHT = 0.1
# Recipe for segmented training text (words separated by spaces, stop words removed): character
# n-grams of the flattened text and of its first 20 characters (the title's place), and the
# training vocabulary's words found in the flattened text; one-vs-rest linear SVMs over features
# scaled per class by naive Bayes log-count ratios (NB-SVM); no prior.
SEGMENTED_TOPIC_FEATURES = "flat:1-3@5,flatlead:1-3@2/20,flatword:2-4@2"
SEGMENTED_TOPIC_C = 0.5
SEGMENTED_NB_POWER = 1.0
DEFAULT_TOPIC_MODEL = Path(__file__).resolve().parent / "models" / "topic_hotline.npz"
# At this many rows the softmax temperature is fitted on one stratified 3:1 split, not k folds.
ONE_SPLIT_ROWS = 2000
SEGMENTED_SPACE_SHARE = 0.15

_CJK_SPACE_CJK = re.compile(r"[\u4e00-\u9fff] (?=[\u4e00-\u9fff])")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def load_topic_model(path: str | Path) -> LinearTextModel:
    """The topic model at ``path`` (``"default"``: the shipped one, ``DEFAULT_TOPIC_MODEL``):
    ``.predict(texts) -> [(label, probability)]`` and ``.labels``."""
    if str(path) == "default":
        return _load_default(str(DEFAULT_TOPIC_MODEL))
    return load_model(path, "topic")


@functools.lru_cache(maxsize=2)
def _load_default(path: str) -> LinearTextModel:
    return load_model(path, "topic")


def looks_segmented(texts: Sequence[str]) -> bool:
    """Whether ``texts`` read as already segmented Chinese (words separated by spaces, as in a
    jieba-segmented corpus): a space sits between two Chinese characters at least once in every
    ``1 / SEGMENTED_SPACE_SHARE`` Chinese characters. Raw messages have almost none."""
    sample = "\n".join(str(t) for t in list(texts)[:2000])
    cjk = len(_CJK.findall(sample))
    return cjk > 0 and len(_CJK_SPACE_CJK.findall(sample)) >= SEGMENTED_SPACE_SHARE * cjk


def load_prior(prior: str | Path | LinearTextModel | None) -> LinearTextModel | None:
    """The prior model for ``train_topic``: ``"default"`` is the shipped hotline prior
    (``DEFAULT_TOPIC_PRIOR``, see docs/MODEL_CARD_topic_prior.md), ``None`` / ``"none"`` none,
    otherwise a model object or the path of a saved model."""
    if prior is None or isinstance(prior, LinearTextModel):
        return prior
    if str(prior).strip().lower() == "none":
        return None
    path = DEFAULT_TOPIC_PRIOR if str(prior) == "default" else Path(prior)
    return _load_prior_cached(str(path))


@functools.lru_cache(maxsize=4)
def _load_prior_cached(path: str) -> LinearTextModel:
    return load_model(path, "topic-prior")


def _topic_features(features: str, prior: LinearTextModel | None, weight: float) -> Features:
    feats = make_features(features)
    if prior is not None:
        name = str(prior.info.get("name", ""))
        feats.blocks.append(PriorScores(prior, weight, name))
    return feats


def train_topic(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    features: str | None = None,
    C: float | None = None,
    balanced: bool = True,
    seed: int = 0,
    folds: int = 3,
    prior: str | Path | LinearTextModel | None = "default",
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    segmented: bool = False,
    nb_power: float | None = None,
) -> LinearTextModel:
    """Train a topic classifier: linear SVM (one-vs-rest, balanced class weights) whose scores
    become probabilities by a softmax with a temperature fitted on out-of-fold scores (on one
    stratified 3:1 split from ``ONE_SPLIT_ROWS`` rows on).

    Raw training text (``segmented=False``): by default ``DEFAULT_TOPIC_FEATURES`` plus the
    scores of the shipped hotline prior (a model trained on the same platform's unlabelled
    messages, weakly labelled by the department that replied; see ``load_prior``), weighted by
    ``prior_weight``; ``prior=None`` trains on n-grams only. Segmented training text (some or
    all of it words separated by spaces, stop words removed; ``looks_segmented``): by default
    ``SEGMENTED_TOPIC_FEATURES`` and no prior (the prior reads raw text), so the model predicts
    raw messages with the features it learned from segmented ones, and by default
    (``nb_power`` None) the classifier is NB-SVM (``_fit_svm``) with ``SEGMENTED_NB_POWER``;
    ``nb_power=0`` is the plain multi-class linear SVM (the default for raw training text).
    """
    if features is None:
        features = SEGMENTED_TOPIC_FEATURES if segmented else DEFAULT_TOPIC_FEATURES
    if C is None:
        C = SEGMENTED_TOPIC_C if segmented else DEFAULT_TOPIC_C
    if nb_power is None:
        nb_power = SEGMENTED_NB_POWER if segmented else 0.0
    if not (nb_power >= 0 and math.isfinite(nb_power)):
        raise TextModelError(f"NB 缩放指数不能为负 (nb_power must be >= 0): {nb_power}")
    if segmented and isinstance(prior, str) and prior == "default":
        prior = None
    check_feature_spec(features)
    if prior_weight < 0:
        raise TextModelError(f"先验权重不能为负 (prior weight must be >= 0): {prior_weight}")
    try:
        prior_model = load_prior(prior) if prior_weight > 0 else None
    except TextModelError as exc:
        raise TextModelError(f"无法加载先验模型 (cannot load the prior): {exc}") from None
    labels = [str(x).strip() for x in labels]
    counts = {k: labels.count(k) for k in sorted(set(labels))}
    if len(counts) < 2:
        raise TextModelError("训练数据至少需要两个类别 (need at least two classes)")
    texts = list(texts)
    make = functools.partial(_topic_features, features, prior_model, prior_weight)
    check_vectors(make().blocks)
    scale = (
        _softmax_scale(
            texts, labels, make=make, C=C, balanced=balanced, seed=seed, folds=folds,
            nb_power=nb_power,
        )
        if min(counts.values()) >= folds
        else 1.0
    )
    feats = make()
    X = feats.fit_transform(texts)
    clf = _fit_svm(X, np.asarray(labels, dtype=object), C, balanced, seed, nb_power)
    coef, intercept = clf.coef_ * scale, clf.intercept_ * scale
    if coef.shape[0] == 1:  # make the binary case a two-row softmax like the others
        coef, intercept = (
            np.vstack([-coef / 2, coef / 2]),
            np.array([-intercept[0], intercept[0]]) / 2,
        )
    model = LinearTextModel(
        task="topic",
        features=feats,
        classes=list(clf.classes_),
        coef=coef,
        intercept=intercept,
        info={
            "rows": len(labels),
            "counts": counts,
            "features": features,
            "C": C,
            "seed": seed,
            "segmented_training_text": segmented,
            "classifier": "nb-svm" if nb_power > 0 else "linear-svm",
            "nb_power": nb_power,
            "softmax_scale": scale,
            "n_features": feats.n_features,
            "prior": str(prior_model.info.get("name", "custom")) if prior_model else None,
            "prior_weight": prior_weight if prior_model else 0.0,
        },
    )
    return model


class _OneVsRestNB:
    """One-vs-rest linear SVMs, each over the features scaled by its class's naive Bayes
    log-count ratios (``analysis.texttrain.nb_scale``; NB-SVM, Wang & Manning 2012). The scale
    is folded into the weights, so the result is a plain linear model (``coef_``,
    ``intercept_``) like ``LinearSVC``'s."""

    def __init__(self, C: float, balanced: bool, seed: int, power: float) -> None:
        self.C, self.balanced, self.seed, self.power = C, balanced, seed, power

    def fit(self, X, y: np.ndarray) -> _OneVsRestNB:
        import scipy.sparse as sp
        from sklearn.svm import LinearSVC

        from analysis.texttrain import nb_scale

        self.classes_ = np.array(sorted(set(y.tolist())), dtype=object)
        coef, intercept = [], []
        for c in self.classes_:
            pos = (y == c).astype(np.int64)
            scale = nb_scale(X, pos, self.power)
            svm = LinearSVC(
                C=self.C,
                class_weight="balanced" if self.balanced else None,
                random_state=self.seed,
            ).fit(X @ sp.diags(scale), pos)
            coef.append(svm.coef_[0] * scale)
            intercept.append(svm.intercept_[0])
        self.coef_, self.intercept_ = np.vstack(coef), np.array(intercept)
        return self

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X @ self.coef_.T) + self.intercept_


def _fit_svm(X, y: np.ndarray, C: float, balanced: bool, seed: int, nb_power: float = 0.0):
    """Linear SVM (``LinearSVC``); with ``nb_power`` > 0 and three or more classes, NB-SVM
    (``_OneVsRestNB``)."""
    from sklearn.svm import LinearSVC

    if nb_power > 0 and len(set(y.tolist())) > 2:
        return _OneVsRestNB(C, balanced, seed, nb_power).fit(X, y)
    return LinearSVC(C=C, class_weight="balanced" if balanced else None, random_state=seed).fit(
        X, y
    )


def _softmax_scale(texts, labels, *, make, C, balanced, seed, folds, nb_power=0.0) -> float:
    """Temperature that minimises the log-loss of softmax(scale * SVM scores) out of fold."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels, dtype=object)
    classes = sorted(set(labels))
    scores = np.zeros((len(y), len(classes)))
    k = folds if len(y) < ONE_SPLIT_ROWS else 4
    splits = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(texts, y))
    if len(y) >= ONE_SPLIT_ROWS:  # plenty of rows: one 3:1 split is enough, at a third of the cost
        splits = splits[:1]
    scored = np.concatenate([b for _, b in splits])
    for a, b in splits:
        feats = make()
        Xa = feats.fit_transform([texts[i] for i in a])
        clf = _fit_svm(Xa, y[a], C, balanced, seed, nb_power)
        d = clf.decision_function(feats.transform([texts[i] for i in b]))
        if d.ndim == 1:
            d = np.stack([-d / 2, d / 2], axis=1)
        scores[b] = d
    truth = np.array([classes.index(v) for v in y[scored]])
    scores = scores[scored]
    best, best_loss = 1.0, math.inf
    for scale in (0.5, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30):
        p = softmax(scores * scale)
        loss = -np.mean(np.log(np.clip(p[np.arange(len(truth)), truth], 1e-12, 1.0)))
        if loss < best_loss:
            best, best_loss = float(scale), loss
    return best


def topic_metrics(true_labels: Sequence[str], pred_labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class precision / recall / F1 of topic predictions."""
    yt, yp = np.array(true_labels, dtype=object), np.array(pred_labels, dtype=object)
    classes = sorted(set(yt.tolist()))
    return {
        "rows": len(yt),
        "accuracy": round(float((yt == yp).mean()), 4) if len(yt) else 0.0,
        "macro_f1": round(macro_f1_score(yt, yp, classes), 4),
        "per_class": {c: per_class(yt, yp, c) for c in classes},
    }


def cross_validate_topic(
    texts: Sequence[str], labels: Sequence[str], *, folds: int = 5, seed: int = 0, **train_kw: Any
) -> dict[str, Any]:
    """Stratified k-fold: every message is predicted by a model that did not see it."""
    from sklearn.model_selection import StratifiedKFold

    y = np.array([str(x).strip() for x in labels], dtype=object)
    pred = np.empty(len(y), dtype=object)
    texts = list(texts)
    for a, b in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, y):
        m = train_topic([texts[i] for i in a], y[a].tolist(), seed=seed, **train_kw)
        pred[b] = [lab for lab, _ in m.predict([texts[i] for i in b])]
    return {**topic_metrics(y.tolist(), pred.tolist()), "folds": folds, "seed": seed}
