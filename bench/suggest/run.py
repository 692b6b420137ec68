"""Benchmark of reply suggestions (``yuqing messages suggest``): retrieval quality on held-out
answered messages of ``hotline_replies.csv`` and the index's speed as replies accumulate.

Quality. The export has no unit column, so the replying unit is read from each reply's text
(``analysis.replyunit.reply_unit``: the signing unit, else the last unit the reply names; locality
codes dropped). Every fifth message (by row order) is held out; the rest are indexed with the
same :class:`ledger.messages.suggest.ReplyIndex` the ledger uses. For each held-out message whose
reply names a unit, the question is whether the top suggestion's reply names the same unit
(top-1), or any of the top three (top-3). Baselines on the same messages: always the most common
unit of the indexed replies, and a random indexed reply (expected rate, exact).

Speed. Build time of the index over N answered messages (the real ones repeated with a distinct
suffix to reach N), the time to add 100 newly answered messages to it, and the median and p95 time
of one query, for N up to ``--max-rows``.

    python bench/suggest/run.py                 # writes "## Reply suggestions" in docs/BENCHMARKS.md
    python bench/suggest/run.py --no-write
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.common import machine_reference, reference_note, write_section

DATA = Path(os.environ.get("YUQING_SHARED_DATA", ROOT.parent / "shared" / "data"))


def load(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [r for r in csv.DictReader(f) if (r.get("答复意见") or "").strip()]


def held_out_index(rows: list[dict[str, str]], fold: int = 5):
    """The normalised documents, the held-out rows (every ``fold``-th), the indexed rows, and the
    index of the indexed rows' documents (under their row numbers)."""
    from analysis.normalize import normalize_text
    from ledger.messages.suggest import ReplyIndex, document

    docs = [normalize_text(document(r["留言主题"], r["留言详情"])) for r in rows]
    test = [i for i in range(len(rows)) if i % fold == fold - 1]
    train = [i for i in range(len(rows)) if i % fold != fold - 1]
    index = ReplyIndex()
    index.add(train, [docs[i] for i in train])
    return docs, test, train, index


def quality(rows: list[dict[str, str]], held) -> dict:
    from analysis.normalize import normalize_text
    from analysis.replyunit import reply_unit

    docs, test, train, index = held
    units = [reply_unit(normalize_text(r["答复意见"])) for r in rows]
    train_units = Counter(units[i] for i in train if units[i])
    majority, majority_n = train_units.most_common(1)[0]
    n_train = len(train)
    labelled = [i for i in test if units[i]]
    top1 = top3 = base_major = 0
    base_random = 0.0
    sims = []
    for i in labelled:
        hits = index.query(docs[i], top=3)
        got = [units[j] for j, _ in hits]
        top1 += bool(got) and got[0] == units[i]
        top3 += units[i] in got
        base_major += units[i] == majority
        base_random += sum(1 for j in train if units[j] == units[i]) / n_train
        if hits:
            sims.append(hits[0][1])
    n = len(labelled)
    return {
        "messages": len(rows), "indexed": n_train, "held_out": len(test), "held_out_with_unit": n,
        "coverage": sum(1 for u in units if u) / len(units), "distinct_units": len(train_units),
        "top1": top1 / n, "top3": top3 / n, "majority": base_major / n, "majority_unit": majority,
        "majority_share": majority_n / sum(train_units.values()), "random": base_random / n,
        "median_top_similarity": statistics.median(sims) if sims else 0.0,
    }


JUDGED = Path(__file__).with_name("judged_top1.csv")


def judged(held) -> dict:
    """Share of hand-judged top suggestions that are about the same kind of problem, counted only
    where today's index still gives the suggestion that was judged (a changed index leaves the
    rest unjudged, and says how many)."""
    with JUDGED.open(encoding="utf-8") as f:
        marks = list(csv.DictReader(line for line in f if not line.startswith("#")))
    docs, _test, _train, index = held
    same = relevant = 0
    for m in marks:
        hits = index.query(docs[int(m["query_row"])], top=1)
        if hits and hits[0][0] == int(m["suggested_row"]):
            same += 1
            relevant += m["relevant"] == "1"
    return {"judged": len(marks), "still_same": same, "relevant": relevant}


