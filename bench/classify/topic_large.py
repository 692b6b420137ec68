"""Topic model at scale: train the shipped default topic model on the segmented 8,054-message file,
time the training, cross-validate it, and score it on raw (unsegmented) messages.

Data (``../shared/data``, never copied into the repository):

* ``hotline_labeled_large.csv`` — 8,054 labelled messages, jieba-segmented, stop words and
  punctuation removed (the only public form of the full set). Training data.
* ``hotline_labeled.csv`` — 403 raw labelled messages of the same platform. Most of them are
  also in the large file: each raw message is segmented with jieba and matched to the large
  message that contains the most of its words (TF-IDF cosine for candidates, then the share of
  the candidate's words found in the raw text); a share of at least 0.95 marks an overlap.

Figures (written to the "## Topic model at scale" section of docs/BENCHMARKS.md):

* training time of ``yuqing model train topic``'s recipe on the whole large file;
* stratified 5-fold cross-validation on the large file (identical texts kept in one fold): macro
  and per-class F1 on the held-out segmented messages, and on the *raw* form of the held-out
  messages that overlap the raw file (title and body joined by a space, as the acceptance check
  feeds them), with the confusion between 城乡建设 / 环境保护 / 交通运输;
* a learning curve (training rows → raw and segmented macro-F1, fold 0);
* the model trained on the whole large file scored on the raw messages that are NOT in it;
* prediction speed (µs per raw message).

    python bench/classify/topic_large.py [--out analysis/models/topic_hotline.npz] [--no-write]
        [--folds 5] [--no-cv]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from analysis import topicmodel as topm
from bench.common import machine_reference, reference_note, write_section

SHARED = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
CLOSE = ["城乡建设", "环境保护", "交通运输"]
OVERLAP_SHARE = 0.95
CURVE = [500, 1000, 2000, 4000]


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def match_raw(large: list[str], raw: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each raw message, the index of its best-matching large message and the share of that
    message's words (2+ characters) found in the raw text."""
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer

    jieba.setLogLevel(logging.WARNING)
    seg = [" ".join(w for w in jieba.lcut(t) if w.strip()) for t in raw]
    vec = TfidfVectorizer(token_pattern=r"\S+").fit(large + seg)
    sims = (vec.transform(seg) @ vec.transform(large).T).toarray()
    best_j, best_share = np.full(len(raw), -1), np.zeros(len(raw))
    for i, text in enumerate(raw):
        for j in np.argsort(-sims[i])[:5]:
            words = [w for w in large[j].split() if len(w) >= 2]
            share = float(np.mean([w in text for w in words])) if words else 0.0
            if share > best_share[i]:
                best_j[i], best_share[i] = j, share
    return best_j, best_share


def metrics(truth, pred) -> dict:
    return topm.topic_metrics(list(truth), list(pred))


def confusion(truth, pred, classes=CLOSE) -> list[list[int]]:
    t, p = np.asarray(truth, dtype=object), np.asarray(pred, dtype=object)
    return [[int(((t == a) & (p == b)).sum()) for b in classes] for a in classes]


def train(texts, labels, seed=0):
    return topm.train_topic(texts, labels, segmented=True, seed=seed)


def labels_of(model, texts) -> list[str]:
    return [lab for lab, _ in model.predict(texts)]


