"""The notification outbox: write notifications in the ledger's transaction, deliver them later
through apprise, with every attempt, error and retry recorded.

Why an outbox: the alert (or the case change behind it) and the notifications it requires are
committed together, so a crash can never leave a ledger change without its notification or a
notification for a change that was rolled back. Delivery runs afterwards (``deliver_due``, from
``tick`` and from ``yuqing alerts deliver``), one row at a time:

1. **claim** — in a short transaction, a compare-and-set ``UPDATE`` moves the row from ``pending``
   (or from ``sending`` whose lease ran out) to ``sending``, increments ``attempts`` and sets
   ``lease_until``; a delivery attempt row is written. Only one worker can win the update, so two
   workers running at once never send the same row.
2. **send** — outside any transaction, through apprise.
3. **settle** — right after the send, a second short transaction marks the row ``sent`` (or back to
   ``pending`` with ``next_attempt_at`` set by exponential back-off, or ``failed`` once
   ``max_attempts`` are used up) and closes the attempt row with its error.

Secrets at rest. A destination is an apprise URL, often with an SMTP password or a webhook token
in it. The outbox stores only a **reference** to it: ``ref:<sha256 prefix> <URL without
credentials>`` (:func:`destination_ref`). At delivery the reference is looked up among the
destinations configured now (``YUQING_ALERT_URLS``, ``[destinations]`` of escalation.toml, the
people's addresses in the roster, passed as ``destinations`` plus the people table); a
destination no longer configured fails with that reason. So neither the notification table nor a
backup of it holds a credential.

Crash analysis. A crash before the claim commits leaves the row ``pending``: the next run sends
it. A crash after the claim but before the send leaves it ``sending``; when the lease expires the
next run claims it again and sends it, once. The only window that can duplicate a message is a
crash after the remote side accepted it and before step 3 committed (milliseconds): the row is
re-sent after the lease expires. This is **at-least-once** delivery, chosen because losing an
escalation is worse than a repeated one; the unique ``idempotency_key`` is printed in every
message so that a duplicate is recognisable (and a receiver that stores keys can drop it). The
alternative, at-most-once (treat an expired lease as ``failed`` instead of retrying), would trade
that rare duplicate for a rare silent loss. Writing the same notification twice is impossible:
``idempotency_key`` is UNIQUE, and :func:`enqueue` skips a key that is already there.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ledger.db import session_scope
from ledger.models.alerts import DeliveryAttempt, Notification

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
STATUS_LABELS = {PENDING: "待发送", SENDING: "发送中", SENT: "已发送", FAILED: "发送失败"}


class DeliveryError(RuntimeError):
    """A destination refused or could not take a message (the text is recorded on the attempt)."""


@dataclass(frozen=True)
class OutboxPolicy:
    """How delivery behaves: lease length, retries and back-off (all from settings)."""

    lease_seconds: int = 300
    max_attempts: int = 6
    backoff_seconds: int = 60
    backoff_max_seconds: int = 3600
    batch_size: int = 200


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"claimed": self.claimed, "sent": self.sent, "retrying": self.retrying,
                "failed": self.failed, "errors": self.errors}


Sender = Callable[[Notification], None]


# ---------------------------------------------------------------------------- writing
def enqueue(
    session: Session,
    *,
    key: str,
    destination: str,
    subject: str,
    body: str,
    now: datetime,
    recipient: str = "",
    kind: str = "alert",
    alert_id: int | None = None,
    attachments: Iterable[str] = (),
) -> Notification | None:
    """Add a notification to the outbox in ``session`` (not committed here).

    Returns None when a notification with the same ``key`` already exists (written by an earlier
    run): the same notification is never written twice.
    """
    if not key or len(key) > 200:
        raise ValueError(f"idempotency key must be 1–200 characters: {key!r}")
    if session.exec(select(Notification.id).where(Notification.idempotency_key == key)).first() is not None:
        return None
    for pending in session.new:  # written earlier in this same transaction
        if isinstance(pending, Notification) and pending.idempotency_key == key:
            return None
    row = Notification(
        idempotency_key=key, alert_id=alert_id, kind=kind, recipient=recipient[:200],
        destination=destination_ref(destination), subject=subject[:500], body=body,
        attachments=[str(p) for p in attachments], status=PENDING, attempts=0,
        next_attempt_at=None, created_at=now, updated_at=now,  # due at once, whatever the run's `now`
    )
    session.add(row)
    return row


# ---------------------------------------------------------------------------- delivery
def apprise_send(notification: Notification) -> None:
    """Deliver one notification through apprise; raise :class:`DeliveryError` on failure."""
    import logging

    import apprise

    ap = apprise.Apprise()
    if not ap.add(notification.destination):
        raise DeliveryError("无效的通知地址 (apprise could not parse the destination URL)")
    attach = None
    if notification.attachments:
        missing = [p for p in notification.attachments if not os.path.isfile(p)]
        if missing:
            raise DeliveryError(f"附件不存在 (attachment missing): {', '.join(missing)}")
        attach = apprise.AppriseAttachment()
        for path in notification.attachments:
            attach.add(path)
    body = f"{notification.body}\n\n（通知编号 {notification.idempotency_key}）"
    with apprise.LogCapture(level=logging.WARNING) as logs:
        ok = ap.notify(title=notification.subject, body=body, attach=attach)
    if not ok:
        detail = logs.getvalue().strip().splitlines()
        raise DeliveryError((detail[-1] if detail else "delivery failed")[:2000])


def _backoff(policy: OutboxPolicy, attempts: int) -> timedelta:
    seconds = policy.backoff_seconds * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(seconds, policy.backoff_max_seconds))


def due_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Ids of notifications to try at ``now``: pending and due, or sending with an expired lease."""
    stmt = (
        select(Notification.id)
        .where(
            or_(
                (Notification.status == PENDING)
                & or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
                (Notification.status == SENDING) & (Notification.lease_until < now),
            )
        )
        .order_by(Notification.id)
        .limit(limit)
    )
    return list(session.exec(stmt))


