"""Three-way sentiment on official and news texts: the held-out figures of the default recipe.

Trains the shipped recipe (``train_sentiment(..., neutral_head=True)`` on the rows of
``bench/classify/sentiment_data.py``) on a training part and scores what it never saw:

- the Weibo posts held out as in ``bench/classify/run.py`` (20 %, seed 42, stratified by
  polarity): pos-vs-neg accuracy (score > 0.5) and the three-way confusion matrix;
- 20 % of every other source (seed 42): share of neutral official sentences called negative;
- tests/data/official_heldout.csv (written for the project, never trained on): share of the
  neutral / positive official texts labelled negative, and the recall of its negative ones;

and the same figures for the shipped model file and, with ``--old PATH``, another model file.

    python bench/classify/sentiment_official.py [--old PATH] [--folds 3]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from analysis import textmodel as tm
from analysis.sentiment import LinearSentimentEngine, load_engine
from bench.classify.sentiment_data import SHARED, build_rows

FIXTURE = REPO / "tests" / "data" / "official_heldout.csv"
CLASSES = ("negative", "neutral", "positive")
HOLDOUT, SEED = 0.2, 42


def split(rows):
    """(train rows, held-out rows): Weibo posts as bench/classify/run.py, 20 % of the rest."""
    weibo = [r for r in rows if r[2] == "weibo"]
    other = [r for r in rows if r[2] != "weibo"]
    _, test_idx = tm.holdout_split(tm.polarity_labels([r[1] for r in weibo]), HOLDOUT, SEED)
    test_w = set(test_idx)
    rng = random.Random(SEED)
    test_o = set(rng.sample(range(len(other)), round(HOLDOUT * len(other))))
    train = [r for i, r in enumerate(weibo) if i not in test_w]
    train += [r for i, r in enumerate(other) if i not in test_o]
    test = [r for i, r in enumerate(weibo) if i in test_w]
    test += [r for i, r in enumerate(other) if i in test_o]
    return train, test


def confusion(truth, pred) -> list[list[int]]:
    return [[sum(1 for t, p in zip(truth, pred) if t == a and p == b) for b in CLASSES] for a in CLASSES]


def evaluate(engine, test, fixture) -> dict:
    out: dict = {}
    w = [(t, tm.polarity_labels([lab])[0]) for t, lab, src in test if src == "weibo"]
    res = engine.predict([t for t, _ in w])
    truth = [p for _, p in w]
    m = tm.sentiment_metrics(truth, [r.label for r in res], [r.score for r in res])
    out["weibo"] = {**m, "confusion": confusion(truth, [r.label for r in res])}
    for src in ("reply", "seed", "stream", "written", "citizen"):
        part = [(t, lab) for t, lab, s in test if s == src]
        if not part:
            continue
        res = engine.predict([t for t, _ in part])
        labs = [r.label for r in res]
        pol = [lab if lab in CLASSES else None for _, lab in part]
        out[src] = {
            "rows": len(part),
            "labelled": {c: labs.count(c) for c in CLASSES},
            "confusion": confusion(pol, labs) if any(pol) else None,
        }
    texts = [r["text"] for r in fixture]
    truth = [r["label"] for r in fixture]
    res = engine.predict(texts)
    labs = [r.label for r in res]
    nonneg = [i for i, t in enumerate(truth) if t != "negative"]
    neg = [i for i, t in enumerate(truth) if t == "negative"]
    out["fixture"] = {
        "nonneg_rows": len(nonneg),
        "nonneg_negative_share": sum(labs[i] == "negative" for i in nonneg) / len(nonneg),
        "negative_recall": sum(labs[i] == "negative" for i in neg) / len(neg),
        "confusion": confusion(truth, labs),
        "fails": [(texts[i], truth[i], labs[i], round(res[i].score, 3)) for i in range(len(texts))
                  if (truth[i] == "negative") != (labs[i] == "negative")],
    }
    return out


def show(name: str, r: dict) -> None:
    w = r["weibo"]
    print(f"== {name}")
    print(f"  Weibo held-out: pos-vs-neg {w['pos_neg_accuracy']:.4f} ({w['pos_neg_rows']}), "
          f"3-way acc {w['accuracy']:.4f}, macro-F1 {w['macro_f1']:.4f}, neg recall {w['negative_recall']:.4f}")
    print("    confusion (rows truth neg/neu/pos, cols predicted):", w["confusion"])
    for src in ("reply", "seed", "stream", "written", "citizen"):
        if src in r:
            print(f"  {src} held-out ({r[src]['rows']}): {r[src]['labelled']} conf {r[src]['confusion']}")
    f = r["fixture"]
    print(f"  official fixture: negative share of {f['nonneg_rows']} neutral/positive: "
          f"{f['nonneg_negative_share']:.3f}; negative recall {f['negative_recall']:.3f}")
    print("    confusion:", f["confusion"])
    for t in f["fails"]:
        print("    fail:", t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", help="another model file to compare")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--c", type=float, default=tm.DEFAULT_SENTIMENT_C)
    args = ap.parse_args()
    with FIXTURE.open(encoding="utf-8", newline="") as fh:
        fixture = list(csv.DictReader(fh))
    rows = build_rows(SHARED)
    train, test = split(rows)
    started = time.perf_counter()
    model = tm.train_sentiment([t for t, _, _ in train], [lab for _, lab, _ in train],
                               neutral_head=True, folds=args.folds, C=args.c)
    print(f"trained on {len(train)} rows in {time.perf_counter() - started:.0f} s; "
          f"threshold {model.info['neutral_threshold']}, band {model.info['band']}")
    show("recipe (trained on the training part)", evaluate(LinearSentimentEngine(model), test, fixture))
    show("shipped file", evaluate(load_engine("default"), test, fixture))
    if args.old:
        show(args.old, evaluate(load_engine(args.old), test, fixture))


if __name__ == "__main__":
    main()
