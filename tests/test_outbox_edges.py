"""Edges of the notification outbox that the mutation check (bench/mutate) found unguarded: the
default delivery policy, back-off and its cap, claims and settlements at their boundaries. Real
SQLite files and a real webhook on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from ledger.alerts.outbox import FAILED, PENDING, SENDING, SENT, OutboxPolicy, claim, deliver_due, enqueue, settle
from ledger.db import session_scope
from ledger.models.alerts import DeliveryAttempt, Notification
from tests.alert_sinks import WebhookSink


def _one(engine, url: str, now, key: str = "k0") -> int:
    with session_scope(engine) as s:
        row = enqueue(s, key=key, destination=url, subject="标题", body="正文", now=now)
        s.flush()
        return row.id


def _row(engine, nid: int) -> Notification:
    with Session(engine) as s:
        return s.get(Notification, nid)


def test_the_default_policy_retries_six_times_doubling_from_a_minute(sqlite_engine, fixed_now) -> None:
    from config.settings import Settings

    # without a policy the outbox behaves as the default settings say (config/settings.py)
    documented = {f: Settings.model_fields[f"outbox_{f}"].default
                  for f in ("lease_seconds", "max_attempts", "backoff_seconds", "backoff_max_seconds")}
    assert documented == {"lease_seconds": 300, "max_attempts": 6, "backoff_seconds": 60, "backoff_max_seconds": 3600}
    assert {f: getattr(OutboxPolicy(), f) for f in documented} == documented
    with WebhookSink(status=500) as sink:
        nid = _one(sqlite_engine, sink.url, fixed_now)
        now, waits = fixed_now, []
        for attempt in range(1, 7):
            report = deliver_due(sqlite_engine, destinations=[sink.url], now=now)  # the default policy
            row = _row(sqlite_engine, nid)
            assert row.attempts == attempt and report.claimed == 1
            if attempt < 6:
                assert (row.status, report.retrying, report.failed) == (PENDING, 1, 0)
                waits.append(row.next_attempt_at - now)
                # not due a second before the back-off ends
                assert deliver_due(sqlite_engine, destinations=[sink.url],
                                   now=row.next_attempt_at - timedelta(seconds=1)).claimed == 0
                now = row.next_attempt_at
        assert [w.total_seconds() for w in waits] == [60, 120, 240, 480, 960]
        assert (row.status, row.next_attempt_at, report.failed) == (FAILED, None, 1)
        assert report.errors and report.errors[0].startswith(f"#{nid}: ")
    with Session(sqlite_engine) as s:
        attempts = s.exec(select(DeliveryAttempt).order_by(DeliveryAttempt.number)).all()
        assert [a.number for a in attempts] == [1, 2, 3, 4, 5, 6]
        assert all(a.ok is False and "500" in a.error and a.finished_at for a in attempts)


def test_the_back_off_is_capped(sqlite_engine, fixed_now) -> None:
    policy = OutboxPolicy(max_attempts=10, backoff_seconds=600, backoff_max_seconds=3600)
    with WebhookSink(status=500) as sink:
        nid = _one(sqlite_engine, sink.url, fixed_now)
        now, waits = fixed_now, []
        for _ in range(4):
            deliver_due(sqlite_engine, destinations=[sink.url], now=now, policy=policy)
            row = _row(sqlite_engine, nid)
            waits.append((row.next_attempt_at - now).total_seconds())
            now = row.next_attempt_at
        assert waits == [600, 1200, 2400, 3600]


def test_a_claim_leases_the_row_for_the_default_five_minutes(sqlite_engine, fixed_now) -> None:
    nid = _one(sqlite_engine, "json://127.0.0.1:9/", fixed_now)
    claimed = claim(sqlite_engine, nid, now=fixed_now, policy=OutboxPolicy(), worker="w" * 150)
    assert claimed is not None
    row, attempt_id = claimed
    assert (row.status, row.attempts, row.lease_until) == (SENDING, 1, fixed_now + timedelta(seconds=300))
    with Session(sqlite_engine) as s:
        attempt = s.get(DeliveryAttempt, attempt_id)
        assert (attempt.number, attempt.worker, attempt.started_at) == (1, "w" * 100, fixed_now)
    # taken: nobody else can claim it until the lease has run out (the lease instant itself included)
    lease_end = fixed_now + timedelta(seconds=300)
    assert claim(sqlite_engine, nid, now=lease_end, policy=OutboxPolicy(), worker="x") is None
    again = claim(sqlite_engine, nid, now=lease_end + timedelta(seconds=1), policy=OutboxPolicy(), worker="x")
    assert again is not None and again[0].attempts == 2
    assert claim(sqlite_engine, 10_000, now=fixed_now, policy=OutboxPolicy(), worker="x") is None  # no such row
