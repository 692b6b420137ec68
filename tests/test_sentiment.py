"""Sentiment engines: the shipped default model and SnowNLP behind one interface."""

from __future__ import annotations

import pytest

from analysis import sentiment
from analysis.sentiment import LABELS, SentimentResult, load_engine

# Written for this test (not from any data set): plainly negative / positive Weibo-style posts.
NEGATIVE = [
    "气死我了！快递又丢了，客服还一直推脱，太恶心了[怒]",
    "小区停水三天了都没人管，真的受够了，太失望了",
    "排了两个小时队结果告诉我系统坏了，崩溃[抓狂]",
    "又被骗了，心好累，再也不相信他们了",
]
POSITIVE = [
    "今天阳光明媚，和朋友们一起去爬山，开心极了[哈哈]",
    "感谢医护人员的辛苦付出，你们是最美的人！加油！",
    "终于收到心心念念的礼物啦，太喜欢了[爱你]",
    "谢谢大家的祝福，新的一年一起加油，幸福满满！",
]


def test_default_engine_classifies_obvious_posts():
    engine = load_engine("default")
    results = engine.predict(NEGATIVE + POSITIVE)
    assert [r.label for r in results[: len(NEGATIVE)]] == ["negative"] * len(NEGATIVE)
    assert [r.label for r in results[len(NEGATIVE) :]] == ["positive"] * len(POSITIVE)


def test_default_engine_labels_and_scores_hold():
    engine = load_engine("default")
    texts = [*NEGATIVE, *POSITIVE, "", "   ", "2月3日", "收到", "a" * 5000, "\x00嗯\x00"]
    results = engine.predict(texts)
    assert len(results) == len(texts)
    for r in results:
        assert isinstance(r, SentimentResult)
        assert r.label in LABELS
        assert 0.0 <= r.score <= 1.0
        # a polar label agrees with the score's side of 0.5
        assert (r.label == "negative") <= (r.score < 0.5)
        assert (r.label == "positive") <= (r.score > 0.5)
    # the label follows the polarity part, its band and the neutral head's threshold
    import numpy as np

    p_pos, p_neu = engine.model.sentiment_parts(texts[: len(NEGATIVE) + len(POSITIVE)])
    want = np.where(p_pos < engine.low, "negative", np.where(p_pos > engine.high, "positive", "neutral"))
    if p_neu is not None:
        want = np.where(p_neu >= engine.neutral_threshold, "neutral", want)
    assert [r.label for r in results[: len(want)]] == want.tolist()
    assert results[len(NEGATIVE) + len(POSITIVE)] == SentimentResult("neutral", 0.5)
    assert engine.predict([]) == []


def test_batch_and_single_predictions_agree():
    engine = load_engine("default")
    batch = engine.predict(NEGATIVE + POSITIVE)
    single = [engine.predict([t])[0] for t in NEGATIVE + POSITIVE]
    assert [r.label for r in batch] == [r.label for r in single]
    assert all(abs(a.score - b.score) < 1e-5 for a, b in zip(batch, single, strict=True))


def test_default_engine_is_loaded_lazily_and_cached():
    sentiment.default_engine.cache_clear()
    assert sentiment.default_engine.cache_info().currsize == 0
    first = load_engine("default")
    assert load_engine("default") is first
    assert sentiment.default_engine.cache_info().currsize == 1


def test_model_path_engine(tmp_path):
    from analysis.textmodel import train_sentiment

    model = train_sentiment(
        ["好开心", "太糟糕了", "真棒", "好难过"] * 3,
        ["正面", "负面", "正面", "负面"] * 3,
        band=(0.4, 0.6),
    )
    path = model.save(tmp_path / "m.npz")
    engine = load_engine(str(path))
    assert engine.predict(["真棒真棒", "糟糕难过"])[0].label == "positive"
    assert engine.predict(["真棒真棒", "糟糕难过"])[1].label == "negative"


def test_unknown_engine_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="未知的情感引擎"):
        load_engine(str(tmp_path / "nope.npz"))


def test_snownlp_engine_still_works():
    engine = load_engine("snownlp")
    assert engine.name == "snownlp"
    results = engine.predict(["这个东西真的很好用，非常满意", "质量太差了，非常失望", ""])
    assert all(r.label in LABELS and 0.0 <= r.score <= 1.0 for r in results)
    assert results[0].score > results[1].score
    assert results[2] == SentimentResult("neutral", 0.5)


def test_snownlp_engine_scores_the_opening_of_a_long_page():
    """A crawled page of 200,000 characters is scored by its first 1,000: scoring all of it with
    SnowNLP would hold a crawl worker for many minutes."""
    from snownlp import SnowNLP

    engine = load_engine("snownlp")
    opening = "质量太差了，非常失望。" * 100  # 1,100 characters
    page = opening + "这个东西真的很好用，非常满意。" * 13_000
    (result,) = engine.predict([page])
    assert result.score == pytest.approx(float(SnowNLP(page[:1000]).sentiments))
    assert result.label == "negative"
