"""Alerts for monitoring schemes (监测方案): new posts that hit a scheme become one signal per
scheme per period, raised through the escalation chain to the scheme's unit.

The grouping key is ``scheme:<id>:<period start>``: the first hits of a period open the alert
(step 1 of its chain, and the scheme's unit through the trigger's ``also_to``); later hits of
the same period carry the same signal key and are not notified again. The matching itself
(one automaton over every scheme's terms) is :func:`ledger.posts.schemes.match_posts`; this
module only needs the schemes' plain data and the posts' ids and titles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from analysis.pii import mask
from ledger.alerts.escalation import AlertContext, Signal, raise_signals

SHOWN_POSTS = 5


def period_start(now: datetime, minutes: int) -> datetime:
    """Start of the ``minutes``-long period holding ``now`` (periods counted from the Unix epoch, UTC)."""
    if minutes <= 0:
        raise ValueError("period minutes must be > 0")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    step = timedelta(minutes=minutes)
    return epoch + ((now - epoch) // step) * step


def scheme_signals(hits: Mapping[Any, Sequence[Any]], *, now: datetime, period_minutes: int,
                   ctx: AlertContext) -> list[Signal]:
    """One ``scheme_hit`` signal per scheme with hits (``hits``: scheme spec → posts)."""
    start = period_start(now, period_minutes)
    stamp = start.strftime("%Y%m%d%H%M")
    local = start.astimezone(ctx.tz)
    out = []
    for spec, posts in hits.items():
        if not posts:
            continue
        group = f"scheme:{spec.id}:{stamp}"
        shown = [f"- [{p.id}] {mask((p.title or p.text or '').replace(chr(10), ' '))[:80]}" for p in posts[:SHOWN_POSTS]]
        more = f"\n（另有 {len(posts) - SHOWN_POSTS} 条）" if len(posts) > SHOWN_POSTS else ""
        text = (f"监测方案「{spec.name}」（{spec.expression()}）自 {local.month}月{local.day}日 "
                f"{local:%H:%M} 起命中新帖文 {len(posts)} 条：\n" + "\n".join(shown) + more)
        out.append(Signal(kind="scheme_hit", group_key=group, key=f"{group}:hit",
                          title=f"监测方案「{spec.name}」有新命中", text=text, grade=spec.grade,
                          subject="scheme", subject_id=spec.id, unit=spec.unit))
    return out


def raise_scheme_alerts(session: Session, hits: Mapping[Any, Sequence[Any]], *, now: datetime,
                        period_minutes: int, ctx: AlertContext, actor: str = "system") -> int:
    """Raise the alerts of ``hits`` in ``session`` (outbox in the same transaction); returns how
    many alerts were opened or notified."""
    signals = scheme_signals(hits, now=now, period_minutes=period_minutes, ctx=ctx)
    if not signals:
        return 0
    return len(raise_signals(session, signals, now=now, ctx=ctx, actor=actor))
