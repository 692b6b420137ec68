"""Trainable text classifiers: fast n-gram features, training, evaluation, saving and loading.

Two uses in the project:

* the sentiment model (positive / negative with a calibrated probability; the three-way label
  comes from a learned neutral-vs-rest head when the model has one, and from a neutral band
  around the decision threshold), and
* the topic model a locality trains on its own labelled messages (``analysis.topicmodel``).

Features are TF-IDF weighted character n-grams computed with numpy over a whole batch at once
(n-grams are keyed by a 64-bit FNV-1a hash of their code points, looked up in a hash table),
optionally joined by jieba word n-grams. The classifier is linear (scikit-learn at training time);
a saved model holds only numpy arrays and a JSON header in one ``.npz`` file, so loading needs
neither pickle nor the network, and prediction needs only numpy and scipy.

Pure module: no database, no configuration package; paths and texts come in as arguments.

This module is the entry point and re-exports the public names; the code lives in
``analysis.textlabels`` (labels, labelled CSV, ``TextModelError``), ``analysis.linearmodel``
(the model and its file), ``analysis.texttrain`` (training) and ``analysis.textmetrics``
(evaluation); the features in ``analysis.textfeatures``.
"""

from __future__ import annotations

from analysis.linearmodel import (
    FORMAT,
    FORMAT_VERSION,
    LinearTextModel,
    PriorScores,
    check_vectors,
    load_model,
    softmax,
)
from analysis.textlabels import (
    POLARITY_SYNONYMS,
    TextModelError,
    normalize_polarity,
    polarity_labels,
    read_labelled_csv,
)
from analysis.textmetrics import holdout_split, macro_f1_score, per_class, sentiment_metrics
from analysis.texttrain import (
    DEFAULT_NB_POWER,
    DEFAULT_SENTIMENT_C,
    DEFAULT_SENTIMENT_FEATURES,
    MAX_BAND_HALF_WIDTH,
    _fit_model,  # noqa: F401  (bench/classify/build_topic_prior.py uses it)
    check_feature_spec,
    nb_scale,
    train_sentiment,
)

__all__ = [
    "DEFAULT_NB_POWER",
    "DEFAULT_SENTIMENT_C",
    "DEFAULT_SENTIMENT_FEATURES",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_BAND_HALF_WIDTH",
    "POLARITY_SYNONYMS",
    "LinearTextModel",
    "PriorScores",
    "TextModelError",
    "check_feature_spec",
    "check_vectors",
    "holdout_split",
    "load_model",
    "macro_f1_score",
    "nb_scale",
    "normalize_polarity",
    "per_class",
    "polarity_labels",
    "read_labelled_csv",
    "sentiment_metrics",
    "softmax",
    "train_sentiment",
]
