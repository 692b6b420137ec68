"""Training the text classifiers of ``analysis.textmodel``: the sentiment model and the shared fit.

Features come from ``analysis.textfeatures``; the classifier is scikit-learn's logistic
regression, imported on first use; the result is a plain ``LinearTextModel``
(``analysis.linearmodel``). The sentiment model's neutral band is chosen on out-of-fold scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from analysis.linearmodel import LinearTextModel
from analysis.textfeatures import FeatureSpecError, make_features
from analysis.textlabels import _PLAIN_POLARITY, TextModelError, polarity_labels
from analysis.textmetrics import macro_f1_score

DEFAULT_SENTIMENT_FEATURES = "char:1-4@2"
DEFAULT_SENTIMENT_C = 20.0
DEFAULT_NB_POWER = 0.5
MAX_BAND_HALF_WIDTH = 0.15
DEFAULT_NEUTRAL_C = 10.0
MIN_NEUTRAL_ROWS = 20
OOF_TIE = 0.002


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
    neutral_head: bool = False,
    neutral_C: float = DEFAULT_NEUTRAL_C,
) -> LinearTextModel:
    """Positive-vs-negative logistic regression on NB-scaled features (scale folded into the
    weights, so the saved model is plain linear), plus, when fine-grained emotion labels are
    given, a multinomial emotion model whose summed positive-emotion probability is averaged
    with the binary one.

    Without ``neutral_head`` only positive / negative rows may be given. With it, rows may also
    be ``neutral`` or ``polar`` (not neutral, polarity unknown): the features are fitted on all
    rows, the polarity part on the positive / negative ones, and a last weight row, a logistic
    regression of neutral vs everything else over the same features, is added (the neutral head).
    """
    import scipy.sparse as sp

    pol = np.asarray(polarity, dtype=object)
    pn = (pol == "positive") | (pol == "negative")
    feats = make_features(features)
    X_all = feats.fit_transform(list(texts))
    X = X_all[np.flatnonzero(pn)] if neutral_head else X_all
    y = (pol[pn] == "positive").astype(np.int64)
    scale = nb_scale(X, y, nb_power) if nb_power > 0 else np.ones(X.shape[1])
    binary = _fit_linear(X @ sp.diags(scale), y, C, seed=seed)
    coef = [binary.coef_[0] * scale]
    intercept = [binary.intercept_[0]]
    extra: dict[str, Any] = {}
    if emotions is not None:
        emo_pn = np.asarray(emotions, dtype=object)[pn]
        emo = _fit_linear(X, emo_pn, C, seed=seed)
        pol_of = dict(zip(emo_pn.tolist(), pol[pn].tolist(), strict=True))
        coef.extend(emo.coef_)
        intercept.extend(emo.intercept_)
        extra = {
            "emotions": [str(c) for c in emo.classes_],
            "emotion_polarity": [pol_of[c] for c in emo.classes_],
        }
    if neutral_head:
        neu = _fit_linear(X_all, (pol == "neutral").astype(np.int64), neutral_C, seed=seed)
        coef.append(neu.coef_[0])
        intercept.append(neu.intercept_[0])
        extra["neutral_head"] = True
        extra["neutral_C"] = neutral_C
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
    neutral_head: bool = False,
    neutral_threshold: float | None = None,
) -> LinearTextModel:
    """Train positive-vs-negative; choose the neutral band on out-of-fold scores unless given.

    Labels may be positive / negative / neutral or common synonyms (see ``POLARITY_SYNONYMS``).
    When the labels are finer emotions that each map to one polarity (e.g. anger / sadness /
    optimism / gratitude …) and ``emotions`` is true, an emotion model is trained as well and
    mixed in (see ``_fit_sentiment``).

    Without ``neutral_head``, neutral rows do not train the classifier; they choose the band
    [low, high] of scores that is called neutral (the band maximising three-way macro-F1,
    half-width at most 0.15). Without neutral rows the band is 0.45..0.55; ``polar`` rows are
    ignored.

    With ``neutral_head`` neutral is a learned class: a neutral-vs-rest head is trained on the
    neutral rows against the positive, negative and ``polar`` rows (at least
    ``MIN_NEUTRAL_ROWS`` neutral rows are needed). A text is neutral when the head's probability
    reaches the threshold, else its polarity part decides, with the band. Threshold and band are
    chosen together on out-of-fold predictions (three-way macro-F1) unless given.
    """
    check_feature_spec(features)
    if nb_power < 0:
        raise TextModelError(f"NB 缩放指数不能为负 (nb_power must be >= 0): {nb_power}")
    pol = polarity_labels(raw_labels)
    keys = _emotion_keys(raw_labels, pol) if emotions else None
    rows = [
        (t, p, keys[i] if keys else None)
        for i, (t, p) in enumerate(zip(texts, pol, strict=True))
        if p is not None and (neutral_head or p != "polar")
    ]
    unknown = len(pol) - len(rows) - (0 if neutral_head else pol.count("polar"))
    if unknown > len(pol) / 2:
        bad = sorted({str(r) for r, p in zip(raw_labels, pol, strict=True) if p is None})[:8]
        raise TextModelError(f"无法识别的情感标签 (unknown sentiment labels): {', '.join(bad)}")
    pn = [r for r in rows if r[1] in ("positive", "negative")]
    if len({p for _, p, _ in pn}) < 2:
        raise TextModelError("训练数据需要同时包含正面和负面样本 (need positive and negative rows)")
    n_neutral = sum(1 for _, p, _ in rows if p == "neutral")
    if neutral_head and n_neutral < MIN_NEUTRAL_ROWS:
        raise TextModelError(
            f"学习中性类需要至少 {MIN_NEUTRAL_ROWS} 条中性样本 (need {MIN_NEUTRAL_ROWS} neutral "
            f"rows for a neutral head), 只有 {n_neutral} 条"
        )
    if neutral_threshold is not None and not 0.0 < neutral_threshold < 1.0:
        raise TextModelError(f"中性阈值无效 (bad neutral threshold): {neutral_threshold}")
    info = {
        "rows": len(rows),
        "skipped_rows": unknown,
        "counts": {
            k: sum(1 for _, p, _ in rows if p == k)
            for k in ("positive", "negative", "neutral", "polar")
        },
    }
    recipe = {"features": features, "C": C, "nb_power": nb_power, "seed": seed}
    if neutral_head:
        if band is None or neutral_threshold is None:
            t, b, curve = _choose_head_threshold(
                rows, folds=folds, threshold=neutral_threshold, band=band, **recipe
            )
            neutral_threshold, band = t, b
            info["oof_macro_f1_by_threshold"] = curve
        train = rows
    else:
        if band is None:
            band = _choose_band(rows, folds=folds, **recipe)
        train = pn
    lo, hi = band
    if not 0.0 <= lo <= 0.5 <= hi <= 1.0:
        raise TextModelError(f"中性区间无效 (bad neutral band): {lo}..{hi}")
    if neutral_head:
        info["neutral_threshold"] = float(neutral_threshold)
    return _fit_sentiment(
        [t for t, _, _ in train],
        [p for _, p, _ in train],
        [e for _, _, e in train] if keys else None,
        info={**info, "band": [lo, hi]},
        neutral_head=neutral_head,
        **recipe,
    )


def three_way(
    p_pos: np.ndarray, p_neu: np.ndarray | None, band: Sequence[float], threshold: float = 0.5
) -> np.ndarray:
    """Labels from P(positive) and, with a neutral head, P(neutral): neutral when P(neutral)
    reaches ``threshold`` or P(positive) lies inside ``band``, else negative / positive."""
    lo, hi = band
    lab = np.where(p_pos < lo, "negative", np.where(p_pos > hi, "positive", "neutral"))
    if p_neu is not None:
        lab = np.where(p_neu >= threshold, "neutral", lab)
    return lab


def _oof(rows, *, folds: int, neutral_head: bool, **recipe: Any):
    """Out-of-fold (P(positive), P(neutral) or None) for every row, and the rows' labels."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.array([p for _, p, _ in rows])
    texts = [t for t, _, _ in rows]
    emos = [e for _, _, e in rows]
    p_pos = np.zeros(len(rows))
    p_neu = np.zeros(len(rows)) if neutral_head else None
    for a, b in StratifiedKFold(folds, shuffle=True, random_state=recipe["seed"]).split(
        texts, labels
    ):
        if not neutral_head:
            a = a[labels[a] != "neutral"]
        m = _fit_sentiment(
            [texts[i] for i in a],
            labels[a].tolist(),
            [emos[i] for i in a] if emos[0] is not None else None,
            info={},
            neutral_head=neutral_head,
            **recipe,
        )
        pp, pn = m.sentiment_parts([texts[i] for i in b])
        p_pos[b] = pp
        if p_neu is not None:
            p_neu[b] = pn
    return p_pos, p_neu, labels


