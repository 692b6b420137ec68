"""Alerts: who must hear about what, and making sure they do.

:mod:`ledger.alerts.triggers` turns clock changes, new cases and sensitive posts into signals;
:mod:`ledger.alerts.escalation` raises, groups, escalates, acknowledges and resolves alerts along
the policy of ``escalation.toml``; :mod:`ledger.alerts.duty` is the roster of people and shifts;
:mod:`ledger.alerts.outbox` delivers notifications with retries; :mod:`ledger.alerts.notify` is the
hook ledger services call in their own transaction. Alerts read clock and case tables but never
call case or clock services.
"""

from ledger.alerts.escalation import AlertContext, AlertError, EscalationPolicy, list_alerts
from ledger.alerts.outbox import deliver_due, safe_destination

__all__ = ["AlertContext", "AlertError", "EscalationPolicy", "deliver_due", "list_alerts", "safe_destination"]
