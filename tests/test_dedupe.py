"""Duplicate detection: shingles, SimHash fingerprints and the bounded duplicate index."""

from __future__ import annotations

import csv
import random

from analysis.dedupe import (
    DuplicateIndex,
    Known,
    from_signed64,
    hamming,
    shingles,
    simhash_batch,
    to_signed64,
)
from analysis.normalize import normalize_text
from tests.conftest import shared_data


def test_shingles_keep_ascii_words_whole_and_break_at_punctuation():
    assert shingles("58车贷") == ["58车", "车贷"]
    assert shingles("丽发新城，搅拌站") == ["丽发", "发新", "新城", "搅拌", "拌站"]
    assert shingles("H5N1 禽流感") == ["h5n1", "禽流", "流感"]
    assert shingles("好") == ["好"]


def test_simhash_is_stable_and_close_for_copies():
    body = (
        "内地药房双黄连口服液一夜卖光，网友连夜排队抢购，有人甚至买了兽用双黄连。专家提醒：抑制不等于"
        "预防和治疗，目前没有特效药，请勿抢购，更不要自行服用，勤洗手、戴口罩、少聚集才是关键。"
    )
    a = body + "L搞笑苹的微博视频"
    b = body + "L搞笑州的微博视频"
    c = "海南省教育厅通知全省各类学校2月24日前不得开学，具体开学时间另行通知。"
    fa, fb, fc, short = simhash_batch([shingles(a), shingles(b), shingles(c), shingles("好的")])
    assert short is None  # too few shingles to fingerprint
    assert hamming(fa, fb) <= 5 < hamming(fa, fc)
    # equal across calls (and processes: blake2b, not Python's salted hash)
    assert simhash_batch([shingles(a)])[0] == fa
    assert from_signed64(to_signed64(fa)) == fa and -(2**63) <= to_signed64(fa) < 2**63


def test_index_finds_exact_and_near_copies_and_forgets_oldest():
    texts = [
        "市民反映某小区旁搅拌站夜间施工噪音扰民，粉尘污染严重，请有关部门尽快处理。",
        "市民反映某小区旁搅拌站夜间施工噪音扰民，粉尘污染严重，请有关部门尽快处理！！",
        "建议在地铁站附近建设公共停车场，方便市民换乘，缓解周边道路拥堵问题。",
    ]
    fps = simhash_batch([shingles(t) for t in texts])
    idx = DuplicateIndex(cap=2)
    idx.add(Known(1, 1, 10, fps[0]), "h1")
    assert idx.find_exact("h1").post_id == 1
    near = idx.find_near(fps[1])
    assert near is not None and near.post_id == 1 and near.event_id == 10
    assert idx.find_near(fps[2]) is None
    idx.add(Known(2, 2, 11, fps[2]), "h2")
    idx.add(Known(3, 3, 12, None), "h3")  # over capacity: post 1 is forgotten
    assert len(idx) == 2
    assert idx.find_exact("h1") is None and idx.find_near(fps[1]) is None
    assert idx.find_exact("h3").post_id == 3


def test_real_weibo_reposts_are_found_and_distinct_posts_are_not():
    path = shared_data("weibo_stream/2020-02-01.csv")
    with path.open(encoding="utf-8") as fh:
        texts = [
            normalize_text(r["text"]) for _, r in zip(range(3000), csv.DictReader(fh), strict=False)
        ]
    fps = simhash_batch([shingles(t) for t in texts])
    idx = DuplicateIndex(cap=10_000)
    pairs = []
    for i, fp in enumerate(fps):
        hit = idx.find_near(fp)
        if hit is not None:
            pairs.append((hit.post_id, i))
        idx.add(Known(i, i, None, fp), None)
    assert len(pairs) > 50  # the stream is full of reposts with a different trailing tag
    # every pair found is a real near copy: most of the shingles are shared
    rng = random.Random(7)
    for a, b in rng.sample(pairs, 40):
        sa, sb = set(shingles(texts[a])), set(shingles(texts[b]))
        assert len(sa & sb) / len(sa | sb) > 0.6, (texts[a], texts[b])
