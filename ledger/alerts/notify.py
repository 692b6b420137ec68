"""Notification hooks called by ledger services in the same transaction as the change that causes them.

The composition root registers how to build the alert context (policy, always-notified URLs,
secret key) with :func:`configure`; without it the built-in defaults apply (one step: on duty).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from ledger.alerts.escalation import AlertContext

_provider: Callable[[], AlertContext] | None = None


def configure(provider: Callable[[], AlertContext] | None) -> None:
    """Register the function giving the alert context (called lazily, at the first event)."""
    global _provider
    _provider = provider


def context() -> AlertContext:
    from ledger.alerts.escalation import AlertContext, EscalationPolicy

    if _provider is not None:
        return _provider()
    return AlertContext(policy=EscalationPolicy.from_dict({}))


def case_event(session: Session, *, case: Any, event: str, now: datetime, actor: str,
               detail: dict[str, Any] | None = None) -> None:
    """A case was opened, regraded, assigned, ... (``event`` like "opened", "regraded").

    Writes the notifications the alert rules require into the outbox, in ``session``: a case
    opened or regraded at 较大 or above starts (or feeds) the case's escalation chain, with the
    immediate leadership report for 重大 / 特别重大; a closed or archived case resolves it.
    """
    from ledger.alerts.escalation import raise_signals, resolve_group
    from ledger.alerts.triggers import case_signals

    if event == "status_changed" and (getattr(case, "closed_at", None) or getattr(case, "archived_at", None)):
        resolve_group(session, f"case:{case.id}", now=now, reason=f"台账已{getattr(case, 'status', '结案')}",
                      actor=actor)
        return
    ctx = context()
    signals = case_signals(case, event=event, detail=detail, ctx=ctx)
    if event in ("opened", "regraded"):  # clocks already overdue when entered late
        from ledger.alerts.triggers import clock_signals, overdue_clock_states

        session.flush()
        states = overdue_clock_states(session, subject="case", subject_id=case.id, now=now)
        signals += clock_signals(session, states, ctx=ctx)
    if signals:
        raise_signals(session, signals, now=now, ctx=ctx, actor=actor)


def clock_event(session: Session, *, changes: list[Any], now: datetime, actor: str) -> None:
    """Clocks of a subject other than a case (a policy document, a commitment) changed state as
    they were started or recorded (e.g. a document registered after its interpretation was due):
    raise the alerts the tick would have raised for those changes."""
    from ledger.alerts.escalation import raise_signals
    from ledger.alerts.triggers import clock_signals

    ctx = context()
    signals = clock_signals(session, changes, ctx=ctx)
    if signals:
        raise_signals(session, signals, now=now, ctx=ctx, actor=actor)
