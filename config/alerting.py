"""Alert steps plugged into ``tick``: run inside the tick transaction, and after its commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from config.settings import Settings
from ledger.alerts import notify
from ledger.posts.intake import add_new_post_hook

if TYPE_CHECKING:
    from ledger.alerts.escalation import AlertContext
    from ledger.alerts.outbox import DeliveryReport, OutboxPolicy

# hook(session, tick_report, now, settings): runs in the tick's transaction (alerts from clock changes,
# escalation steps). The report is whatever ``ledger.clocks.tick.run_tick`` returned.
TickHook = Callable[[Session, Any, datetime, Settings], None]
# hook(engine, settings, now): runs after the tick committed (outbox delivery).
AfterCommitHook = Callable[[Engine, Settings, datetime], None]

TICK_HOOKS: list[TickHook] = []
AFTER_COMMIT_HOOKS: list[AfterCommitHook] = []


# ---------------------------------------------------------------------------- alert hooks
def alert_context(settings: Settings) -> AlertContext:
    """The alert context for these settings: escalation.toml, YUQING_ALERT_URLS, the secret key."""
    from zoneinfo import ZoneInfo

    from config.loader import load_toml
    from ledger.alerts.escalation import AlertContext, EscalationPolicy

    return AlertContext(
        policy=EscalationPolicy.from_dict(load_toml("escalation.toml", settings)),
        always_urls=tuple(settings.alert_urls),
        secret_key=settings.secret_key,
        base_url=settings.public_base_url,
        tz=ZoneInfo(settings.timezone),
        ack_max_age_seconds=settings.ack_link_max_age_hours * 3600,
    )


def outbox_policy(settings: Settings) -> OutboxPolicy:
    from ledger.alerts.outbox import OutboxPolicy

    return OutboxPolicy(
        lease_seconds=settings.outbox_lease_seconds, max_attempts=settings.outbox_max_attempts,
        backoff_seconds=settings.outbox_backoff_seconds, backoff_max_seconds=settings.outbox_backoff_max_seconds,
    )


def _clock_changes(report: Any) -> list[Any]:
    for name in ("clock_changes", "changes", "clocks"):
        value = getattr(report, name, None)
        if isinstance(value, list | tuple):
            return list(value)
    return []


def raise_tick_alerts(session: Session, report: Any, now: datetime, settings: Settings) -> None:
    """Tick hook: alerts from the tick's clock changes, sensitive posts, sources down and the
    holiday calendar; then the escalation steps due at ``now``."""
    from config.clockconfig import load_calendar
    from config.loader import load_toml
    from ledger.alerts import triggers as trig
    from ledger.alerts.escalation import raise_signals, run_escalations

    ctx = alert_context(settings)
    try:
        rules = load_toml("rules.toml", settings).get("rules", [])
    except ValueError:  # a broken rules.toml must not stop clock alerts
        rules = []
    try:
        calendar = getattr(report, "calendar", None) or load_calendar(settings)
    except ValueError:  # a broken holidays.toml: no calendar reminder this tick
        calendar = None
    trig.resolve_closed_cases(session, now=now)
    trig.resolve_quiet_post_alerts(session, now=now, ctx=ctx)
    signals = trig.clock_signals(session, _clock_changes(report), ctx=ctx)
    signals += trig.commitment_signals(session, getattr(report, "commitments_overdue", None) or [], ctx=ctx)
    signals += trig.post_signals(session, now=now, ctx=ctx, rules=rules)
    signals += trig.source_signals(session, now=now, ctx=ctx)
    signals += trig.message_signals(session, now=now, ctx=ctx)
    signals += trig.calendar_signals(session, now=now, ctx=ctx, calendar=calendar)
    raise_signals(session, signals, now=now, ctx=ctx)
    run_escalations(session, now=now, ctx=ctx)


def deliver_outbox(engine: Engine, settings: Settings, now: datetime) -> DeliveryReport:
    """After-commit hook: deliver every notification due at ``now``."""
    from ledger.alerts.outbox import deliver_due

    return deliver_due(engine, now=now, policy=outbox_policy(settings), destinations=configured_destinations(settings))


def configured_destinations(settings: Settings) -> list[str]:
    """Every apprise URL configured in settings and escalation.toml (what outbox references resolve to)."""
    from config.loader import load_toml

    urls = list(settings.alert_urls)
    try:
        dest = load_toml("escalation.toml", settings).get("destinations", {}) or {}
    except ValueError:
        dest = {}
    for table in dest.values():
        for value in (table or {}).values() if isinstance(table, dict) else ():
            urls.extend([value] if isinstance(value, str) else [u for u in value if isinstance(u, str)])
    return urls


def _context_from_env() -> AlertContext:
    from config.settings import get_settings

    return alert_context(get_settings())


def check_schemes(session: Session, *, posts, now: datetime) -> None:
    """Intake hook: match a batch of new posts against the enabled monitoring schemes and raise
    one alert per scheme per period (``YUQING_SCHEME_ALERT_PERIOD_MINUTES``) through the chain."""
    from config.settings import get_settings
    from ledger.alerts.schemes import raise_scheme_alerts
    from ledger.posts.schemes import match_posts

    hits = match_posts(session, posts=posts, now=now)
    if hits:
        settings = get_settings()
        raise_scheme_alerts(session, hits, now=now, period_minutes=settings.scheme_alert_period_minutes,
                            ctx=notify.context())


TICK_HOOKS.append(raise_tick_alerts)
AFTER_COMMIT_HOOKS.append(deliver_outbox)
notify.configure(_context_from_env)
add_new_post_hook(check_schemes)
