"""The notification outbox through real parts: a JSON webhook and an SMTP server on 127.0.0.1,
retries with back-off, concurrent workers, and crashes of a real child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ledger.alerts.outbox import FAILED, PENDING, SENDING, SENT, OutboxPolicy, deliver_due, enqueue
from ledger.db import session_scope
from ledger.models.alerts import DeliveryAttempt, Notification
from tests.alert_sinks import SmtpSink, WebhookSink

REPO = Path(__file__).resolve().parent.parent


# the destinations configured in the running test: the outbox stores only references to them and
# resolves them at delivery (as the service does with YUQING_ALERT_URLS and escalation.toml)
KNOWN: list[str] = []


@pytest.fixture(autouse=True)
def _configured():
    KNOWN.clear()
    yield


def _enqueue(engine, n: int, url: str, now, prefix: str = "k") -> None:
    KNOWN.append(url)
    with session_scope(engine) as s:
        for i in range(n):
            enqueue(s, key=f"{prefix}{i}", destination=url, subject=f"标题{i}", body=f"正文{i}", now=now)


def test_webhook_delivery_once_and_recorded(any_engine, fixed_now):
    with WebhookSink() as sink:
        _enqueue(any_engine, 3, sink.url, fixed_now)
        report = deliver_due(any_engine, destinations=KNOWN, now=fixed_now)
        assert report.sent == 3 and report.failed == 0
        again = deliver_due(any_engine, destinations=KNOWN, now=fixed_now + timedelta(hours=1))
        assert again.claimed == 0
        assert sorted(sink.titles()) == ["标题0", "标题1", "标题2"]
        assert all("通知编号 k" in b["message"] for b in sink.bodies)  # idempotency key travels with it
    with Session(any_engine) as s:
        rows = s.exec(select(Notification)).all()
        assert {r.status for r in rows} == {SENT} and all(r.attempts == 1 and r.sent_at for r in rows)
        attempts = s.exec(select(DeliveryAttempt)).all()
        assert len(attempts) == 3 and all(a.ok and a.finished_at for a in attempts)


def test_same_key_is_written_once(sqlite_engine, fixed_now):
    with session_scope(sqlite_engine) as s:
        assert enqueue(s, key="x", destination="json://127.0.0.1:9/", subject="a", body="b", now=fixed_now)
        assert enqueue(s, key="x", destination="json://127.0.0.1:9/", subject="a", body="b", now=fixed_now) is None
    with session_scope(sqlite_engine) as s:
        assert enqueue(s, key="x", destination="json://127.0.0.1:9/", subject="a", body="b", now=fixed_now) is None
    with pytest.raises(IntegrityError), session_scope(sqlite_engine) as s:  # the database refuses the key
        s.add(Notification(idempotency_key="x", destination="json://x/", created_at=fixed_now,
                           updated_at=fixed_now))
    with Session(sqlite_engine) as s:
        assert len(s.exec(select(Notification)).all()) == 1


def test_failures_retry_with_backoff_then_give_up(sqlite_engine, fixed_now):
    policy = OutboxPolicy(max_attempts=3, backoff_seconds=60, backoff_max_seconds=3600)
    with WebhookSink(status=500) as sink:
        _enqueue(sqlite_engine, 1, sink.url, fixed_now)
        r1 = deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now, policy=policy)
        assert (r1.sent, r1.retrying) == (0, 1)
        with Session(sqlite_engine) as s:
            row = s.exec(select(Notification)).one()
            assert row.status == PENDING and row.attempts == 1 and row.last_error
            assert row.next_attempt_at == fixed_now + timedelta(seconds=60)
        assert deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now + timedelta(seconds=30), policy=policy).claimed == 0
        r2 = deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now + timedelta(seconds=61), policy=policy)
        assert r2.retrying == 1
        with Session(sqlite_engine) as s:  # second back-off doubles
            row = s.exec(select(Notification)).one()
            assert row.next_attempt_at == fixed_now + timedelta(seconds=61 + 120)
        r3 = deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now + timedelta(seconds=500), policy=policy)
        assert r3.failed == 1
        assert deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now + timedelta(days=1), policy=policy).claimed == 0
    with Session(sqlite_engine) as s:
        row = s.exec(select(Notification)).one()
        assert row.status == FAILED and row.attempts == 3
        attempts = s.exec(select(DeliveryAttempt).order_by(DeliveryAttempt.number)).all()
        assert [a.number for a in attempts] == [1, 2, 3] and not any(a.ok for a in attempts)
        assert all(a.error for a in attempts)


def test_retry_succeeds_when_destination_recovers(sqlite_engine, fixed_now):
    with WebhookSink(status=503) as sink:
        _enqueue(sqlite_engine, 1, sink.url, fixed_now)
        deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now)
        sink.status = 200
        assert deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now + timedelta(minutes=5)).sent == 1
        assert len(sink.bodies) == 1


def test_two_claims_of_one_row_race_and_exactly_one_wins(any_url, any_engine, fixed_now):
    """Both workers read the row as pending, then both try to take it at the same moment (held at a
    barrier just before the claiming UPDATE): one claims it, the other gets nothing."""
    from sqlalchemy import event

    from ledger.alerts.outbox import claim
    from ledger.db import make_engine

    _enqueue(any_engine, 1, "json://127.0.0.1:9/", fixed_now)
    with Session(any_engine) as s:
        nid = s.exec(select(Notification.id)).one()
    barrier = threading.Barrier(2, timeout=60)

    def hold(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("UPDATE NOTIFICATION"):
            barrier.wait()

    engines = [make_engine(any_url) for _ in range(2)]
    for e in engines:
        event.listen(e, "before_cursor_execute", hold)
    results: dict[str, object] = {}

    def work(name: str, engine) -> None:
        try:
            results[name] = claim(engine, nid, now=fixed_now, policy=OutboxPolicy(), worker=name)
        except Exception as exc:  # noqa: BLE001 - reported below
            results[name] = exc

    threads = [threading.Thread(target=work, args=(f"w{i}", e)) for i, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert not [r for r in results.values() if isinstance(r, Exception)], results
    winners = [r for r in results.values() if r is not None]
    assert len(results) == 2 and len(winners) == 1
    with Session(any_engine) as s:
        row = s.exec(select(Notification)).one()
        assert row.status == SENDING and row.attempts == 1
        assert len(s.exec(select(DeliveryAttempt)).all()) == 1


def test_two_workers_never_send_a_row_twice(any_url, any_engine, fixed_now):
    from ledger.alerts.outbox import apprise_send
    from ledger.db import make_engine

    # each worker holds its first send until the other has claimed a row too: they surely overlap
    barrier = threading.Barrier(2, timeout=60)
    first = threading.local()

    def send(notification) -> None:
        if not getattr(first, "done", False):
            first.done = True
            barrier.wait()
        apprise_send(notification)

    with WebhookSink() as sink:
        _enqueue(any_engine, 30, sink.url, fixed_now)
        engines = [make_engine(any_url) for _ in range(2)]
        reports = []
        threads = [threading.Thread(target=lambda e=e: reports.append(
            deliver_due(e, destinations=KNOWN, now=fixed_now, worker=str(id(e)), send=send))) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        titles = sink.titles()
        assert sorted(titles) == sorted(f"标题{i}" for i in range(30))  # each exactly once
        assert sum(r.sent for r in reports) == 30 and all(r.sent for r in reports)
        for e in engines:
            e.dispose()


CHILD = textwrap.dedent("""
    import sys, time
    from datetime import datetime
    from ledger.db import make_engine, session_scope
    from ledger.alerts.outbox import OutboxPolicy, claim, enqueue
    url, mode, dest, now = sys.argv[1], sys.argv[2], sys.argv[3], datetime.fromisoformat(sys.argv[4])
    engine = make_engine(url)
    with session_scope(engine) as s:
        enqueue(s, key="crash-1", destination=dest, subject="崩溃测试", body="正文", now=now)
    if mode == "claim":
        with session_scope(engine) as s:
            nid = s.exec(__import__("sqlmodel").select(__import__("ledger.models.alerts", fromlist=["x"]).Notification.id)).one()
        claim(engine, nid, now=now, policy=OutboxPolicy(lease_seconds=300), worker="child")
    print("ready", flush=True)
    time.sleep(60)
