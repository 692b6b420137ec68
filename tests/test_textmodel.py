"""Text classifiers: fast n-gram features, training, evaluation, model files (analysis.textmodel)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from analysis import textmodel as tm
from analysis import topicmodel as topm
from analysis.textfeatures import KeyIndex, make_features, word_ngrams
from tests.conftest import shared_data


def _sample(path: Path, n: int, cols: list[str], label: str, seed: int = 1):
    texts, labels = tm.read_labelled_csv(path, cols, label)
    idx = random.Random(seed).sample(range(len(texts)), n)
    return [texts[i] for i in idx], [labels[i] for i in idx]


def test_char_features_match_scikit_learn_tfidf():
    docs = ["今天天气很好，哈哈哈哈", "ABC ab 天气", "坏天气", "今天"]
    ours = make_features("char:1-3").fit(docs).transform(docs).toarray()
    ref = TfidfVectorizer(
        analyzer="char", ngram_range=(1, 3), sublinear_tf=True, lowercase=True
    ).fit(docs)
    X = ref.transform(docs).toarray()
    # same vocabulary size and the same multiset of weights per document
    assert ours.shape == X.shape
    for a, b in zip(ours, X, strict=True):
        assert np.allclose(np.sort(a), np.sort(b), atol=1e-6)


def test_full_width_and_case_fold_to_the_same_features():
    f = make_features("char:1-2").fit(["ABC１２３"])
    a, b = f.transform(["ＡＢＣ123"]).toarray(), f.transform(["abc１２３"]).toarray()
    assert np.allclose(a, b) and a.sum() > 0


def test_word_ngrams_are_cached_per_text_without_sharing_mutable_lists():
    texts = ["小区噪音扰民\n晚上施工到凌晨", "Ｗｉｆｉ 信号 差"]
    first = word_ngrams(texts, 1, 2)
    assert "噪音" in first[0] and "wifi" in first[1]  # NFKC folded and lower-cased
    assert "扰民 晚上" in first[0] and all(g.strip() for g in first[0])  # line break dropped
    first[0].clear()  # a caller changing its result must not change the next caller's
    again = word_ngrams(texts, 1, 2)
    assert again[0] and again == word_ngrams(list(reversed(texts)), 1, 2)[::-1]


def test_unknown_ngrams_and_empty_texts_give_empty_rows():
    f = make_features("char:1-4@1").fit(["正面评价"])
    X = f.transform(["", "完全不同", "正面"])
    assert X.shape == (3, f.n_features)
    assert X[0].nnz == 0 and X[1].nnz == 0 and X[2].nnz == 3


def test_key_index_finds_every_key_and_rejects_others():
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(1, 2**63, 5000, dtype=np.uint64))
    rng.shuffle(keys)
    index = KeyIndex(keys)
    assert (index.lookup(keys) == np.arange(len(keys))).all()
    other = rng.integers(1, 2**63, 5000, dtype=np.uint64)
    other = other[~np.isin(other, keys)]
    assert (index.lookup(other) == -1).all()
    # many keys landing on the same slot still resolve (linear probing)
    clash = np.arange(1, 300, dtype=np.uint64) << np.uint64(40)
    assert (KeyIndex(clash).lookup(clash) == np.arange(len(clash))).all()


def test_bad_feature_spec_is_a_clear_error():
    with pytest.raises(tm.TextModelError, match="特征"):
        topm.train_topic(["a", "b"], ["x", "y"], features="chars:1-3")


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (["正面", "负面", "中性"], ["positive", "negative", "neutral"]),
        (["optimism", "anger", "surprise"], ["positive", "negative", "neutral"]),
        (["1", "0", "1.0"], ["positive", "negative", "positive"]),
        (["1", "-1", "0"], ["positive", "negative", "neutral"]),
        (["POS", "Neg", "？"], ["positive", "negative", None]),
    ],
)
def test_polarity_synonyms(raw, want):
    assert tm.polarity_labels(raw) == want


def test_sentiment_training_on_weibo_sample_beats_chance(tmp_path):
    texts, labels = _sample(shared_data("weibo_emotion_train.csv"), 2500, ["text"], "polarity")
    train, test = list(range(2000)), list(range(2000, 2500))
    model = tm.train_sentiment([texts[i] for i in train], [labels[i] for i in train])
    lo, hi = model.info["band"]
    assert 0.35 <= lo <= 0.5 <= hi <= 0.65
    path = model.save(tmp_path / "s.npz")
    again = tm.load_model(path, "sentiment")
    p1 = model.predict_proba([texts[i] for i in test])
    p2 = again.predict_proba([texts[i] for i in test])
    assert np.allclose(p1, p2)
    truth = tm.polarity_labels([labels[i] for i in test])
    pn = [k for k, t in enumerate(truth) if t != "neutral"]
    pred = np.where(p1[pn, again.classes.index("positive")] > 0.5, "positive", "negative")
    acc = float((pred == np.array([truth[k] for k in pn])).mean())
    assert acc > 0.75, acc  # the majority class alone is about 0.64


def test_topic_training_and_public_api_on_hotline_sample(tmp_path):
    texts, labels = tm.read_labelled_csv(
        shared_data("hotline_labeled.csv"), ["留言主题", "留言详情"], "一级分类"
    )
    a, b = tm.holdout_split(labels, 0.25, 3)
    model = topm.train_topic([texts[i] for i in a], [labels[i] for i in a], features="char:1-3")
    model.save(tmp_path / "topic.npz")
    loaded = topm.load_topic_model(tmp_path / "topic.npz")
    assert sorted(loaded.labels) == sorted(set(labels))
    out = loaded.predict([texts[i] for i in b])
    assert len(out) == len(b)
    assert all(lab in loaded.labels and 0.0 < p <= 1.0 for lab, p in out)
    metrics = topm.topic_metrics([labels[i] for i in b], [lab for lab, _ in out])
    assert metrics["macro_f1"] > 0.5  # seven classes: chance is about 0.14
    assert loaded.predict([]) == []


def test_topic_two_classes_gives_probabilities_that_sum_to_one():
    texts = ["路灯坏了 道路 施工", "学校 老师 学生", "道路 拥堵 路面", "教育 学校 招生"] * 3
    labels = ["城建", "教育", "城建", "教育"] * 3
    model = topm.train_topic(texts, labels, features="char:1-2")
    proba = model.predict_proba(["学校招生", "道路施工"])
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert [lab for lab, _ in model.predict(["学校招生", "道路施工"])] == ["教育", "城建"]


def test_model_file_errors(tmp_path):
    with pytest.raises(tm.TextModelError, match="不存在"):
        tm.load_model(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(tm.TextModelError, match="不是有效的模型文件"):
        tm.load_model(junk)
    texts = ["好开心", "太糟糕了", "真棒", "好难过"] * 2
    model = tm.train_sentiment(texts, ["pos", "neg", "pos", "neg"] * 2, band=(0.4, 0.6))
    model.save(tmp_path / "s.npz")
    with pytest.raises(tm.TextModelError, match="模型类型不符"):
        topm.load_topic_model(tmp_path / "s.npz")


def test_read_labelled_csv_errors(tmp_path):
    path = tmp_path / "d.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["标题", "内容", "类别"])
        w.writerow(["路灯", "小区路灯坏了", "城建"])
        w.writerow(["无标签", "这一行没有类别", ""])
    texts, labels = tm.read_labelled_csv(path, ["标题", "内容"], "类别")
    assert texts == ["路灯\n小区路灯坏了"] and labels == ["城建"]
    with pytest.raises(tm.TextModelError, match="缺少列.*正文"):
        tm.read_labelled_csv(path, ["正文"], "类别")
    with pytest.raises(tm.TextModelError, match="不存在"):
        tm.read_labelled_csv(tmp_path / "nope.csv", ["标题"], "类别")


def test_sentiment_needs_both_polarities():
    with pytest.raises(tm.TextModelError, match="正面和负面"):
        tm.train_sentiment(["好", "很好"], ["positive", "positive"])
    with pytest.raises(tm.TextModelError, match="无法识别"):
        tm.train_sentiment(["好", "坏", "嗯"], ["x", "y", "positive"])


def test_nb_scale_follows_the_log_count_ratio():
    import scipy.sparse as sp

    X = sp.csr_matrix(np.array([[1, 0, 1], [2, 0, 1], [0, 3, 1], [0, 1, 1]], dtype=np.float32))
    y = np.array([1, 1, 0, 0])
    r = tm.nb_scale(X, y, 1.0)
    # feature 0 only in positives, feature 1 only in negatives, feature 2 in both
    assert r[0] > 0 > r[1] and abs(r[2]) < 1e-9 and np.isclose(r[0], -r[1])
    assert np.allclose(tm.nb_scale(X, y, 0.5), np.sign(r) * np.sqrt(np.abs(r)))


def test_emotion_labels_add_emotion_rows_mixed_with_the_binary_row(tmp_path):
    texts, emotions = _sample(shared_data("weibo_emotion_train.csv"), 1500, ["text"], "emotion")
    model = tm.train_sentiment(texts[:1200], emotions[:1200], band=(0.45, 0.55))
    pos_neg = {
        e for e, p in zip(emotions[:1200], tm.polarity_labels(emotions[:1200])) if p != "neutral"
    }
    assert sorted(model.info["emotions"]) == sorted(pos_neg)  # surprise (neutral) trains nothing
    assert model.coef.shape[0] == 1 + len(pos_neg)
    assert model.classes == ["negative", "positive"]
    test = texts[1200:]
    p = model.predict_proba(test)[:, 1]
    # the mixture is the mean of the binary row's and the emotion rows' P(positive)
    z = model._raw(test)
    p_bin = 1 / (1 + np.exp(-z[:, 0]))
    e = np.exp(z[:, 1:] - z[:, 1:].max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    is_pos = np.array([x == "positive" for x in model.info["emotion_polarity"]])
    assert np.allclose(p, (p_bin + e[:, is_pos].sum(axis=1)) / 2)
    assert np.allclose(1 / (1 + np.exp(-model.decision(test))), p, atol=1e-6)
    again = tm.load_model(model.save(tmp_path / "s.npz"), "sentiment")
    assert np.allclose(again.predict_proba(test)[:, 1], p, atol=1e-6)
    # plain polarity labels, or emotions=False, give the single binary row
    plain = tm.train_sentiment(texts[:1200], emotions[:1200], band=(0.45, 0.55), emotions=False)
    assert plain.coef.shape[0] == 1 and "emotions" not in plain.info


def test_topic_uses_the_shipped_prior_by_default_and_can_switch_it_off(tmp_path):
    texts, labels = tm.read_labelled_csv(
        shared_data("hotline_labeled.csv"), ["留言主题", "留言详情"], "一级分类"
    )
    a, b = tm.holdout_split(labels, 0.25, 3)
    tr_t, tr_l = [texts[i] for i in a], [labels[i] for i in a]
    with_prior = topm.train_topic(tr_t, tr_l, features="char:1-3")
    without = topm.train_topic(tr_t, tr_l, features="char:1-3", prior=None)
    assert with_prior.info["prior"] == "hotline-departments" and without.info["prior"] is None
    assert [blk.kind for blk in with_prior.features.blocks] == ["char", "prior"]
    assert [blk.kind for blk in without.features.blocks] == ["char"]
    assert with_prior.features.n_features == without.features.n_features + 7
    # the prior's weights carry over into the saved file: same predictions after loading
    loaded = topm.load_topic_model(with_prior.save(tmp_path / "t.npz"))
    test = [texts[i] for i in b]
    assert np.allclose(loaded.predict_proba(test), with_prior.predict_proba(test), atol=1e-5)
    assert loaded.features.blocks[-1].model.task == "topic-prior"
    metrics = topm.topic_metrics([labels[i] for i in b], [lab for lab, _ in loaded.predict(test)])
    assert metrics["macro_f1"] > 0.5
    # the prior also works for a locality's own, different categories
    small = topm.train_topic(["学校 招生 老师", "公交 线路 站台"] * 4, ["教育", "交通"] * 4)
    assert [lab for lab, _ in small.predict(["学校老师", "公交站台"])] == ["教育", "交通"]


def test_shipped_topic_prior_loads_and_knows_the_departments():
    prior = topm.load_prior("default")
    assert prior.task == "topic-prior" and len(prior.classes) == 7
    assert prior.info["dropped_as_labelled"] >= 0 and prior.info["weakly_labelled"] > 1000
    texts = [
        "孩子今年上小学，学校招生划片不合理，请教育局核实",
        "小区附近工厂排放废气，气味刺鼻，污染严重",
        "公司拖欠工资半年，社保也没有缴纳",
        "公交线路调整后等车时间太长，希望增加班次",
    ]
    assert [lab for lab, _ in prior.predict(texts)] == [
        "教育文体",
        "环境保护",
        "劳动和社会保障",
        "交通运输",
    ]
    assert topm.load_prior(None) is None and topm.load_prior("none") is None
    with pytest.raises(tm.TextModelError, match="不存在"):
        topm.train_topic(["a", "b"], ["x", "y"], prior="/nonexistent/prior.npz")
    with pytest.raises(tm.TextModelError, match="模型类型不符"):
        topm.train_topic(
            ["a", "b"], ["x", "y"], prior=topm.DEFAULT_TOPIC_PRIOR.parent / "sentiment_default.npz"
        )


def test_lead_block_sees_only_the_first_line_and_survives_saving(tmp_path):
    f = make_features("lead:1-2/4")
    lead = f.blocks[0]
    assert lead.kind == "lead" and lead.chars == 4
    f.fit(["公交线路\n学校招生老师", "学校招生很难\n公交"])
    X = f.transform(["公交线路\n学校", "学校\n公交线路", "公交线路学校招生"])
    # the first line only, at most 4 characters: rows 0 and 2 see the same "公交线路"
    assert np.allclose(X[0].toarray(), X[2].toarray()) and X[0].nnz == 7
    assert X[1].nnz == 3  # "学", "校", "学校"
    with pytest.raises(tm.TextModelError, match="特征"):
        topm.train_topic(["a", "b"], ["x", "y"], features="char:1-3/5")
    texts = ["公交线路调整\n等车太久", "学校招生问题\n孩子上学"] * 4
    model = topm.train_topic(texts, ["交通", "教育"] * 4, features="char:1-2,lead:1-2/6")
    loaded = topm.load_topic_model(model.save(tmp_path / "t.npz"))
    assert loaded.features.blocks[1].kind == "lead" and loaded.features.blocks[1].chars == 6
    assert np.allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-6)
