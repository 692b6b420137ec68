"""Evaluating the text classifiers of ``analysis.textmodel``: per-class and macro F1, sentiment
metrics, and a reproducible stratified holdout split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.textlabels import TextModelError


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