""")


@pytest.mark.parametrize("mode", ["written", "claim"])
def test_killed_sender_loses_and_duplicates_nothing(sqlite_url, sqlite_engine, fixed_now, mode):
    """A real child process writes the notification (and in 'claim' mode also claims it for
    sending) and is killed with SIGKILL before it delivers: the next runs deliver it exactly once."""
    with WebhookSink() as sink:
        KNOWN.append(sink.url)
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, sqlite_url, mode, sink.url, fixed_now.isoformat()],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        with Session(sqlite_engine) as s:
            row = s.exec(select(Notification)).one()
            assert row.status == (SENDING if mode == "claim" else PENDING)
        first = deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now)
        if mode == "claim":  # still leased to the dead worker: not sent yet, not lost
            assert first.sent == 0 and sink.bodies == []
            later = deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now + timedelta(seconds=301))
            assert later.sent == 1
        else:
            assert first.sent == 1
        for minutes in (10, 60):
            assert deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now + timedelta(minutes=minutes)).claimed == 0
        assert sink.titles() == ["崩溃测试"]
    with Session(sqlite_engine) as s:
        row = s.exec(select(Notification)).one()
        assert row.status == SENT and row.attempts == (2 if mode == "claim" else 1)


def test_email_with_attachment_reaches_smtp_server(sqlite_engine, fixed_now, tmp_path):
    report_file = tmp_path / "周报.txt"
    report_file.write_text("本周台账", encoding="utf-8")
    with SmtpSink() as smtp:
        KNOWN.append(smtp.url("leader@example.org"))
        with session_scope(sqlite_engine) as s:
            enqueue(s, key="mail-1", destination=smtp.url("leader@example.org"), subject="【周报】台账",
                    body="请查收附件", now=fixed_now, attachments=[str(report_file)])
        report = deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now)
        assert report.sent == 1, report.errors
        assert len(smtp.messages) == 1
        msg = smtp.messages[0]
        assert msg["to"] == ["leader@example.org"] and msg["subject"] == "【周报】台账"
        assert "请查收附件" in msg["text"] and msg["files"] == ["周报.txt"]


def test_missing_attachment_is_an_error_not_a_crash(sqlite_engine, fixed_now, tmp_path):
    with WebhookSink() as sink:
        KNOWN.append(sink.url)
        with session_scope(sqlite_engine) as s:
            enqueue(s, key="att", destination=sink.url, subject="s", body="b", now=fixed_now,
                    attachments=[str(tmp_path / "gone.xlsx")])
        report = deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now)
        assert report.retrying == 1 and "gone.xlsx" in report.errors[0]
        assert sink.bodies == []


def test_one_run_delivers_every_batch(sqlite_engine, fixed_now):
    with WebhookSink() as sink:
        _enqueue(sqlite_engine, 12, sink.url, fixed_now)
        report = deliver_due(sqlite_engine, destinations=KNOWN, now=fixed_now, policy=OutboxPolicy(batch_size=5))
        assert report.sent == 12 and len(sink.bodies) == 12


def test_the_outbox_stores_no_credentials_and_sends_to_the_configured_destination(any_engine, fixed_now):
    """Issue #22.8: the notification table holds a reference and the URL without credentials; the
    real URL comes from the configuration at delivery; a destination no longer configured fails."""
    with WebhookSink() as sink:
        secret_url = sink.url.replace("://", "://robot:s3cr3t-T0KEN@") + "?key=k3y-SECRET"
        KNOWN.append(secret_url)
        _enqueue(any_engine, 1, secret_url, fixed_now)
        with Session(any_engine) as s:
            stored = s.exec(select(Notification)).one().destination
        assert "s3cr3t" not in stored and "k3y-SECRET" not in stored and "robot" not in stored
        assert stored.startswith("ref:") and "127.0.0.1" in stored
        assert deliver_due(any_engine, destinations=KNOWN, now=fixed_now).sent == 1
        assert sink.titles() == ["标题0"]
        with Session(any_engine) as s:  # what was sent is not written back either
            assert "s3cr3t" not in s.exec(select(Notification)).one().destination

        _enqueue(any_engine, 1, sink.url + "gone/", fixed_now, prefix="g")
        KNOWN.clear()  # the destination was removed from the configuration
        report = deliver_due(any_engine, now=fixed_now)
        assert report.sent == 0 and "不在配置中" in report.errors[0]
