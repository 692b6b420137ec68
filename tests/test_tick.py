"""One pass of time: clocks move to their state at ``now``, a second pass changes nothing, message
clocks and commitments are brought up to date, alert hooks share the transaction, rehearsals roll back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from config import alerting, ticking
from config.caseconfig import load_case_env
from config.settings import get_settings
from ledger import audit
from ledger.cases import items as caseitems
from ledger.cases import workflow as cases
from ledger.db import session_scope
from ledger.models.cases import Commitment
from ledger.models.clocks import Clock
from ledger.models.core import AuditLog, Message, Source

H = timedelta(hours=1)


@pytest.fixture
def cfg(monkeypatch):
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    monkeypatch.setattr(alerting, "TICK_HOOKS", [])
    monkeypatch.setattr(alerting, "AFTER_COMMIT_HOOKS", [])
    return get_settings()


def audit_count(engine) -> int:
    with session_scope(engine) as s:
        return s.exec(select(func.count()).select_from(AuditLog)).one()


def statuses(engine, case_id: int) -> dict[str, str]:
    with session_scope(engine) as s:
        rows = s.exec(select(Clock).where(Clock.subject == "case", Clock.subject_id == case_id).order_by(Clock.id))
        return {c.rule_id: c.status for c in rows}


def open_major(engine, cfg, discovered: datetime) -> int:
    env = load_case_env(cfg)
    with session_scope(engine) as s:
        return cases.open_case(s, title="危化品泄漏", grade="重大", discovered_at=discovered, now=discovered,
                               actor="值班", env=env).id


def test_tick_moves_clocks_and_a_second_tick_changes_nothing(any_engine, cfg, fixed_now) -> None:
    case_id = open_major(any_engine, cfg, fixed_now)
    assert statuses(any_engine, case_id)["authoritative_release_target"] == "running"

    first = ticking.run_tick(any_engine, cfg, fixed_now + 2.5 * H)
    assert first["clocks_warning"] == 1  # 3 h target warns after 2 h; 5 h limit only after 4 h
    # the leadership report is due within an hour of discovery: unreported, it is late by now
    assert sorted((c["rule"], c["before"], c["after"]) for c in first["clock_changes"]) == [
        ("authoritative_release_target", "running", "warning"), ("leadership_report", "running", "breached")]
    # an earlier instant (a late or replayed tick) never moves a clock back: the target stays in warning
    back = ticking.run_tick(any_engine, cfg, fixed_now + H)
    assert back["clocks_changed"] == 0 and back["clock_changes"] == []
    assert statuses(any_engine, case_id)["authoritative_release_target"] == "warning"
    n = audit_count(any_engine)
    again = ticking.run_tick(any_engine, cfg, fixed_now + 2.5 * H)
    assert again["clocks_changed"] == 0 and again["clock_changes"] == []
    assert audit_count(any_engine) == n

    later = ticking.run_tick(any_engine, cfg, fixed_now + 6 * H)
    assert (later["clocks_missed"], later["clocks_breached"]) == (1, 1)
    st = statuses(any_engine, case_id)
    assert st["authoritative_release_target"] == "missed"
    assert st["authoritative_release_limit"] == "breached"
    assert st["press_briefing"] == "running"
    assert ticking.run_tick(any_engine, cfg, fixed_now + 6 * H)["clocks_changed"] == 0
    # nor back from missed and breached
    assert ticking.run_tick(any_engine, cfg, fixed_now + H)["clocks_changed"] == 0
    st = statuses(any_engine, case_id)
    assert (st["authoritative_release_target"], st["authoritative_release_limit"]) == ("missed", "breached")


def test_dry_run_rehearses_without_writing(sqlite_engine, cfg, fixed_now) -> None:
    case_id = open_major(sqlite_engine, cfg, fixed_now)
    called: list[datetime] = []
    alerting.AFTER_COMMIT_HOOKS.append(lambda engine, settings, now: called.append(now))
    n = audit_count(sqlite_engine)
    rehearsal = ticking.run_tick(sqlite_engine, cfg, fixed_now + 30 * H, dry_run=True)
    # 5 h limit, 24 h briefing and the 1 h leadership report
    assert rehearsal["dry_run"] is True and rehearsal["clocks_breached"] == 3
    assert audit_count(sqlite_engine) == n and called == []
    assert statuses(sqlite_engine, case_id)["press_briefing"] == "running"


def test_hooks_share_the_transaction_and_a_failing_hook_does_not_stop_the_clocks(sqlite_engine, cfg, fixed_now) -> None:
    case_id = open_major(sqlite_engine, cfg, fixed_now)
    seen: list[tuple[int, int]] = []

    def note_changes(session, report, now, settings) -> None:
        audit.record(session, actor="alerts", action="test.alert", entity="case", entity_id=case_id, now=now,
                     after={"changes": len(report.clock_changes)})

    def broken(session, report, now, settings) -> None:
        audit.record(session, actor="alerts", action="test.broken", entity="case", entity_id=case_id, now=now)
        session.flush()
        raise RuntimeError("boom")

    def after_commit(engine, settings, now) -> None:
        with session_scope(engine) as s:
            seen.append((s.exec(select(func.count()).select_from(AuditLog).where(
                AuditLog.action == "test.alert")).one(), s.exec(select(func.count()).select_from(AuditLog).where(
                    AuditLog.action == "test.broken")).one()))

    alerting.TICK_HOOKS.extend([broken, note_changes])
    alerting.AFTER_COMMIT_HOOKS.append(after_commit)
    summary = ticking.run_tick(sqlite_engine, cfg, fixed_now + 6 * H)
    assert [e["error"] for e in summary["hook_errors"]] == ["RuntimeError: boom"]
    assert seen == [(1, 0)]  # the good hook committed with the tick, the broken one rolled back alone
    assert statuses(sqlite_engine, case_id)["authoritative_release_limit"] == "breached"


def test_tick_computes_message_clocks_and_flags_overdue_commitments(sqlite_engine, cfg, fixed_now) -> None:
    env = load_case_env(cfg)
    with session_scope(sqlite_engine) as s:
        src = Source(name="12345热线", kind="hotline")
        s.add(src)
        s.flush()
        # received Friday 2026-02-27; 5 working days, the day of receipt not counted: Saturday 02-28 is a
        # 调休 workday after 春节, so the fifth is Thursday 2026-03-05
        s.add(Message(source_id=src.id, external_id="R1", channel="12345", text="路灯坏了",
                      received_at=datetime(2026, 2, 27, 1, 0, tzinfo=UTC)))
        case = cases.open_case(s, title="路灯", grade="一般", discovered_at=fixed_now, now=fixed_now, actor="值班",
                               env=env)
        com = caseitems.add_commitment(s, case_id=case.id, text="三日内修复", owner_unit="城管局",
                                       due_date=date(2026, 3, 4), now=fixed_now, actor="值班", env=env)
        com_id = com.id
    first = ticking.run_tick(sqlite_engine, cfg, fixed_now)
    assert first["messages_changed"] == 1 and first["commitments_overdue"] == 0
    with session_scope(sqlite_engine) as s:
        msg = s.exec(select(Message)).one()
        assert msg.due_at == datetime(2026, 3, 5, 23, 59, 59, tzinfo=UTC) - timedelta(hours=8)
    assert ticking.run_tick(sqlite_engine, cfg, fixed_now)["messages_changed"] == 0

    late = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    summary = ticking.run_tick(sqlite_engine, cfg, late)
    assert summary["commitments"] == [com_id]
    assert sorted(c["rule"] for c in summary["clock_changes"] if c["after"] == "breached") == [
        "commitment_due", "other_response"]
    assert any("承诺" in line for line in summary["lines"])
    with session_scope(sqlite_engine) as s:
        assert s.get(Commitment, com_id).overdue_at == late
    assert ticking.run_tick(sqlite_engine, cfg, late + H)["commitments_overdue"] == 0


def test_naive_now_is_refused(sqlite_engine, cfg) -> None:
    with pytest.raises(ValueError, match="时区"):
        ticking.run_tick(sqlite_engine, cfg, datetime(2026, 3, 2, 10, 0))


def test_hook_writes_follow_the_tick_transaction_even_when_the_clocks_wrote_nothing(any_engine, cfg,
                                                                                  fixed_now) -> None:
    def writer(session, report, now, settings) -> None:
        audit.record(session, actor="alerts", action="test.hook", entity="tick", entity_id=None, now=now)

    alerting.TICK_HOOKS.append(writer)
    assert ticking.run_tick(any_engine, cfg, fixed_now, dry_run=True)["clocks_changed"] == 0
    assert audit_count(any_engine) == 0  # rolled back with the rehearsal
    ticking.run_tick(any_engine, cfg, fixed_now)
    assert audit_count(any_engine) == 1


def test_hooks_write_even_when_another_writer_commits_between_their_read_and_write(sqlite_engine, cfg,
                                                                                    fixed_now) -> None:
    """A hook that reads, then writes, must not fail because a crawl committed in between (SQLite:
    a deferred transaction's stale snapshot cannot become a writer). The tick holds the write
    lock from its start, so the other writer waits instead."""
    import sqlite3

    path = sqlite_engine.url.database
    outside: list[str] = []

    def reader_then_writer(session, report, now, settings) -> None:
        session.exec(select(func.count()).select_from(AuditLog)).one()  # the hook reads first
        other = sqlite3.connect(path, timeout=0.2)  # a crawl storing a source meanwhile
        try:
            other.execute("INSERT INTO crawl_probe (x) VALUES (1)")
            other.commit()
            outside.append("committed")
        except sqlite3.OperationalError as exc:
            outside.append(str(exc))
        finally:
            other.close()
        audit.record(session, actor="alerts", action="test.hook", entity="tick", entity_id=None, now=now)

    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE crawl_probe (x INTEGER)")
    alerting.TICK_HOOKS.append(reader_then_writer)
    summary = ticking.run_tick(sqlite_engine, cfg, fixed_now)
    assert summary.get("hook_errors", []) == []
    assert audit_count(sqlite_engine) == 1  # the hook's write was kept
    assert outside == ["database is locked"]  # the other writer waited for the tick's transaction
