"""Notification hooks called by ledger services in the same transaction as the change that causes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session


def case_event(session: Session, *, case: Any, event: str, now: datetime, actor: str,
               detail: dict[str, Any] | None = None) -> None:
    """A case was opened, regraded, assigned, ... (``event`` like "opened", "regraded").

    Writes the notifications the alert rules require into the outbox, in ``session``.
    """
    return None
