"""Build the shipped hotline topic prior, ``analysis/models/topic_prior_hotline.npz``, from the
platform's *unlabelled* messages (see docs/MODEL_CARD_topic_prior.md).

The messages of ``hotline_replies.csv`` come with the government's reply, which usually names
the department that handled the case (市教育局, 县人社局, 区住建局 …). A fixed table of
department names per category (``DEPARTMENTS`` below, written from the departments' remits, not
from any labelled message) gives each such message a weak category; messages whose reply names
no department of the table, or departments of several categories about equally often, are left
out. A logistic regression on the *message* text (title + body, never the reply) learns these
weak categories; ``yuqing model train topic`` stacks its scores as extra features by default.

Messages that also occur in ``hotline_labeled.csv`` (same title or same body) are dropped first,
so cross-validation on the labelled file stays honest.

    python bench/classify/build_topic_prior.py [--out PATH] [--check] [--self-train P]

(--self-train was tried and is off by default: it did not help; see the model card.)
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from analysis import textmodel as tm
from analysis import topicmodel as topm

SHARED = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
OUT = topm.DEFAULT_TOPIC_PRIOR
FEATURES = "char:1-3@2,word:1-1@2"
C = 10.0

# Department (or service) names in a reply -> first-level category of the message.
DEPARTMENTS = {
    "教育文体": r"教育局|教育厅|教育体育局|教体局|文体局|文化局|体育局|文广|文旅|学籍|招生|教育部门",
    "交通运输": r"交通运输局|交通局|交通厅|交通运输厅|公交|轨道交通|地铁|公路局|运管|出租车|客运",
    "劳动和社会保障": (
        r"人社局|人力资源和社会保障|人社厅|社保|社会保险|医保|医疗保障|养老保险|就业|劳动监察|劳动保障"
    ),
    "城乡建设": (
        r"住建局|住建委|住房和城乡建设|城管局|城市管理|城乡规划|规划局|规划分局|房产局|住房保障|"
        r"不动产|国土|自然资源|物业|拆迁|征收|棚改|市政|住房公积金|建设局|规建局"
    ),
    "环境保护": r"环保局|环境保护|生态环境|环保厅|环境监测|环保部门",
    "卫生计生": r"卫健委|卫生健康|卫计委|卫计局|卫生局|卫生和计划生育|疾控|计生|卫生监督|医院",
    "商贸旅游": (
        r"商务局|市场监督管理|市场监管|工商局|工商分局|旅游局|物价局|商务厅|市场和质量监督|质监|"
        r"食药监|消费者"
    ),
}
_PATTERNS = {k: re.compile(v) for k, v in DEPARTMENTS.items()}


def weak_category(reply: str) -> str | None:
    """The category whose departments the reply names most, if at least twice as often as any
    other category's; None when it names none."""
    hits = {k: len(p.findall(reply)) for k, p in _PATTERNS.items()}
    ranked = sorted(hits.values(), reverse=True)
    if ranked[0] == 0 or ranked[0] < 2 * ranked[1]:
        return None
    return max(hits, key=hits.__getitem__)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def weak_training_set(shared: Path = SHARED) -> tuple[list[str], list[str], dict]:
    """(message texts, weak categories, counts) from hotline_replies.csv, labelled rows removed."""
    labelled = _rows(shared / "hotline_labeled.csv")
    titles = {r["留言主题"].strip() for r in labelled}
    bodies = {r["留言详情"].strip() for r in labelled}
    texts, cats, dropped, unlabelled = [], [], 0, 0
    seen: set[str] = set()
    for r in _rows(shared / "hotline_replies.csv"):
        title, body = (r.get("留言主题") or "").strip(), (r.get("留言详情") or "").strip()
        if title in titles or body in bodies:
            dropped += 1
            continue
        text = f"{title}\n{body}".strip()
        if text in seen:
            continue
        seen.add(text)
        cat = weak_category(r.get("答复意见") or "")
        if cat is None:
            unlabelled += 1
            continue
        texts.append(text)
        cats.append(cat)
    stats = {
        "messages": len(seen) + dropped,
        "dropped_as_labelled": dropped,
        "no_department": unlabelled,
        "weakly_labelled": len(texts),
        "counts": dict(sorted(Counter(cats).items())),
    }
    return texts, cats, stats


def other_messages(shared: Path = SHARED) -> list[str]:
    """Messages of hotline_hot.csv (no reply, so no weak category), labelled rows removed."""
    labelled = _rows(shared / "hotline_labeled.csv")
    titles = {r["留言主题"].strip() for r in labelled}
    bodies = {r["留言详情"].strip() for r in labelled}
    out, seen = [], set()
    for r in _rows(shared / "hotline_hot.csv"):
        title, body = (r.get("留言主题") or "").strip(), (r.get("留言详情") or "").strip()
        text = f"{title}\n{body}".strip()
        if title in titles or body in bodies or text in seen:
            continue
        seen.add(text)
        out.append(text)
    return out


def _fit(texts, cats, info) -> tm.LinearTextModel:
    return tm._fit_model(
        "topic-prior", texts, cats, features=FEATURES, C=C, balanced=True, seed=0, info=info
    )


def build(
    out: Path = OUT, shared: Path = SHARED, self_train: float = 0.0
) -> tuple[tm.LinearTextModel, dict]:
    texts, cats, stats = weak_training_set(shared)
    info = {"name": "hotline-departments", "source": "hotline_replies.csv", **stats}
    model = _fit(texts, cats, info)
    if self_train:
        # one round of self-training on hotline_hot.csv: add the messages the weak model
        # labels with probability >= self_train
        extra = other_messages(shared)
        pred = model.predict(extra)
        keep = [(t, lab) for t, (lab, p) in zip(extra, pred, strict=True) if p >= self_train]
        info = {**info, "self_train_threshold": self_train, "self_train_added": len(keep)}
        model = _fit(texts + [t for t, _ in keep], cats + [lab for _, lab in keep], info)
    model.save(out)
    return model, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--check",
        action="store_true",
        help="also report the prior's own macro-F1 on hotline_labeled.csv (zero-shot)",
    )
    ap.add_argument("--self-train", type=float, default=0.0, metavar="P")
    args = ap.parse_args()
    model, stats = build(args.out, self_train=args.self_train)
    print(f"saved {args.out}: {model.features.n_features} features, {stats}")
    if args.check:
        texts, labels = tm.read_labelled_csv(
            SHARED / "hotline_labeled.csv", ["留言主题", "留言详情"], "一级分类"
        )
        pred = [lab for lab, _ in model.predict(texts)]
        print("zero-shot on hotline_labeled.csv:", topm.topic_metrics(labels, pred)["macro_f1"])


if __name__ == "__main__":
    main()
