"""Labels of an event for people: keywords (jieba, weighted by the event's centroid) and a title."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from analysis.dedupe import shingles

_HASHTAG = re.compile(r"#([^#\n]{2,40})#")
_GENERIC_HEADS_TEXT = (
    "附近 旁边 周边 周围 大型 小型 一个 这个 那个 该小 本小 整个 所有 "
    "我们 你们 他们 其他 各类 各个 多个 有关 相关 对面 门口 家门 新建 "
    "修建 建设 所在 当地 本地 全市 全县 全区 两个 几个 一些 还有 就是 "
    "投诉 举报 反映 关于 请问 咨询 建议 希望 要求 为止 或者 近建 望政 "
)
_GENERIC_HEADS = frozenset(_GENERIC_HEADS_TEXT.split())
_STOP_PREFIX = set("市区县省路街镇的在了是和与及到我你他她们这那有被把从对向于个号栋期")

_STOPWORDS_TEXT = (
    "一个 我们 你们 他们 没有 什么 这个 那个 就是 还是 可以 已经 因为 "
    "所以 如果 但是 而且 现在 自己 这样 这些 那些 不是 知道 大家 真的 "
    "时候 怎么 为什么 希望 请问 问题 情况 相关 进行 目前 以及 收起 全文 或者 "
    "微博 视频 网页 链接 回复 转发 评论 一下 一些 还有 不要 不能 需要 "
    "要求 反映 领导 您好 你好 谢谢 感谢 "
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


@lru_cache(maxsize=1)
def _jieba():
    import jieba  # lazily: loading the dictionary takes about a second

    jieba.setLogLevel(60)
    jieba.initialize()
    return jieba


def load_segmenter() -> None:
    """Load the word segmenter's dictionary now (about a second). An importer calls this before
    forking its worker processes, so that they share the loaded dictionary instead of each
    loading its own (for every file imported)."""
    _jieba()


def keywords(
    texts: Sequence[str], signature: dict[str, float] | None = None, *, k: int = 8
) -> list[str]:
    """Keywords of an event from sample texts, weighted by the event's centroid.

    Words come from jieba; a word scores by its frequency in the samples times the mean
    centroid weight of its bigrams (distinctive, frequent words win). Entity names and hashtags
    in the signature come first. Substrings of a keyword already chosen are skipped.
    """
    sig = signature or {}
    jb = _jieba()
    counts: Counter = Counter()
    for text in texts:
        for w in jb.lcut(_HASHTAG.sub(" ", text)[:1000], HMM=True):
            w = w.strip().lower()
            if (
                len(w) < 2
                or w in _STOPWORDS
                or w.isdigit()
                or not re.search(r"[\u4e00-\u9fff0-9a-z]", w)
            ):
                continue
            if w[0] in _STOP_PREFIX or w[:2] in _GENERIC_HEADS:
                continue
            counts[w] += 1
    scored: dict[str, float] = {}
    for w, c in counts.items():
        grams = shingles(w) or [w]
        mean = sum(sig.get(g, 0.0) for g in grams) / len(grams)
        if sig and mean <= 0.0:
            continue
        scored[w] = c * (mean if sig else 1.0) * (1.0 + 0.1 * min(len(w), 6))
    chosen: list[str] = []
    specials = sorted(
        ((t, w) for t, w in sig.items() if t[0] in "#@"), key=lambda kv: kv[1], reverse=True
    )
    for t, _ in specials[:3]:
        chosen.append(t[1:] if t[0] == "@" else t)
    for w, _ in sorted(scored.items(), key=lambda kv: kv[1], reverse=True):
        if len(chosen) >= k:
            break
        if any(w in c or c in w for c in chosen):
            continue
        chosen.append(w)
    return chosen[:k]


def title_of(
    candidates: Sequence[tuple[str | None, str]], signature: dict[str, float] | None = None
) -> str:
    """Event title: the dominant hashtag if any, else the most representative post's title/text.

    ``candidates`` are (title, text) of sample posts; the representative one has the largest
    centroid weight per shingle among its title (or first 60 characters of text).
    """
    sig = signature or {}
    tags = sorted(
        ((t, w) for t, w in sig.items() if t[0] == "#"), key=lambda kv: kv[1], reverse=True
    )
    if tags and (not sig or tags[0][1] >= 0.5 * max(sig.values())):
        return tags[0][0]
    best, best_score = "", -1.0
    for title, text in candidates:
        line = (title or "").strip() or _first_line(text)
        if not line:
            continue
        grams = set(shingles(line))
        score = sum(sig.get(g, 0.0) for g in grams) / (len(grams) + 3) if sig else 0.0
        if score > best_score:
            best, best_score = line, score
    return best[:80]


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line[:60] + ("…" if len(line) > 60 else "")


@dataclass
class Draft:
    """Title and keywords computed for one event (used by the ledger when listing)."""

    title: str
    keywords: list[str] = field(default_factory=list)
