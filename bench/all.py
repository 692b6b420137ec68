"""Run every benchmark in turn (``make bench``); each writes its own section of docs/BENCHMARKS.md.

Usage: python -m bench.all [NAME ...]   (names: the folders of bench/, default all of them)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ("classify", "rules", "events", "ingest", "crawl", "clocks", "cases", "alerts", "dashboard")


def main(argv: list[str]) -> int:
    names = argv or [n for n in ORDER if (HERE / n / "run.py").is_file()]
    failed = []
    for name in names:
        script = HERE / name / "run.py"
        if not script.is_file():
            print(f"no benchmark named {name!r}", file=sys.stderr)
            failed.append(name)
            continue
        print(f"== bench/{name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"== bench/{name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
