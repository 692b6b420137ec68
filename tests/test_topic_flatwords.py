"""The topic model's word block without a segmenter at prediction (``FlatWords``), and the
segmented-text recipe (NB-SVM) trained, saved and read back. Fast: a hand-written fixture of 21
messages (tests/data/topic_segmented_pairs.csv: each message raw, and segmented the way the
large training file is, with stop words, punctuation and single Latin letters removed)."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import numpy as np
import pytest

from analysis.textfeatures import FlatWords, flatten, make_features
from analysis.topicmodel import SEGMENTED_TOPIC_FEATURES, load_topic_model, train_topic

FIXTURE = Path(__file__).resolve().parent / "data" / "topic_segmented_pairs.csv"


def _pairs() -> tuple[list[str], list[str], list[str]]:
    with FIXTURE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["留言"] for r in rows], [r["分词"] for r in rows], [r["一级分类"] for r in rows]


def _vocabulary(segmented: list[str], lo: int = 2, hi: int = 4, min_df: int = 1) -> list[str]:
    df: dict[str, int] = {}
    for t in segmented:
        for w in {flatten(w).lower() for w in t.split()}:
            if lo <= len(w) <= hi:
                df[w] = df.get(w, 0) + 1
    return sorted(w for w, c in df.items() if c >= min_df)


def test_flat_words_are_the_vocabulary_words_found_in_the_flattened_text():
    _, seg, _ = _pairs()
    block = FlatWords((2, 4), 1).fit(seg)
    vocab = _vocabulary(seg)
    assert block.n_features == len(vocab) > 100
    assert FlatWords().fit(seg).n_features == len(_vocabulary(seg, min_df=2))
    texts = ["小区物业乱收停车费，停车费太贵！", "景区门票涨价", "", "完全无关的一句话"]
    X = block.transform(texts)
    for i, t in enumerate(texts):
        found = {w for w in vocab if w in flatten(t).lower()}
        assert X[i].nnz == len(found), (t, found)
    # an occurrence is counted each time: 停车费 twice weighs more than 物业 once
    row = X[0].toarray().ravel()
    assert row.max() > np.sort(row[row > 0])[0]


def test_segmented_training_text_and_its_raw_form_give_the_same_features():
    raw, seg, _ = _pairs()
    feats = make_features(SEGMENTED_TOPIC_FEATURES).fit(seg)
    # the raw form: the same words with punctuation, spaces, a line break and a stand-alone
    # Latin letter put back (what flattening drops), no segmentation
    raw_form = []
    for t in seg:
        words = t.split()
        raw_form.append("A" + "，".join(words[:2]) + "\n" + "".join(words[2:]) + "！")
    A, B = feats.transform(seg).toarray(), feats.transform(raw_form).toarray()
    assert A.shape[1] == feats.n_features and np.count_nonzero(A) > 0
    np.testing.assert_allclose(A, B, atol=1e-6)
    # the real raw messages also hold stop words (的, 了, 很 …): every vocabulary word of the
    # segmented text is still found in them
    words = FlatWords((2, 4), 1).fit(seg)
    S, R = words.transform(seg).toarray(), words.transform(raw).toarray()
    assert np.all((S > 0) <= (R > 0))


def test_segmented_recipe_trains_saves_and_predicts_raw_messages(tmp_path):
    raw, seg, labels = _pairs()
    model = train_topic(seg, labels, segmented=True)
    assert model.info["features"] == SEGMENTED_TOPIC_FEATURES
    assert model.info["classifier"] == "nb-svm" and model.info["prior"] is None
    assert model.coef.shape == (7, model.features.n_features)
    path = model.save(tmp_path / "topic.npz")
    loaded = load_topic_model(path)
    assert [b.kind for b in loaded.features.blocks] == ["flat", "flatlead", "flatword"]
    got, want = loaded.predict(raw), model.predict(raw)
    assert [g[0] for g in got] == [w[0] for w in want]
    np.testing.assert_allclose([g[1] for g in got], [w[1] for w in want], rtol=1e-5)
    assert sum(g[0] == y for g, y in zip(got, labels, strict=True)) >= 18
    # a loaded model survives pickling (import workers get a copy of the assessor)
    again = pickle.loads(pickle.dumps(loaded))
    assert [g[0] for g in again.predict(raw)] == [g[0] for g in got]


def test_plain_svm_stays_available():
    _, seg, labels = _pairs()
    model = train_topic(seg, labels, segmented=True, nb_power=0)
    assert model.info["classifier"] == "linear-svm"
    with pytest.raises(Exception, match="nb_power"):
        train_topic(seg, labels, segmented=True, nb_power=-1)