def claim(engine: Engine, notification_id: int, *, now: datetime, policy: OutboxPolicy,
          worker: str) -> tuple[Notification, int] | None:
    """Claim one row for sending (own transaction, committed). None if another worker has it."""
    with session_scope(engine) as session:
        row = session.get(Notification, notification_id)
        if row is None:
            return None
        claimable = (row.status == PENDING and (row.next_attempt_at is None or row.next_attempt_at <= now)) or (
            row.status == SENDING and row.lease_until is not None and row.lease_until < now
        )
        if not claimable:
            return None
        number = row.attempts + 1
        result = session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == row.status,
                   Notification.attempts == row.attempts)
            .values(status=SENDING, attempts=number, lease_until=now + timedelta(seconds=policy.lease_seconds),
                    updated_at=now)
        )
        if result.rowcount != 1:
            return None
        attempt = DeliveryAttempt(notification_id=notification_id, number=number, worker=worker[:100],
                                  started_at=now)
        session.add(attempt)
        session.flush()
        session.refresh(row)
        return row, int(attempt.id)


def settle(engine: Engine, notification_id: int, attempt_id: int, *, number: int, now: datetime,
           error: str | None, policy: OutboxPolicy) -> str:
    """Record the outcome of a claimed send; returns the row's new status."""
    with session_scope(engine) as session:
        row = session.get(Notification, notification_id)
        attempt = session.get(DeliveryAttempt, attempt_id)
        if attempt is not None:
            attempt.finished_at = now
            attempt.ok = error is None
            attempt.error = error
            session.add(attempt)
        if row is None or row.status != SENDING or row.attempts != number:
            return row.status if row is not None else "missing"  # the lease was lost meanwhile
        row.lease_until = None
        row.updated_at = now
        if error is None:
            row.status = SENT
            row.sent_at = now
            row.last_error = None
        else:
            row.last_error = error
            if row.attempts >= policy.max_attempts:
                row.status = FAILED
                row.next_attempt_at = None
            else:
                row.status = PENDING
                row.next_attempt_at = now + _backoff(policy, row.attempts)
        session.add(row)
        return row.status


