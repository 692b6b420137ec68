"""Micro-benchmark of the rule-based assessment (categories, topics, severity, jurisdiction, disposal).

Times, per post, the one-pass term scan alone and the whole rule assessment (everything the
Assessor does except sentiment and PII), over the first N posts of a Weibo stream day, with the
shipped rules.toml and units.toml. Prints the figures and writes a "## Rules" section into
docs/BENCHMARKS.md (other sections are kept).

    python bench/rules/run.py [--data ../shared/data/weibo_stream/2020-01-24.csv] [--limit 20000]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from analysis.assess import Assessor
from analysis.normalize import normalize_text
from bench.common import write_section  # noqa: E402
from config.settings import get_settings
from config.wiring import load_gazetteer, load_rule_config

SHARED = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_DATA = SHARED / "weibo_stream" / "2020-01-24.csv"
BUDGET_US = 100.0


def load_texts(path: Path, limit: int) -> list[str]:
    texts = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(normalize_text(row.get("text") or ""))
            if len(texts) >= limit:
                break
    return texts


def timed(runs: int, fn) -> tuple[float, float]:
    """Median CPU seconds and median wall seconds of ``runs`` calls (CPU time is what this process
    used: other jobs sharing the machine inflate wall time, not CPU time)."""
    cpu, wall = [], []
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = ap.parse_args()
    if not args.data.is_file():
        sys.exit(f"数据文件不存在: {args.data}")

    texts = load_texts(args.data, args.limit)
    n = len(texts)
    settings = get_settings()
    t0 = time.perf_counter()
    rules, units = load_rule_config(settings), load_gazetteer(settings)
    assessor = Assessor(sentiment=_NoSentiment(), rules=rules, units=units)
    build_ms = (time.perf_counter() - t0) * 1000
    scan = assessor.index.scan
    rule_part = assessor.assess_rules

    def run_scan() -> None:
        for t in texts:
            scan(t)

    def run_rules() -> None:
        for t in texts:
            rule_part(t, sentiment="negative", sentiment_score=0.2)

    run_rules()  # warm up
    scan_cpu, scan_wall = timed(args.runs, run_scan)
    rules_cpu, rules_wall = timed(args.runs, run_rules)
    scan_us, rules_us = scan_cpu / n * 1e6, rules_cpu / n * 1e6
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    flagged = Counter()
    for t in texts:
        a = rule_part(t, sentiment="negative", sentiment_score=0.2)
        flagged["categories"] += bool(a.categories)
        flagged["topics"] += bool(a.topics)
        flagged["jurisdiction"] += a.jurisdiction is not None
        flagged["disposal_type"] += a.disposal_type is not None
        flagged["rumour"] += a.rumour
    avg_chars = sum(map(len, texts)) / n

    intro = (
        "Rule assessment (categories, topics, severity, jurisdiction, disposal, rumour) with the "
        f"shipped `rules.toml` ({len(rules.rules.rules)} rules) and `units.toml`; "
        f"{len(assessor.index.terms)} terms in one Aho-Corasick automaton (pyahocorasick), "
        "scanned once per post. Sentiment and PII are not included."
    )
    data = (
        f"Data: first {n:,} posts of `{args.data.name}` (Weibo stream, mean {avg_chars:.0f} "
        f"characters), normalised before timing; median of {args.runs} runs; "
        f"Python {platform.python_version()}, {platform.machine()}, one process."
    )
    load_note = (
        f"(Load average during the run: {load:.1f}; wall time grows with other jobs on the "
        "machine, CPU time much less.)"
    )
    verdict = "met" if rules_us <= BUDGET_US else "NOT met"
    budget = (
        f"Budget: ≤ {BUDGET_US:.0f} µs / post (so that ingest can reach 3,000 posts / s on "
        f"2 cores) — {verdict}. Compiling the rules and gazetteer: {build_ms:.0f} ms."
    )
    shares = ", ".join(f"{k} {v / n:.1%}" for k, v in flagged.items())
    lines = [
        intro,
        "",
        data,
        "",
        "| measure | CPU µs / post | posts / s per core | wall µs / post |",
        "|---|---:|---:|---:|",
        f"| term scan only | {scan_us:.1f} | {1e6 / scan_us:,.0f} | {scan_wall / n * 1e6:.1f} |",
        f"| whole rule assessment | {rules_us:.1f} | {1e6 / rules_us:,.0f} | {rules_wall / n * 1e6:.1f} |",
        "",
        load_note,
        "",
        budget,
        "",
        f"Posts flagged (the same run, sentiment fixed to negative): {shares}.",
        "",
        "Reproduce: `python bench/rules/run.py` (options `--data`, `--limit`, `--runs`).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("Rules", body)


class _NoSentiment:
    """Placeholder engine: the benchmark calls only the rule part of the Assessor."""

    name = "none"

    def predict(self, texts):  # pragma: no cover - never called here
        raise NotImplementedError


if __name__ == "__main__":
    main()