def _band_grid():
    for lo in np.arange(0.5, 0.5 - MAX_BAND_HALF_WIDTH - 1e-9, -0.025):
        for hi in np.arange(0.5, 0.5 + MAX_BAND_HALF_WIDTH + 1e-9, 0.025):
            yield round(float(lo), 3), round(float(hi), 3)


def _choose_band(rows, *, folds: int, **recipe: Any) -> tuple[float, float]:
    labels = np.array([p for _, p, _ in rows])
    if (labels == "neutral").sum() < folds or min(
        (labels == k).sum() for k in ("positive", "negative")
    ) < folds:
        return (0.45, 0.55)
    scores, _, labels = _oof(rows, folds=folds, neutral_head=False, **recipe)
    best, best_f1 = (0.5, 0.5), -1.0
    for b in _band_grid():
        f1 = macro_f1_score(labels, three_way(scores, None, b), ("negative", "neutral", "positive"))
        if f1 > best_f1 + 1e-9:
            best, best_f1 = b, f1
    return best


def _choose_head_threshold(
    rows,
    *,
    folds: int,
    threshold: float | None = None,
    band: tuple[float, float] | None = None,
    **recipe: Any,
):
    """(neutral threshold, band, {threshold: best macro-F1}) maximising three-way macro-F1 on
    out-of-fold predictions (rows labelled ``polar`` only train); a given threshold or band is
    kept and only the other is chosen."""
    p_pos, p_neu, labels = _oof(rows, folds=folds, neutral_head=True, **recipe)
    keep = labels != "polar"
    p_pos, p_neu, labels = p_pos[keep], p_neu[keep], labels[keep]
    thresholds = [threshold] if threshold is not None else np.arange(0.2, 0.801, 0.05)
    bands = [tuple(band)] if band is not None else list(_band_grid())
    best: dict[float, tuple[float, tuple[float, float]]] = {}  # threshold -> (f1, band)
    for t in thresholds:
        t = round(float(t), 3)
        for b in bands:
            pred = three_way(p_pos, p_neu, b, t)
            f1 = macro_f1_score(labels, pred, ("negative", "neutral", "positive"))
            if t not in best or f1 > best[t][0] + 1e-9:
                best[t] = (f1, b)
    # the top of the curve is flat: among thresholds within OOF_TIE of the best macro-F1 take
    # the lowest (more texts neutral: a neutral notice called negative costs more than a
    # negative post called neutral and still caught by the rules)
    top = max(f1 for f1, _ in best.values())
    t = min(t for t, (f1, _) in best.items() if f1 >= top - OOF_TIE)
    return t, best[t][1], {str(k): round(v[0], 4) for k, v in best.items()}