def speed(rows: list[dict[str, str]], sizes: list[int], queries: int = 50) -> list[dict]:
    from analysis.normalize import normalize_text
    from ledger.messages.suggest import ReplyIndex, document

    base = [normalize_text(document(r["留言主题"], r["留言详情"])) for r in rows]
    qs = [base[i] for i in range(0, len(base), max(1, len(base) // queries))][:queries]
    out = []
    for n in sizes:
        docs = [base[i % len(base)] + ("" if i < len(base) else f" 编号{i}") for i in range(n)]
        t0 = time.perf_counter()
        index = ReplyIndex()
        index.add(list(range(n)), docs)  # as refresh() adds what it read
        index.query(qs[0], top=3)  # the first query weights the matrix
        build = time.perf_counter() - t0
        times = []
        for q in qs:
            t0 = time.perf_counter()
            index.query(q, top=3)
            times.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        index.add(list(range(n, n + 100)), docs[:100])
        index.query(qs[0], top=3)
        grow = time.perf_counter() - t0
        times.sort()
        out.append({"n": n, "build_s": build, "add100_query_ms": grow * 1000,
                    "query_p50_ms": statistics.median(times), "query_p95_ms": times[int(0.95 * (len(times) - 1))]})
        print(out[-1], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA / "hotline_replies.csv")
    ap.add_argument("--max-rows", type=int, default=100_000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not args.data.exists():
        raise SystemExit(f"data not found: {args.data}")
    ref_before = machine_reference()
    rows = load(args.data)
    held = held_out_index(rows)
    q = quality(rows, held)
    print(q, flush=True)
    j = judged(held)
    print(j, flush=True)
    sizes = [n for n in (len(rows), 10_000, 30_000, 100_000) if n <= args.max_rows]
    s = speed(rows, sizes)
    ref = (ref_before + machine_reference()) / 2
    lines = [
        ("Reply suggestions (`yuqing messages suggest`, the panel beside the reply box in 留言办理): the answered "
        "messages most similar to a new one, by cosine similarity of TF-IDF vectors over hashed character 1–2-grams "
        "of title and text (`ledger/messages/suggest.py`)."),
        "",
        (f"Quality on `hotline_replies.csv` ({q['messages']:,} answered messages; the export has no unit column). The "
        "replying unit is read from each reply's text (`analysis/replyunit.py`: the signing unit, else the last unit "
        f"the reply names, locality codes such as A7县 dropped): it names one in {q['coverage']:.0%} of replies, "
        f"{q['distinct_units']:,} distinct units among the indexed ones. Every fifth message is held out "
        f"({q['held_out']:,}; {q['held_out_with_unit']:,} of them with a unit), the other {q['indexed']:,} indexed."),
        "",
        "| measure on held-out messages | rate |",
        "|---|---:|",
        f"| top suggestion's reply names the same unit (top-1) | **{q['top1']:.1%}** |",
        f"| one of the top three does (top-3) | {q['top3']:.1%} |",
        (f"| baseline: always the most common unit ({q['majority_unit']}, {q['majority_share']:.1%} of indexed replies) "
        f"| {q['majority']:.1%} |"),
        f"| baseline: a random indexed reply (expected) | {q['random']:.1%} |",
        "",
        (f"Median cosine similarity of the top suggestion: {q['median_top_similarity']:.2f}. Weak points: the unit read "
        "from a reply is a heuristic (a reply may name a unit it forwarded to, or several), and similar messages "
        "answered by a different level of government count as misses. The unit is a poor measure of whether a "
        "suggestion helps: 1,000 and more distinct units among some 2,000 replies, and a department classed by "
        "keywords (教育 / 住建 / 交通 / 城管 / 街道 …) of the top suggestion's unit matched no more often than always "
        "guessing the most common class (26 % both, a scratch check)."),
        "",
        (f"Hand-judged relevance (`bench/suggest/judged_top1.csv`, our own judgments, no text): for {j['judged']} "
        "held-out messages drawn at random, is the top suggestion about the same kind of problem, so that its reply "
        f"is a useful start? With today's index {j['still_same']} of them get the suggestion that was judged; "
        f"**{j['relevant']} of those {j['still_same']}** were judged relevant (e.g. 小升初 → 小升初, 酒吧扰民 → 酒吧噪音扰民, "
        "拖欠工资 → 拖欠工资); the misses share a place rather than a problem (the same 社区 with another complaint) or "
        "only generic words (投诉, 问题)."),
        "",
        ("Speed (one process, the real messages repeated with a distinct suffix to reach N; wall times on the shared "
        "machine, whose load during the run the reference below shows):"),
        "",
        "| answered messages | build (s) | add 100 and re-weight (ms) | query p50 (ms) | query p95 (ms) |",
        "|---:|---:|---:|---:|---:|",
        *[(f"| {r['n']:,} | {r['build_s']:.1f} | {r['add100_query_ms']:.0f} | {r['query_p50_ms']:.1f} | "
           f"{r['query_p95_ms']:.1f} |") for r in s],
        "",
        ("A command (`yuqing messages suggest`) builds the index once per call; the dashboard keeps one per process and "
        "adds only the messages answered since (one query for the ids of answered messages, then their title and "
        "text)."),
        "",
        reference_note(ref),
        "",
        "Reproduce: `python bench/suggest/run.py` (`--max-rows N`, `--no-write`).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("Reply suggestions", body)


if __name__ == "__main__":
    main()
