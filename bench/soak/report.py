"""The soak benchmark's verdict and its section of docs/BENCHMARKS.md (table and chart)."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import BENCHMARKS, write_section

CHART = BENCHMARKS.parent / "soak.png"


# the service's own memory report (config.memory), sampled from its status file: key, label
PARTS = (("mem_malloc_used", "malloc in use MB"), ("mem_malloc_free", "malloc free-but-held MB"),
         ("mem_sqlite", "SQLite MB"), ("mem_python_blocks", "Python blocks (thousands)"),
         ("mem_compiled_cache", "compiled statements"), ("mem_rss_anon", "RSS anonymous MB"),
         ("mem_rss_file", "RSS file-backed MB"))


def _val(r: dict, key: str) -> str:
    v = r.get(key)
    return "—" if v in (None, "") else str(v)


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 when fewer than two points)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def _at(samples: list[dict], minute: float) -> dict:
    """The sample nearest to ``minute``."""
    return min(samples, key=lambda r: abs(r["minute"] - minute))


def summarise(samples: list[dict], *, warmup_minutes: float, errors: list[str], office: Any,
              clean_stop: bool) -> dict[str, Any]:
    if not samples:
        return {"text": "no samples", "ok": False}
    last = samples[-1]
    after = [r for r in samples if r["minute"] >= warmup_minutes] or samples
    xs = [r["minute"] / 60 for r in after]
    slope = _slope(xs, [r["rss_mb"] for r in after])
    start = after[0]
    tick_first = [r["tick_s"] for r in samples[: max(1, len(samples) // 6)] if r["tick_s"] is not None]
    tick_last = [r["tick_s"] for r in samples[-max(1, len(samples) // 6):] if r["tick_s"] is not None]
    wait_first = [r["crawl_wait_s"] for r in samples[: max(1, len(samples) // 6)] if r["crawl_wait_s"] is not None]
    wait_last = [r["crawl_wait_s"] for r in samples[-max(1, len(samples) // 6):] if r["crawl_wait_s"] is not None]

    def avg(v: list[float]) -> float | None:
        return round(sum(v) / len(v), 3) if v else None

    s = {
        "ok": clean_stop and not errors,
        "minutes": last["minute"],
        "rss_start": start["rss_mb"], "rss_end": last["rss_mb"], "rss_max": max(r["rss_mb"] for r in after),
        "rss_slope_mb_per_h": round(slope, 2), "warmup": warmup_minutes,
        "rss_m4": _at(samples, 4)["rss_mb"], "rss_m9": _at(samples, 9)["rss_mb"],
        "fds_start": start["fds"], "fds_end": last["fds"], "threads_end": last["threads"],
        "tick_first": avg(tick_first), "tick_last": avg(tick_last),
        "wait_first": avg(wait_first), "wait_last": avg(wait_last),
        "posts": last["posts"], "db_mb": last["db_mb"], "webhook": last["webhook"],
        "backlog_max": max(r["outbox_backlog"] for r in samples), "errors": errors[:20], "n_errors": len(errors),
        "opened": office.opened, "closed": office.closed, "imports": office.imports,
        "office_failures": office.failures[:10], "clean_stop": clean_stop,
    }
    parts = {}
    for key, label in PARTS:
        pts = [(r["minute"] / 60, r[key]) for r in after if r.get(key) not in (None, "")]
        if len(pts) >= 2:
            ys = [float(y) for _, y in pts]
            parts[key] = {"label": label, "start": ys[0], "end": ys[-1],
                          "slope": round(_slope([x for x, _ in pts], ys), 2) + 0.0}  # no "-0"
    s["parts"] = parts
    s["text"] = (
        f"soak {s['minutes']:.0f} min: RSS {s['rss_start']} → {s['rss_end']} MB after {warmup_minutes:.0f} min warm-up "
        f"(max {s['rss_max']}, slope {s['rss_slope_mb_per_h']} MB/h; minute 4 {s['rss_m4']}, minute 9 {s['rss_m9']}); "
        f"fds {s['fds_start']} → {s['fds_end']}; tick {s['tick_first']} → {s['tick_last']} s; "
        f"crawl wait {s['wait_first']} → {s['wait_last']} s; posts {s['posts']}, db {s['db_mb']} MB, "
        f"webhook {s['webhook']}, outbox backlog max {s['backlog_max']}; cases {s['opened']} opened / "
        f"{s['closed']} closed, imports {s['imports']}; errors {s['n_errors']}, clean stop {clean_stop}; "
        f"office CLI failures {len(office.failures)}"
        + "".join(f"; {p['label']} {p['start']:g} → {p['end']:g} ({p['slope']:+g}/h)" for p in parts.values()))
    return s


def _chart(samples: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r["minute"] for r in samples]
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    axes[0].plot(minutes, [r["rss_mb"] for r in samples], label="scheduler RSS (MB)")
    for key, label in PARTS[:3]:
        if any(r.get(key) not in (None, "") for r in samples):
            axes[0].plot(minutes, [float(r[key]) if r.get(key) not in (None, "") else float("nan") for r in samples],
                         label=label)
    axes[0].set_ylabel("MB")
    axes[0].legend(loc="lower right")
    axes[1].plot(minutes, [r["tick_s"] or 0 for r in samples], label="tick (s)")
    axes[1].plot(minutes, [r["crawl_s"] or 0 for r in samples], label="crawl (s)")
    axes[1].plot(minutes, [r["crawl_wait_s"] or 0 for r in samples], label="crawl wait (s)")
    axes[1].set_ylabel("s")
    axes[1].legend(loc="upper left")
    axes[2].plot(minutes, [r["posts"] / 1000 for r in samples], label="posts (thousands)")
    axes[2].plot(minutes, [r["db_mb"] for r in samples], label="database (MB)")
    axes[2].plot(minutes, [r["fds"] for r in samples], label="open fds")
    axes[2].set_xlabel("minute")
    axes[2].legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _parts_lines(s: dict[str, Any]) -> str:
    """Bullet lines for the memory parts the service reported (after the warm-up)."""
    lines = [f"  {p['label']}: {p['start']:g} → {p['end']:g}, slope {p['slope']:+g} per hour" for p in s["parts"].values()]
    return ("- Where the memory is (the service's own report, after the warm-up):\n" + "\n".join(f"{x};" for x in lines)[:-1]
            + ".\n") if lines else ""


def write_docs(samples: list[dict], s: dict[str, Any], *, minutes: float) -> None:
    _chart(samples, CHART)
    step = max(1, round(len(samples) / 13))
    rows = samples[::step]
    if rows[-1] is not samples[-1]:
        rows.append(samples[-1])
    table = [("| minute | RSS MB | malloc in use MB | malloc free MB | SQLite MB | crawl children | fds | threads "
              "| tick s | crawl s | crawl wait s | outbox backlog | database MB | posts | webhook calls |"),
             "|" + "---:|" * 15]
    for r in rows:
        table.append(f"| {r['minute']:.0f} | {r['rss_mb']} | {_val(r, 'mem_malloc_used')} | {_val(r, 'mem_malloc_free')} "
                     f"| {_val(r, 'mem_sqlite')} | {r['children']} | {r['fds']} | {r['threads']} "
                     f"| {r['tick_s'] if r['tick_s'] is not None else '—'} | {r['crawl_s'] if r['crawl_s'] is not None else '—'} "
                     f"| {r['crawl_wait_s'] if r['crawl_wait_s'] is not None else '—'} | {r['outbox_backlog']} "
                     f"| {r['db_mb']} | {r['posts']} | {r['webhook']} |")
    body = f"""Command: `python bench/soak/run.py --minutes {minutes:g}` (SQLite; {datetime.now(UTC):%Y-%m-%d}, {platform.machine()},
{__import__('os').cpu_count()} cores). `yuqing run` against a local RSS feed gaining 50 posts every 10 s and a
JSON API gaining one entry every 20 s (both polled by the service's crawls), a hotline export imported
every hour, a 较大 case opened every 5 minutes and an older one closed through the release workflow,
alerts delivered to a local webhook through the duty roster. Samples every 30 s; the table shows
every {step * 0.5:g} minutes; RSS is the scheduler process (crawls, ticks and the weekly export run in child
processes that exit); tick s is the pass inside its child process (`took_s`), waits for a crawl's write included.

Result: {s['minutes']:.0f} minutes, {s['posts']} posts, {s['n_errors']} errors in the log, clean stop on SIGTERM: {s['clean_stop']}.
- Memory after {s['warmup']:.0f} minutes of warm-up: {s['rss_start']} MB → {s['rss_end']} MB (max {s['rss_max']} MB),
  least-squares slope **{s['rss_slope_mb_per_h']} MB per hour**. Minute 4: {s['rss_m4']} MB, minute 9: {s['rss_m9']} MB.
{_parts_lines(s)}- Tick: {s['tick_first']} s on average in the first sixth of the run, {s['tick_last']} s in the last.
- Crawl wait for a free crawl slot: {s['wait_first']} s → {s['wait_last']} s.
- Open file descriptors {s['fds_start']} → {s['fds_end']}; outbox backlog at most {s['backlog_max']};
  {s['webhook']} webhook deliveries; {s['opened']} cases opened, {s['closed']} closed; {s['imports']} imports.

![soak chart](soak.png)

{chr(10).join(table)}
"""
    write_section("Soak: the service over hours", body)
