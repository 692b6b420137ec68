"""Dashboard speed benchmark: generate a large ledger in a fresh PostgreSQL schema, time each page's
queries, print the table and write it to the "## Dashboard" section of docs/BENCHMARKS.md.

    python -m bench.dashboard.run --posts 1000000 --cases 10000
    python bench/dashboard/run.py --posts 20000 --cases 200 --no-write

Options: ``--pg-url`` (server URL, default the ``test`` database on 127.0.0.1), ``--keep`` (keep the
schema afterwards), ``--schema NAME --reuse`` (measure an existing schema again, no generation),
``--runs`` (loads per page), ``--only`` (page names, comma-separated).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script
    sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text

from bench.common import machine_reference, reference_note, write_section

DEFAULT_PG = os.environ.get("YUQING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECTION = "## Dashboard"


def schema_url(server_url: str, schema: str) -> str:
    sep = "&" if "?" in server_url else "?"
    return f"{server_url}{sep}options=-csearch_path%3D{schema}"


def create_schema(server_url: str, schema: str) -> str:
    admin = create_engine(server_url)
    try:
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        admin.dispose()
    return schema_url(server_url, schema)


def drop_schema(server_url: str, schema: str) -> None:
    admin = create_engine(server_url)
    try:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


def save_gen_info(server_url: str, schema: str, gen: dict) -> None:
    """Keep what was generated (counts, timings, now) as the schema's comment, for ``--reuse``."""
    admin = create_engine(server_url)
    try:
        with admin.begin() as c:
            payload = json.dumps(gen, ensure_ascii=False).replace("'", "''")
            c.execute(text(f"COMMENT ON SCHEMA \"{schema}\" IS '{payload}'"))
    finally:
        admin.dispose()


