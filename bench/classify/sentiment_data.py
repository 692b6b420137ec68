"""Training data of the default sentiment model, built from ../shared/data and project files.

The shared data sets may not be committed, so the training CSV is rebuilt from them each time
(deterministic for a seed) and written outside the repository:

    python bench/classify/sentiment_data.py --out /tmp/sentiment_train.csv

Columns ``text, label, source``. Labels are what ``yuqing model train sentiment --neutral-head``
reads: the seven emotions of the Weibo posts (surprise → neutral), ``neutral`` /
``positive`` / ``negative``, and ``polar`` (not neutral, polarity unknown). Sources:

- ``weibo``: the rows of weibo_emotion_train.csv, their emotion; by default without the 20 %
  that ``bench/classify/run.py`` and ``yuqing model eval sentiment --holdout 0.2 --seed 42``
  hold out (stratified by polarity, seed 42), so the shipped model can be scored on posts it
  never saw (``--all-weibo`` keeps them);
- ``reply``: up to ``REPLY_SENTENCES`` sentences (8–150 characters) of each government reply
  (答复意见) of hotline_replies.csv, ``neutral``;
- ``citizen``: each citizen message's title (留言主题) and its opening (留言详情, up to the first
  sentence end, at most 150 characters), ``polar``: they are mostly complaints and requests,
  not neutral official text, but their polarity is not labelled;
- ``seed``: sentences (8–150 characters) of the seed documents in ../shared/seeds, ``neutral``;
- ``stream``: posts of weibo_stream/ labelled by hand for this model: a random sample of the
  news-style posts (opening with 【) and one of the posts that carry a #hashtag# (mostly
  personal posts under the hashtag of a news event); bench/classify/weibo_official_labels.csv
  holds only file, row and label;
- ``written``: official and news texts written for this project
  (bench/classify/sentiment_official_written.csv; none of them in tests/data).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
SEEDS = SHARED.parent / "seeds"
REPLY_SENTENCES = 2
WEIBO_HOLDOUT, WEIBO_SEED = 0.2, 42
_SENT_END = re.compile(r"(?<=[。！？；!?\n])")


def sentences(text: str, lo: int = 8, hi: int = 150) -> list[str]:
    """The sentences of ``text`` (split after 。！？；!? and line breaks) of lo..hi characters."""
    out = []
    for s in _SENT_END.split(text or ""):
        s = s.strip()
        if lo <= len(s) <= hi:
            out.append(s)
    return out


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def weibo_holdout(emotions: list[str]) -> set[int]:
    """Row numbers of weibo_emotion_train.csv held out for evaluation (as bench/classify/run.py)."""
    from analysis.textmodel import holdout_split, polarity_labels

    return set(holdout_split(polarity_labels(emotions), WEIBO_HOLDOUT, WEIBO_SEED)[1])


def build_rows(
    shared: Path = SHARED, seed: int = 0, *, exclude_weibo_holdout: bool = False
) -> list[tuple[str, str, str]]:
    """(text, label, source) rows, duplicates of a text dropped (first kept)."""
    rng = random.Random(seed)
    rows: list[tuple[str, str, str]] = []
    weibo = _read(shared / "weibo_emotion_train.csv")
    held = weibo_holdout([r["emotion"] for r in weibo]) if exclude_weibo_holdout else set()
    for i, r in enumerate(weibo):
        if i not in held:
            rows.append((r["text"], r["emotion"], "weibo"))
    for r in _read(shared / "hotline_replies.csv"):
        sents = sentences(r.get("答复意见", ""))
        rows += [(s, "neutral", "reply") for s in rng.sample(sents, min(REPLY_SENTENCES, len(sents)))]
        title = (r.get("留言主题") or "").strip()
        if title:
            rows.append((title, "polar", "citizen"))
        body = (r.get("留言详情") or "").strip()
        opening = _SENT_END.split(body, maxsplit=1)[0].strip()[:150]
        if len(opening) >= 8:
            rows.append((opening, "polar", "citizen"))
    seeds = shared.parent / "seeds"
    for path in sorted(seeds.glob("*.txt")) if seeds.is_dir() else []:
        rows += [(s, "neutral", "seed") for s in sentences(path.read_text(encoding="utf-8"))]
    rows += [(t, lab, "stream") for t, lab in stream_rows(shared)]
    for r in _read(HERE / "sentiment_official_written.csv"):
        rows.append((r["text"], r["label"], "written"))
    seen: set[str] = set()
    out = []
    for t, lab, src in rows:
        t = t.strip()
        if t and t not in seen:
            seen.add(t)
            out.append((t, lab, src))
    return out


def stream_rows(shared: Path = SHARED) -> list[tuple[str, str]]:
    """The hand-labelled news-style Weibo stream posts: (text, label)."""
    wanted: dict[str, dict[int, str]] = {}
    for r in _read(HERE / "weibo_official_labels.csv"):
        wanted.setdefault(r["file"], {})[int(r["row"])] = r["label"]
    out = []
    for name, labels in sorted(wanted.items()):
        path = shared / "weibo_stream" / name
        if not path.is_file():
            continue
        for i, r in enumerate(_read(path)):
            if i in labels:
                out.append((r["text"], labels[i]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="CSV to write (outside the repository)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--all-weibo", action="store_true", help="keep the held-out Weibo posts too")
    args = ap.parse_args()
    rows = build_rows(SHARED, args.seed, exclude_weibo_holdout=not args.all_weibo)
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label", "source"])
        w.writerows(rows)
    counts: dict[str, int] = {}
    for _, lab, src in rows:
        counts[f"{src}:{lab}"] = counts.get(f"{src}:{lab}", 0) + 1
    print(f"{len(rows)} rows -> {args.out}", file=sys.stderr)
    for k in sorted(counts):
        print(f"  {k}: {counts[k]}", file=sys.stderr)


if __name__ == "__main__":
    main()
