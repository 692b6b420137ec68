"""`yuqing model train|eval sentiment|topic`: the real command in a child process, on CSV files
written by the test."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from analysis.topicmodel import load_topic_model
from tests.cli import run_cli

POS_WORDS = ["开心", "感谢", "点赞", "幸福", "太棒了", "喜欢", "加油", "温暖"]
NEG_WORDS = ["失望", "愤怒", "难过", "恶心", "太差了", "崩溃", "投诉", "害怕"]
FILLER = ["今天", "小区", "我们", "这次", "真的", "朋友", "早上", "大家"]


def _sentiment_csv(path: Path, n: int = 60, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "内容", "情感"])
        for i in range(n):
            kind = ("正面", "负面", "中性")[i % 3]
            words = {"正面": POS_WORDS, "负面": NEG_WORDS, "中性": FILLER}[kind]
            text = rng.choice(FILLER) + rng.choice(words) + rng.choice(FILLER) + rng.choice(words)
            w.writerow([i, text, kind])
    return path


TOPICS = {
    "交通": ["公交", "道路", "拥堵", "红绿灯", "停车"],
    "教育": ["学校", "老师", "学生", "招生", "学费"],
    "环保": ["噪音", "污水", "垃圾", "油烟", "排放"],
}


def _topic_csv(path: Path, n: int = 45, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["留言主题", "留言详情", "一级分类"])
        for i in range(n):
            label = list(TOPICS)[i % 3]
            words = TOPICS[label]
            w.writerow(
                [rng.choice(words) + "问题", "".join(rng.sample(words, 3)) + "请尽快处理", label]
            )
    return path


def _ok(result):
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return result


def _fails(result, *needles: str):
    assert result.code != 0
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in result.err, result.err


def test_sentiment_train_then_eval_round_trip(tmp_path):
    data = _sentiment_csv(tmp_path / "s.csv")
    out = tmp_path / "models" / "s.npz"
    r = _ok(
        run_cli(
            "model",
            "train",
            "sentiment",
            "--data",
            str(data),
            "--text-col",
            "内容",
            "--label-col",
            "情感",
            "--out",
            str(out),
            "--holdout",
            "0.25",
            "--json",
        )
    )
    report = json.loads(r.out)
    assert out.is_file() and report["train_rows"] == 45
    assert report["holdout_metrics"]["rows"] == 15
    lo, hi = report["info"]["band"]
    assert lo <= 0.5 <= hi

    r = _ok(
        run_cli(
            "model",
            "eval",
            "sentiment",
            "--model",
            str(out),
            "--data",
            str(data),
            "--text-col",
            "内容",
            "--label-col",
            "情感",
            "--json",
        )
    )
    m = json.loads(r.out)
    assert m["rows"] == 60 and m["pos_neg_rows"] == 40
    assert m["pos_neg_accuracy"] >= 0.9  # separable by construction
    assert set(m["per_class"]) == {"negative", "neutral", "positive"}
    for v in m["per_class"].values():
        assert {"precision", "recall", "f1", "support"} <= set(v)
    assert 0.0 <= m["negative_recall"] <= 1.0

    r = _ok(
        run_cli(
            "model",
            "eval",
            "sentiment",
            "--model",
            str(out),
            "--data",
            str(data),
            "--text-col",
            "内容",
            "--label-col",
            "情感",
        )
    )
    assert "negative recall" in r.out and "accuracy" in r.out and "precision" in r.out

    # a sentiment model is refused where a topic model is expected
    _fails(
        run_cli(
            "model",
            "eval",
            "topic",
            "--model",
            str(out),
            "--data",
            str(data),
            "--text-col",
            "内容",
            "--label-col",
            "情感",
        ),
        "模型类型不符",
    )


def test_topic_train_multiple_columns_then_eval(tmp_path):
    data = _topic_csv(tmp_path / "t.csv")
    out = tmp_path / "topic.npz"
    r = _ok(
        run_cli(
            "model",
            "train",
            "topic",
            "--data",
            str(data),
            "--text-col",
            "留言主题,留言详情",
            "--label-col",
            "一级分类",
            "--out",
            str(out),
        )
    )
    assert "已保存模型" in r.out
    model = load_topic_model(out)
    assert sorted(model.labels) == sorted(TOPICS)
    assert model.info["text_cols"] == ["留言主题", "留言详情"]
    label, prob = model.predict(["学校老师学费太贵"])[0]
    assert label == "教育" and 0 < prob <= 1

    r = _ok(
        run_cli(
            "model",
            "eval",
            "topic",
            "--model",
            str(out),
            "--data",
            str(data),
            "--text-col",
            "留言主题,留言详情",
            "--label-col",
            "一级分类",
            "--json",
        )
    )
    m = json.loads(r.out)
    assert m["rows"] == 45 and m["macro_f1"] > 0.9 and set(m["per_class"]) == set(TOPICS)


def test_bad_arguments_fail_clearly(tmp_path):
    data = _sentiment_csv(tmp_path / "s.csv", n=12)
    _fails(
        run_cli(
            "model",
            "train",
            "sentiment",
            "--data",
            str(data),
            "--text-col",
            "正文",
            "--label-col",
            "情感",
            "--out",
            str(tmp_path / "x.npz"),
        ),
        "正文",
        "missing column",
    )
    _fails(
        run_cli(
            "model",
            "train",
            "sentiment",
            "--data",
            str(tmp_path / "none.csv"),
            "--text-col",
            "内容",
            "--label-col",
            "情感",
            "--out",
            str(tmp_path / "x.npz"),
        ),
        "none.csv",
    )
    assert not (tmp_path / "x.npz").exists()
    _fails(
        run_cli(
            "model",
            "eval",
            "sentiment",
            "--model",
            str(tmp_path / "nope.npz"),
            "--data",
            str(data),
            "--text-col",
            "内容",
            "--label-col",
            "情感",
        ),
        "nope.npz",
    )
    _fails(
        run_cli(
            "model",
            "train",
            "sentiment",
            "--data",
            str(data),
            "--text-col",
            "内容",
            "--label-col",
            "情感",
            "--out",
            str(tmp_path / "x.npz"),
            "--band",
            "0.6",
        ),
        "--band",
    )


def test_topic_prior_is_on_by_default_and_can_be_switched_off(tmp_path):
    data = _topic_csv(tmp_path / "t.csv")
    base = ["model", "train", "topic", "--data", str(data), "--text-col", "留言主题,留言详情"]
    base += ["--label-col", "一级分类"]
    _ok(run_cli(*base, "--out", str(tmp_path / "a.npz")))
    _ok(run_cli(*base, "--out", str(tmp_path / "b.npz"), "--prior", "none"))
    with_prior, without = load_topic_model(tmp_path / "a.npz"), load_topic_model(tmp_path / "b.npz")
    assert with_prior.info["prior"] == "hotline-departments"
    assert [b.kind for b in with_prior.features.blocks][-1] == "prior"
    assert without.info["prior"] is None
    assert "prior" not in [b.kind for b in without.features.blocks]
    assert with_prior.predict(["学校老师学费太贵"])[0][0] == "教育"
    _fails(
        run_cli(*base, "--out", str(tmp_path / "c.npz"), "--prior", str(tmp_path / "nope.npz")),
        "先验模型文件不存在",
    )
    sdata = _sentiment_csv(tmp_path / "s.csv", n=12)
    _fails(
        run_cli(
            "model",
            "train",
            "sentiment",
            "--data",
            str(sdata),
            "--text-col",
            "内容",
            "--label-col",
            "情感",
            "--out",
            str(tmp_path / "s.npz"),
            "--prior",
            "none",
        ),
        "只用于主题模型",
    )
