"""How much the sentiment engine moves sensitivity and the suggested grade.

Runs the whole assessment (real sentiment, shipped rules.toml and units.toml) over the first N
posts of a Weibo stream day and over the project's held-out official texts
(tests/data/official_heldout.csv), once per engine, and prints per engine: share labelled
negative, mean sensitivity, share whose sensitivity includes the negative-sentiment term, and
the share of each suggested grade. ``bench/rules/run.py`` fixes sentiment to negative, so its
flagged shares do not depend on the engine; this is the complement.

    python bench/rules/sentiment_shares.py [--limit 5000] [--engine default --engine PATH ...]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from analysis.assess import Assessor
from analysis.normalize import normalize_text
from analysis.sentiment import load_engine
from config.settings import get_settings
from config.wiring import load_gazetteer, load_rule_config

SHARED = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_DATA = SHARED / "weibo_stream" / "2020-01-24.csv"
FIXTURE = REPO / "tests" / "data" / "official_heldout.csv"
GRADES = ("一般", "较大", "重大", "特别重大")


def shares(assessor: Assessor, texts: list[str]) -> str:
    out = assessor.assess_batch(texts)
    n = len(out)
    neg = sum(a.sentiment == "negative" for a in out)
    term = sum(any(r.startswith("负面情绪") for r in a.reasons) for a in out)
    grades = Counter(a.severity for a in out)
    mean = sum(a.sensitivity for a in out) / n
    g = ", ".join(f"{k} {grades[k] / n:.1%}" for k in GRADES)
    return (f"{n} texts: negative {neg / n:.1%}, negative-sentiment term {term / n:.1%}, "
            f"mean sensitivity {mean:.3f}; grades {g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=5000)
    ap.add_argument("--engine", action="append", help="default | snownlp | model file (repeat)")
    args = ap.parse_args()
    texts = []
    with args.data.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(normalize_text(row.get("text") or ""))
            if len(texts) >= args.limit:
                break
    with FIXTURE.open(encoding="utf-8", newline="") as fh:
        fixture = list(csv.DictReader(fh))
    calm = [r["text"] for r in fixture if r["label"] != "negative"]
    bad = [r["text"] for r in fixture if r["label"] == "negative"]
    settings = get_settings()
    rules, units = load_rule_config(settings), load_gazetteer(settings)
    for spec in args.engine or ["default"]:
        assessor = Assessor(sentiment=load_engine(spec), rules=rules, units=units)
        print(f"== engine {spec}")
        print(f"  Weibo stream {args.data.name}: {shares(assessor, texts)}")
        print(f"  official neutral/positive: {shares(assessor, calm)}")
        print(f"  official negative: {shares(assessor, bad)}")


if __name__ == "__main__":
    main()