def read_gen_info(server_url: str, schema: str) -> dict | None:
    admin = create_engine(server_url)
    try:
        with admin.connect() as c:
            raw = c.execute(text("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :s"),
                            {"s": schema}).scalar()
    finally:
        admin.dispose()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def render(results, *, gen: dict | None, args, server_version: str, loads: tuple = (),
           baseline: dict | None = None, largest_event: int = 0, reference_ms: float | None = None) -> str:
    counts = (gen or {}).get("counts", {})
    timings = (gen or {}).get("timings", {})
    lines = [SECTION, ""]
    lines.append(
        "Each dashboard page's database work timed as the page does it (the same functions with the same "
        "arguments, inside the same sessions, including building the row dicts; Streamlit rendering not "
        "included), on a generated ledger in PostgreSQL. Each load varies what users vary: role and unit, "
        "the 台账 filters (status, grade, unit, category, 7–90 days), the case or event opened, the week "
        "exported, the number of posts shown. One unmeasured warm-up load per page; 统计 uses the default "
        "30-day range and is timed without the page's 60-second cache.")
    lines.append("")
    if counts:
        lines.append(
            f"Data: {counts.get('post', 0):,} posts from {counts.get('source', 0)} sources over 90 days "
            f"({counts.get('post_with_event', 0):,} in {counts.get('event_live', 0):,} events of "
            f"{counts.get('event', 0):,}, the largest with {largest_event:,} posts; "
            f"{counts.get('post_duplicates', 0):,} duplicates; "
            f"{counts.get('post_flagged', 0):,} at or above the flag threshold), {counts.get('ledger_case', 0):,} "
            f"cases with {counts.get('clock_case_and_commitment', 0):,} case and commitment clocks, "
            f"{counts.get('release', 0):,} releases ({counts.get('release_review', 0):,} review steps), "
            f"{counts.get('commitment', 0):,} commitments, {counts.get('audit_log', 0):,} audit entries, "
            f"{counts.get('message', 0):,} messages with {counts.get('clock_message', 0):,} reply clocks, "
            f"{counts.get('alert', 0):,} alerts ({counts.get('alert_open', 0)} open), "
            f"{counts.get('duty_shift', 0)} duty shifts.")
        lines.append("")
        lines.append(
            f"Generation (COPY into a migrated schema, then VACUUM ANALYZE): {timings.get('total', 0):.0f} s in all — "
            + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items() if k != "total") + ".")
        lines.append("")
    load = ", ".join(f"{x:.1f}" for x in loads)
    lines.append(f"Machine: 2 cores shared with other jobs (load average {load} before / after the timing), "
                 f"{platform.python_implementation()} {platform.python_version()}, {server_version} (default "
                 f"settings, shared_buffers 128 MB), client and server on the same host; {args.runs} loads per "
                 "page. p95 by nearest rank: with few loads it is close to the slowest, and a load that waited "
                 "for the CPU shows in it."
                 + (" " + reference_note(reference_ms) if reference_ms else ""))
    lines.append("")
    before = {r["page"]: r for r in (baseline or {}).get("results", [])}
    head = "| page | loads | SQL statements / load | p50 ms | p95 ms | max ms | p95 ≤ 300 ms | slowest query (p95 ms) |"
    rule = "|---|---:|---:|---:|---:|---:|:---:|---|"
    if before:
        head += " p95 ms before |"
        rule += "---:|"
    lines += [head, rule]
    for r in results:
        slow = max(r.queries.items(), key=lambda kv: kv[1][1]) if r.queries else ("—", (0, 0, 0))
        row = (f"| {r.page} | {r.runs} | {r.statements:,} | {r.p50:.1f} | {r.p95:.1f} | {r.max:.1f} | "
               f"{'yes' if r.ok else '**no**'} | {slow[0]} ({slow[1][1]:.1f}) |")
        if before:
            b = before.get(r.page)
            row += f" {b['p95']:.1f} |" if b else " — |"
        lines.append(row)
    lines.append("")
    if before:
        lines.append("\"before\": " + (getattr(args, "baseline_note", None) or
                                       "an earlier run on the same data with the same loads (`--baseline`)."))
        lines.append("")
    lines.append("For these pages: the indexes of `ledger/migrations/versions/0007_dashboard_indexes.py`; "
                 "`flag_counts` counts category / topic names in PostgreSQL (over `jsonb`) instead of shipping "
                 "5,000 JSON lists to Python; `posts_per_day_sql` counts one fetch-time index range per "
                 "Asia/Shanghai day instead of computing a day for every post; `event_case_facts` reads only "
                 "the columns it uses; `collect_week` (导出) reads the week's clocks from the covering index of "
                 "`0008_export_clock_index` (index-only scan instead of a scan of the clock table), reads only "
                 "the releases of the week and has the database count each case's briefings, referrals, posts "
                 "and publications, runs its six selects through the driver with the binary protocol on two "
                 "connections in two helper threads (the server answers two queries at once while the page "
                 "builds rows from those already read; a session with uncommitted changes of its own reads "
                 "everything itself), masks personal numbers with one scan over all texts "
                 "(`analysis.pii.mask_many`), holds the cyclic garbage collector while it builds some 30,000 "
                 "row dicts and frees the rows read before it runs again, and PostgreSQL sessions run in UTC "
                 "so timestamps need no conversion per value.")
    lines.append("The 导出 page itself runs no query when it opens: it offers the files the Monday 08:00 job "
                 "(or an earlier 生成) wrote for the chosen week. Its row times the database part of the 生成 "
                 "button (`collect_week`: every case active in the week with its clocks, releases and "
                 "commitments, and the week's messages), which then spends seconds writing the xlsx and docx.")
    lines.append("")
    over = [r for r in results if not r.ok]
    if over:
        lines.append("Over the budget: " + "; ".join(
            f"{r.page} (" + ", ".join(f"{q} p50 {v[0]:.0f} / p95 {v[1]:.0f} ms"
                                     for q, v in sorted(r.queries.items(), key=lambda kv: -kv[1][1])[:3]) + ")"
            for r in over) + ".")
        lines.append("")
    lines.append(f"Reproduce: `python -m bench.dashboard.run --posts {args.posts} --cases {args.cases}` "
                 "(`--keep` keeps the schema; `--schema NAME --reuse` measures it again).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench.dashboard.generate import Gen
    from bench.dashboard.measure import data_now, run_pages
    from ledger.migrate import upgrade

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--posts", type=int, default=1_000_000)
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL server URL (a schema is created in it)")
    p.add_argument("--keep", action="store_true", help="keep the generated schema")
    p.add_argument("--schema", help="schema name (default: a new bench_dash_<random>)")
    p.add_argument("--reuse", action="store_true", help="measure an existing --schema without generating")
    p.add_argument("--runs", type=int, default=40)
    p.add_argument("--only", help="comma-separated page functions (onduty,events,cases_list,...)")
    p.add_argument("--no-write", action="store_true", help="do not write docs/BENCHMARKS.md")
    p.add_argument("--json", help="also write the raw results to this file")
    p.add_argument("--baseline", help="results of an earlier run (--json file) to show its p95 beside")
    p.add_argument("--baseline-note", help="what the --baseline run was (written under the table)")
    args = p.parse_args(argv)
    if args.reuse and not args.schema:
        p.error("--reuse needs --schema")
    schema = args.schema or f"bench_dash_{uuid.uuid4().hex[:8]}"
    gen = None
    keep = args.keep or args.reuse
    try:
        if args.reuse:
            url = schema_url(args.pg_url, schema)
            upgrade(url)  # new indexes of later migrations
            gen = read_gen_info(args.pg_url, schema)
            now = datetime.fromisoformat(gen["now"]) if gen else data_now(url)
            print(f"reusing schema {schema}, now = {now.isoformat()}")
        else:
            url = create_schema(args.pg_url, schema)
            upgrade(url)
            now = datetime.now(UTC).replace(microsecond=0)
            print(f"generating {args.posts:,} posts and {args.cases:,} cases into schema {schema} ...")
            gen = Gen(url, posts=args.posts, cases=args.cases, now=now).run()
            print(f"generated in {gen['timings']['total']} s: {json.dumps(gen['counts'], ensure_ascii=False)}")
            save_gen_info(args.pg_url, schema, gen)
        engine = create_engine(url)
        with engine.connect() as c:
            server = "PostgreSQL " + c.execute(text("SHOW server_version")).scalar_one().split()[0]
            largest = c.execute(text("SELECT max(posts) FROM event")).scalar() or 0
        engine.dispose()
        load_before = os.getloadavg()[0]
        reference = machine_reference()
        t0 = time.perf_counter()
        results = run_pages(url, now=now, runs=args.runs, only=set(args.only.split(",")) if args.only else None)
        print(f"measured in {time.perf_counter() - t0:.0f} s")
        loads = (load_before, os.getloadavg()[0])
    finally:
        if not keep:
            drop_schema(args.pg_url, schema)
        else:
            print(f"schema kept: {schema}")
    baseline = json.loads(Path(args.baseline).read_text(encoding="utf-8")) if args.baseline else None
    section = render(results, gen=gen, args=args, server_version=server, loads=loads, baseline=baseline,
                     largest_event=largest, reference_ms=reference)
    print(section)
    if args.json:
        Path(args.json).write_text(json.dumps({"gen": gen, "results": [r.__dict__ for r in results]},
                                              ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    if not args.no_write and gen is not None:
        write_section("Dashboard", section.removeprefix(SECTION).lstrip("\n"))
        print("written to docs/BENCHMARKS.md")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