def run(args) -> dict:
    large_rows = read(SHARED / "hotline_labeled_large.csv")
    raw_rows = read(SHARED / "hotline_labeled.csv")
    seg = [r["text_tokens"] for r in large_rows]
    y = np.array([r["一级分类"] for r in large_rows], dtype=object)
    raw = [f"{r['留言主题']} {r['留言详情']}".replace("\n", " ") for r in raw_rows]
    raw_y = np.array([r["一级分类"] for r in raw_rows], dtype=object)
    match, share = match_raw(seg, raw)
    overlap = share >= OVERLAP_SHARE
    out: dict = {"rows": len(seg), "raw_rows": len(raw), "overlap": int(overlap.sum())}
    out["overlap_label_agree"] = float((raw_y[overlap] == y[match[overlap]]).mean())

    started = time.perf_counter()
    cpu = time.process_time()
    model = train(seg, y.tolist())
    out["train_seconds"] = time.perf_counter() - started
    out["train_cpu_seconds"] = time.process_time() - cpu
    model.info.update({"data": "hotline_labeled_large.csv", "text_cols": ["text_tokens"],
                       "label_col": "一级分类", "train_seconds": round(out["train_seconds"], 1)})
    if args.out:
        model.save(args.out)
        out["model_bytes"] = Path(args.out).stat().st_size
    free = ~overlap
    out["free"] = metrics(raw_y[free], labels_of(model, [raw[i] for i in np.flatnonzero(free)]))
    model.predict(raw[:5])
    w = time.perf_counter()
    model.predict(raw)
    out["us_per_raw"] = (time.perf_counter() - w) / len(raw) * 1e6
    weibo = SHARED / "weibo_stream" / "2020-02-01.csv"
    if weibo.is_file():  # what ingest pays: CPU per post, each post seen once (cache cleared)
        from analysis import textfeatures

        posts = [r["text"] for r in read(weibo)][:5000]
        textfeatures._flatten.cache_clear()
        cpu_w = time.process_time()
        model.predict(posts)
        out["us_per_post_cpu"] = (time.process_time() - cpu_w) / len(posts) * 1e6
        out["posts"] = len(posts)
    out["n_features"] = model.features.n_features
    out["softmax_scale"] = model.info["softmax_scale"]

    if args.folds:
        from sklearn.model_selection import StratifiedGroupKFold

        groups = np.unique(np.array(seg, dtype=object), return_inverse=True)[1]
        cv = StratifiedGroupKFold(args.folds, shuffle=True, random_state=0)
        pred = np.empty(len(y), dtype=object)
        raw_pred = np.empty(len(raw), dtype=object)
        curve = []
        for k, (a, b) in enumerate(cv.split(seg, y, groups)):
            m = train([seg[i] for i in a], y[a].tolist())
            pred[b] = labels_of(m, [seg[i] for i in b])
            ri = np.flatnonzero(overlap & np.isin(match, b))
            raw_pred[ri] = labels_of(m, [raw[i] for i in ri])
            if k == 0:
                rng = np.random.default_rng(0)
                ri0 = ri
                for n in [c for c in CURVE if c < len(a)]:
                    sub = rng.choice(a, n, replace=False)
                    ms = train([seg[i] for i in sub], y[sub].tolist())
                    curve.append((n, metrics(y[b], labels_of(ms, [seg[i] for i in b]))["macro_f1"],
                                  metrics(raw_y[ri0], labels_of(ms, [raw[i] for i in ri0]))["macro_f1"]))
                curve.append((len(a), metrics(y[b], pred[b])["macro_f1"],
                              metrics(raw_y[ri0], raw_pred[ri0])["macro_f1"]))
        done = raw_pred != None
        out["cv_seg"] = metrics(y, pred)
        out["cv_raw"] = metrics(raw_y[done], raw_pred[done])
        out["conf_seg"] = confusion(y, pred)
        out["conf_raw"] = confusion(raw_y[done], raw_pred[done])
        out["curve"] = curve
        out["folds"] = args.folds
    return out


