"""Helpers shared by the benchmark scripts: replacing one section of docs/BENCHMARKS.md, and a
fixed reference workload that says how fast the machine was during a run.

Machines of the same kind differ from day to day (a 2-core virtual machine shares its host), so
a rate is only comparable with another taken on an equally fast machine. ``machine_reference``
times the same pure-Python work every run; the benchmarks print it beside their figures."""

from __future__ import annotations

import re
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"


def write_section(heading: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace the ``## heading`` section of ``path`` with ``body`` (append it when absent);
    every other section is kept as it is."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"## {heading}\n\n" + body.strip() + "\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def _reference_work() -> int:
    """A fixed mix of what the ingest path does most: dict look-ups, string slicing and joining,
    integer arithmetic (no I/O, no allocation that grows)."""
    table = {f"k{i}": i for i in range(4096)}
    text = "新冠肺炎疫情防控工作领导小组发布通告" * 8
    acc = 0
    for i in range(400_000):
        acc += table.get(f"k{i & 4095}", 0)
        acc ^= len(text[i % 50 : i % 50 + 12]) * (i & 7)
    return acc


def machine_reference(repeats: int = 3) -> float:
    """CPU milliseconds of the reference workload, best of ``repeats`` (lower: a faster machine)."""
    best = float("inf")
    for _ in range(repeats):
        c = time.process_time()
        _reference_work()
        best = min(best, time.process_time() - c)
    return best * 1000.0


def reference_note(ms: float, detail: str = "") -> str:
    """The sentence that goes under a benchmark's figures (``detail``: e.g. before / after)."""
    return (f"Machine speed during the run: the fixed reference workload of `bench/common.py` took "
            f"{ms:,.0f} ms CPU{f' ({detail})' if detail else ''}; lower is faster, and rates measured on "
            "machines whose reference differs are not directly comparable.")
