"""Edges of the notification outbox that the mutation check (bench/mutate) found unguarded: the
default delivery policy, back-off and its cap, claims and settlements at their boundaries. Real
SQLite files and a real webhook on 127.0.0.1."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from ledger.alerts.outbox import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    OutboxPolicy,
    claim,
    deliver_due,
    enqueue,
    settle,
)
from ledger.db import session_scope
from ledger.models.alerts import DeliveryAttempt, Notification
from tests.alert_sinks import WebhookSink


def _alerts(engine, now, n: int) -> list[int]:
    from ledger.models.alerts import Alert

    with session_scope(engine) as s:
        rows = [Alert(group_key=f"g{i}", trigger="clock_breached", opened_at=now, updated_at=now) for i in range(n)]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


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
    with pytest.raises(dataclasses.FrozenInstanceError):  # one policy is shared by a whole run
        OutboxPolicy().max_attempts = 1
    with WebhookSink(status=500) as sink:
        nid = _one(sqlite_engine, sink.url, fixed_now)
        now, waits = fixed_now, []
        for attempt in range(1, 7):
            report = deliver_due(sqlite_engine, destinations=[sink.url], now=now)  # the default policy
            row = _row(sqlite_engine, nid)
            assert row.attempts == attempt and report.claimed == 1
            if attempt < 6:
                assert (row.status, report.retrying, report.failed) == (PENDING, 1, 0)
                assert report.errors == [f"#{nid}: {row.last_error}"] and "500" in row.last_error
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


def test_an_expired_lease_is_taken_over_by_the_next_run_not_before(sqlite_engine, fixed_now) -> None:
    with WebhookSink() as sink:
        nid = _one(sqlite_engine, sink.url, fixed_now)
        assert claim(sqlite_engine, nid, now=fixed_now, policy=OutboxPolicy(lease_seconds=60), worker="dead")
        lease_end = fixed_now + timedelta(seconds=60)
        assert deliver_due(sqlite_engine, destinations=[sink.url], now=lease_end).claimed == 0
        report = deliver_due(sqlite_engine, destinations=[sink.url], now=lease_end + timedelta(seconds=1))
        assert (report.claimed, report.sent) == (1, 1) and sink.titles() == ["标题"]


def test_a_late_settlement_of_a_lost_lease_changes_nothing_but_its_attempt(sqlite_engine, fixed_now) -> None:
    policy = OutboxPolicy(lease_seconds=60)
    nid = _one(sqlite_engine, "json://127.0.0.1:9/", fixed_now)
    _, first = claim(sqlite_engine, nid, now=fixed_now, policy=policy, worker="slow")
    later = fixed_now + timedelta(seconds=61)
    _, second = claim(sqlite_engine, nid, now=later, policy=policy, worker="fast")
    # the slow worker comes back with its old attempt number: the row belongs to the second claim
    assert settle(sqlite_engine, nid, first, number=1, now=later, error=None, policy=policy) == SENDING
    row = _row(sqlite_engine, nid)
    assert (row.status, row.attempts, row.sent_at) == (SENDING, 2, None)
    assert row.lease_until == later + timedelta(seconds=60)
    with Session(sqlite_engine) as s:
        a = s.get(DeliveryAttempt, first)
        assert (a.ok, a.error, a.finished_at) == (True, None, later)  # what the slow worker saw is kept
    assert settle(sqlite_engine, nid, second, number=2, now=later, error="RuntimeError: x", policy=policy) == PENDING
    row = _row(sqlite_engine, nid)
    assert (row.status, row.last_error, row.lease_until) == (PENDING, "RuntimeError: x", None)
    assert row.next_attempt_at == later + timedelta(seconds=120)  # the second failure waits twice as long
    assert settle(sqlite_engine, 10_000, second, number=1, now=later, error=None, policy=policy) == "missing"


def test_a_run_records_its_worker_and_the_finishing_time_of_each_send(sqlite_engine, fixed_now) -> None:
    import os
    import socket

    with WebhookSink() as sink:
        _one(sqlite_engine, sink.url, fixed_now, key="a")
        _one(sqlite_engine, sink.url, fixed_now, key="b")
        ticks = iter([fixed_now + timedelta(seconds=5), fixed_now - timedelta(seconds=5)])
        report = deliver_due(sqlite_engine, destinations=[sink.url], now=fixed_now, clock=lambda: next(ticks))
        assert report.as_dict() == {"claimed": 2, "sent": 2, "retrying": 0, "failed": 0, "errors": []}
    with Session(sqlite_engine) as s:
        rows = s.exec(select(Notification).order_by(Notification.id)).all()
        # a send that finished later is recorded then; a clock behind the run's `now` never goes back
        assert [r.sent_at for r in rows] == [fixed_now + timedelta(seconds=5), fixed_now]
        assert all(r.status == SENT and r.last_error is None and r.lease_until is None for r in rows)
        attempts = s.exec(select(DeliveryAttempt)).all()
        assert {a.worker for a in attempts} == {f"{socket.gethostname()}:{os.getpid()}"}


def test_enqueue_checks_the_key_and_trims_long_fields(sqlite_engine, fixed_now) -> None:
    [alert] = _alerts(sqlite_engine, fixed_now, 1)
    with session_scope(sqlite_engine) as s:
        for bad in ("", "k" * 201):
            with pytest.raises(ValueError, match="idempotency key"):
                enqueue(s, key=bad, destination="json://127.0.0.1:9/", subject="a", body="b", now=fixed_now)
        row = enqueue(s, key="k" * 200, destination="json://127.0.0.1:9/", subject="题" * 600, body="正文",
                      now=fixed_now, recipient="人" * 300, attachments=[Path("/tmp/a.pdf")], alert_id=alert)
        assert (len(row.subject), len(row.recipient), row.attachments) == (500, 200, ["/tmp/a.pdf"])
        assert (row.status, row.attempts, row.next_attempt_at, row.alert_id) == (PENDING, 0, None, alert)


def test_listing_filters_and_orders_newest_first(sqlite_engine, fixed_now) -> None:
    from ledger.alerts.outbox import list_notifications

    one, two = _alerts(sqlite_engine, fixed_now, 2)
    with session_scope(sqlite_engine) as s:
        for i in range(4):
            enqueue(s, key=f"n{i}", destination="json://127.0.0.1:9/", subject=f"t{i}", body="b", now=fixed_now,
                    alert_id=one if i % 2 else two)
    with WebhookSink() as sink:  # nothing is sent to port 9: every row fails and stays pending
        deliver_due(sqlite_engine, destinations=[sink.url], now=fixed_now, policy=OutboxPolicy(max_attempts=1))
    with Session(sqlite_engine) as s:
        assert [r.subject for r in list_notifications(s)] == ["t3", "t2", "t1", "t0"]
        assert [r.subject for r in list_notifications(s, alert_id=one)] == ["t3", "t1"]
        assert [r.subject for r in list_notifications(s, limit=2)] == ["t3", "t2"]
        assert [r.subject for r in list_notifications(s, status=FAILED)] == ["t3", "t2", "t1", "t0"]
        assert list_notifications(s, status=SENT) == []


def test_destination_references(sqlite_engine, fixed_now) -> None:
    from ledger.alerts.outbox import (
        DeliveryError,
        destination_ref,
        known_destinations,
        resolve_destination,
        safe_destination,
    )
    from ledger.models.alerts import Person

    url = "json://user:pw@127.0.0.1:8080/hook?token=t"
    ref = destination_ref(url)
    assert ref.startswith("ref:") and ref.endswith(" json://127.0.0.1:8080/…") and "pw" not in ref
    assert destination_ref(ref) == ref and destination_ref(f"  {url} ").split(" ")[0] == ref.split(" ")[0]
    with session_scope(sqlite_engine) as s:
        s.add(Person(name="甲", urls=["mailto://a:secret@example.org", "", 5], created_at=fixed_now,
                     updated_at=fixed_now))
    with Session(sqlite_engine) as s:
        known = known_destinations(s, [url, "  ", None])
    assert sorted(known.values()) == sorted([url, "mailto://a:secret@example.org"])
    assert resolve_destination(ref, known) == url
    assert resolve_destination(destination_ref("mailto://a:secret@example.org"), known).startswith("mailto://a:")
    assert resolve_destination("json://legacy/", known) == "json://legacy/"  # written before references
    with pytest.raises(DeliveryError, match="不在配置中.*json://127.0.0.1:8080/…"):
        resolve_destination(ref, {})
    assert safe_destination("ref:abc") == "…" and safe_destination("no-scheme") == "no-scheme"
    assert safe_destination(destination_ref("json://pw@a host/x y")) == "json://a host/…"  # spaces kept


def test_references_already_stored_keep_resolving(sqlite_engine, fixed_now) -> None:
    """Rows written by earlier runs hold references in this exact form (the first 32 hex digits of
    the URL's SHA-256): they must still resolve to the configured URL."""
    from ledger.alerts.outbox import destination_ref, known_destinations, resolve_destination

    url = "json://user:pw@127.0.0.1:8080/hook?token=t"
    stored = "ref:ef6a0ce40779ab7e2ab5358ecef913b1 json://127.0.0.1:8080/…"
    assert destination_ref(url) == stored
    with Session(sqlite_engine) as s:
        assert resolve_destination(stored, known_destinations(s, [url])) == url


def test_a_destination_apprise_cannot_read_is_an_error_not_a_crash(sqlite_engine, fixed_now) -> None:
    nid = _one(sqlite_engine, "nonsense-destination", fixed_now)
    report = deliver_due(sqlite_engine, destinations=["nonsense-destination"], now=fixed_now,
                         policy=OutboxPolicy(max_attempts=1))
    assert (report.failed, report.sent) == (1, 0) and "无效的通知地址" in report.errors[0]
    assert _row(sqlite_engine, nid).status == FAILED


def test_the_same_key_is_written_once_also_without_autoflush(sqlite_engine, fixed_now) -> None:
    """Inside ``session.no_autoflush`` (or a session made without autoflush) the rows written
    earlier in the transaction are not in the database yet: enqueue finds them in the session."""
    with Session(sqlite_engine) as s, s.no_autoflush:
        s.add(DeliveryAttempt(notification_id=None, number=0, worker="other object", started_at=fixed_now))
        first = enqueue(s, key="a", destination="json://127.0.0.1:9/", subject="一", body="b", now=fixed_now)
        assert first is not None
        assert enqueue(s, key="a", destination="json://127.0.0.1:9/", subject="一", body="b", now=fixed_now) is None
        second = enqueue(s, key="b", destination="json://127.0.0.1:9/", subject="二", body="b", now=fixed_now)
        assert second is not None and second is not first
        s.expunge_all()
        s.add_all([first, second])
        s.commit()
    with Session(sqlite_engine) as s:
        assert sorted(r.idempotency_key for r in s.exec(select(Notification))) == ["a", "b"]


def test_a_row_is_tried_at_most_once_per_run_even_when_due_again_at_once(sqlite_engine, fixed_now) -> None:
    policy = OutboxPolicy(backoff_seconds=0, max_attempts=3)  # a failed row is due again immediately
    with WebhookSink(status=500) as sink:
        nid = _one(sqlite_engine, sink.url, fixed_now)
        report = deliver_due(sqlite_engine, destinations=[sink.url], now=fixed_now, policy=policy)
        assert (report.claimed, report.retrying, report.failed) == (1, 1, 0)
        row = _row(sqlite_engine, nid)
        assert (row.status, row.attempts, row.next_attempt_at) == (PENDING, 1, fixed_now)
        assert deliver_due(sqlite_engine, destinations=[sink.url], now=fixed_now, policy=policy).claimed == 1
        assert _row(sqlite_engine, nid).attempts == 2


def test_a_long_error_is_cut_to_two_thousand_characters(sqlite_engine, fixed_now) -> None:
    def send(notification) -> None:
        raise RuntimeError("远端拒绝" * 1000)

    nid = _one(sqlite_engine, "json://127.0.0.1:9/", fixed_now)
    report = deliver_due(sqlite_engine, destinations=["json://127.0.0.1:9/"], now=fixed_now, send=send)
    expected = ("RuntimeError: " + "远端拒绝" * 1000)[:2000]
    assert report.errors == [f"#{nid}: {expected}"]
    with Session(sqlite_engine) as s:
        assert s.get(Notification, nid).last_error == expected
        assert s.exec(select(DeliveryAttempt)).one().error == expected


def test_the_listing_shows_the_newest_two_hundred_by_default(sqlite_engine, fixed_now) -> None:
    from ledger.alerts.outbox import list_notifications

    with session_scope(sqlite_engine) as s:
        for i in range(201):
            enqueue(s, key=f"m{i}", destination="json://127.0.0.1:9/", subject=f"t{i}", body="b", now=fixed_now)
    with Session(sqlite_engine) as s:
        rows = list_notifications(s)
        assert len(rows) == 200 and rows[0].subject == "t200" and rows[-1].subject == "t1"
