"""Alert steps plugged into ``tick``: run inside the tick transaction, and after its commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from config.settings import Settings

# hook(session, tick_report, now, settings): runs in the tick's transaction (alerts from clock changes,
# escalation steps). The report is whatever ``ledger.tick.run_tick`` returned.
TickHook = Callable[[Session, Any, datetime, Settings], None]
# hook(engine, settings, now): runs after the tick committed (outbox delivery).
AfterCommitHook = Callable[[Engine, Settings, datetime], None]

TICK_HOOKS: list[TickHook] = []
AFTER_COMMIT_HOOKS: list[AfterCommitHook] = []