def _table(m: dict) -> list[str]:
    lines = ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for cls, v in m["per_class"].items():
        lines.append(f"| {cls} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
    return lines


def _conf(c: list[list[int]]) -> list[str]:
    lines = ["| true \\ predicted | " + " | ".join(CLOSE) + " |", "|---|" + "---:|" * len(CLOSE)]
    for name, row in zip(CLOSE, c, strict=True):
        lines.append(f"| {name} | " + " | ".join(str(x) for x in row) + " |")
    return lines


def render(r: dict, ref_ms: float) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        (f"Default topic model (`yuqing model train topic` on segmented text: "
         f"`{topm.SEGMENTED_TOPIC_FEATURES}`, NB-SVM (power {topm.SEGMENTED_NB_POWER:g}) C={topm.SEGMENTED_TOPIC_C}, balanced, softmax "
         f"temperature {r['softmax_scale']:g} on one 3:1 split) trained on `hotline_labeled_large.csv` "
         f"({r['rows']:,} segmented messages): **{r['train_seconds']:.0f} s wall, "
         f"{r['train_cpu_seconds']:.0f} s CPU** (target < 60 s), {r['n_features']:,} features"
         + (f", model file {r['model_bytes'] / 1e6:.1f} MB" if "model_bytes" in r else "")
         + f". Prediction on raw messages: {r['us_per_raw']:.0f} µs per message (batch of {r['raw_rows']})"
         + (f"; on Weibo posts {r['us_per_post_cpu']:.0f} µs CPU per post (batch of {r['posts']:,})"
            if "us_per_post_cpu" in r else "") + "."),
        "",
        (f"Raw messages of `hotline_labeled.csv`: {r['overlap']} of {r['raw_rows']} are also in the "
         f"large file (labels agree on {r['overlap_label_agree']:.1%}); the other "
         f"{r['free']['rows']} are usable as raw held-out messages for the model trained on the "
         f"whole file: macro-F1 {r['free']['macro_f1']:.3f}, accuracy {r['free']['accuracy']:.3f} "
         "(few messages, mostly 劳动和社会保障 / 教育文体: a rough check only)."),
    ]
    if "cv_seg" in r:
        lines += [
            "",
            (f"Stratified {r['folds']}-fold cross-validation on the large file (identical texts in one "
             f"fold, seed 0): held-out segmented messages macro-F1 **{r['cv_seg']['macro_f1']:.3f}** "
             f"(accuracy {r['cv_seg']['accuracy']:.3f}); the raw form (title and body joined by a space) "
             f"of the {r['cv_raw']['rows']} held-out messages that overlap the raw file, predicted by the "
             f"fold's model: macro-F1 **{r['cv_raw']['macro_f1']:.3f}** (accuracy "
             f"{r['cv_raw']['accuracy']:.3f})."),
            "",
            "Per class, held-out segmented messages:",
            "",
            *_table(r["cv_seg"]),
            "",
            "Per class, raw held-out messages:",
            "",
            *_table(r["cv_raw"]),
            "",
            "Confusion among the close classes, segmented held-out messages:",
            "",
            *_conf(r["conf_seg"]),
            "",
            "The same, raw held-out messages:",
            "",
            *_conf(r["conf_raw"]),
            "",
            "Learning curve (fold 0; training rows drawn at random from its training part):",
            "",
            "| training rows | macro-F1 segmented | macro-F1 raw |",
            "|---:|---:|---:|",
            *[f"| {n:,} | {a:.3f} | {b:.3f} |" for n, a, b in r["curve"]],
        ]
    lines += [
        "",
        (f"Python {platform.python_version()}, {platform.machine()}, one process; load average "
         f"{load:.1f} on {os.cpu_count()} cores at the end of the run (the machine is shared: wall "
         "times grow with other jobs, CPU times less so). " + reference_note(ref_ms)),
        "",
        (
            "Reproduce: `python bench/classify/topic_large.py` (writes the shipped model with "
            "`--out analysis/models/topic_hotline.npz`; `--folds 0` skips the cross-validation)."
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="save the model trained on the whole file")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (0 = skip)")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args()
    if not (SHARED / "hotline_labeled_large.csv").is_file():
        sys.exit(f"数据不存在 (data not found): {SHARED}")
    ref = machine_reference()
    r = run(args)
    body = render(r, ref)
    print(body)
    if args.json:
        args.json.write_text(json.dumps(r, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    if not args.no_write:
        write_section("Topic model at scale", body)


if __name__ == "__main__":
    main()