def deliver_due(
    engine: Engine,
    *,
    now: datetime,
    policy: OutboxPolicy | None = None,
    send: Sender | None = None,
    worker: str | None = None,
    clock: Callable[[], datetime] | None = None,
    destinations: Iterable[str] = (),
) -> DeliveryReport:
    """Deliver every notification due at ``now``; each row is claimed, sent and settled in turn.

    ``destinations``: the apprise URLs configured now (settings and escalation.toml); with the
    people's addresses they are what the stored references resolve to.

    ``now`` is the instant of the run (``tick --now``); ``clock``, when given, supplies the time
    recorded when an attempt finishes (the service passes the wall clock).
    """
    policy = policy or OutboxPolicy()
    send = send or apprise_send
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    report = DeliveryReport()
    seen: set[int] = set()
    with Session(engine) as session:
        known = known_destinations(session, destinations)
    while True:  # batch after batch until nothing is due; a row is tried at most once per run
        with Session(engine) as session:
            ids = [i for i in due_ids(session, now=now, limit=policy.batch_size + len(seen)) if i not in seen]
        if not ids:
            return report
        seen.update(ids)
        _deliver_batch(engine, ids, now=now, policy=policy, send=send, worker=worker, clock=clock, report=report,
                       known=known)


def _deliver_batch(engine: Engine, ids: list[int], *, now: datetime, policy: OutboxPolicy, send: Sender,
                   worker: str, clock: Callable[[], datetime] | None, report: DeliveryReport,
                   known: dict[str, str]) -> None:
    for nid in ids:
        claimed = claim(engine, nid, now=now, policy=policy, worker=worker)
        if claimed is None:
            continue
        row, attempt_id = claimed
        report.claimed += 1
        error: str | None = None
        try:
            row.destination = resolve_destination(row.destination, known)  # detached: never stored
            send(row)
        except Exception as exc:  # noqa: BLE001 - any failure of a destination is recorded, never raised
            error = f"{exc.__class__.__name__}: {exc}"[:2000]
        finished = clock() if clock is not None else now
        status = settle(engine, nid, attempt_id, number=row.attempts, now=max(finished, now), error=error,
                        policy=policy)
        if status == SENT:
            report.sent += 1
        elif status == FAILED:
            report.failed += 1
            report.errors.append(f"#{nid}: {error}")
        else:
            report.retrying += 1
            if error:
                report.errors.append(f"#{nid}: {error}")


def list_notifications(session: Session, *, status: str | None = None, alert_id: int | None = None,
                       limit: int = 200) -> list[Notification]:
    """Outbox rows, newest first."""
    stmt = select(Notification)
    if status:
        stmt = stmt.where(Notification.status == status)
    if alert_id is not None:
        stmt = stmt.where(Notification.alert_id == alert_id)
    return list(session.exec(stmt.order_by(Notification.id.desc()).limit(limit)))


REF_PREFIX = "ref:"


def _digest(url: str) -> str:
    return hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:32]


def destination_ref(url: str) -> str:
    """What the outbox stores for a destination: a reference plus the URL without credentials."""
    if url.startswith(REF_PREFIX):
        return url
    return f"{REF_PREFIX}{_digest(url)} {safe_destination(url)}"


def known_destinations(session: Session, configured: Iterable[str]) -> dict[str, str]:
    """Reference → URL for every destination configured now and every person's address."""
    from ledger.models.alerts import Person

    urls = [u for u in configured if isinstance(u, str) and u.strip()]
    for person_urls in session.exec(select(Person.urls)).all():
        urls.extend(u for u in (person_urls or []) if isinstance(u, str) and u.strip())
    return {_digest(u): u.strip() for u in urls}


def resolve_destination(stored: str, known: dict[str, str]) -> str:
    """The URL a stored destination refers to; DeliveryError if it is no longer configured.
    A row written before references were stored holds the URL itself."""
    if not stored.startswith(REF_PREFIX):
        return stored
    digest = stored[len(REF_PREFIX):].split(" ", 1)[0]
    url = known.get(digest)
    if url is None:
        raise DeliveryError(f"通知地址已不在配置中 (destination no longer configured): {safe_destination(stored)}")
    return url


def safe_destination(url: str) -> str:
    """An apprise URL with credentials and query removed, for display (a stored reference shows
    the masked URL it was written with)."""
    if url.startswith(REF_PREFIX):
        return url.split(" ", 1)[1] if " " in url else "…"
    scheme, _, rest = url.partition("://")
    host = rest.split("@")[-1].split("?")[0].split("/")[0]
    return f"{scheme}://{host}/…" if rest else url
