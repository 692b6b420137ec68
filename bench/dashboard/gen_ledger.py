"""Ledger part of the synthetic data: cases with their clocks, releases and review steps, briefings,
commitments (with clocks), referrals, case posts, audit entries; messages with reply clocks; alerts.

Clock rows mirror what ``ledger.clocks.service`` writes for the shipped rules: one clock per rule
that applies to the case's grade, anchored at discovery, with the rule snapshot; 持续发布 clocks
restarted after each release (earlier ones met); met / missed / breached / warning / running by
whether and when the duty was done compared with ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bench.dashboard.generate import (
    CHANNELS,
    COUNTIES,
    SHANGHAI,
    SOURCES,
    UNITS,
    Gen,
    _copy,
    _j,
    _working_days_after,
)

CASE_COLS = ["id", "number", "year", "seq", "title", "summary", "event_id", "grade", "category", "topic",
             "disposal_type", "jurisdiction", "responsible_unit", "lead_unit", "co_units", "discovered_at",
             "occurred_at", "status", "leadership_reported_at", "leadership_report_note", "last_release_at",
             "closed_at", "archived_at", "created_by", "created_at", "updated_at"]
CLOCK_COLS = ["id", "subject", "subject_id", "rule_id", "rule_name", "rule_snapshot", "kind", "anchor_at", "due_at",
              "warn_at", "provisional", "status", "closed", "met_at", "late", "overdue_at", "paused_at",
              "paused_seconds", "paused_working_days", "extension", "restarts", "started_at", "updated_at",
              "cancelled_at", "note"]
AUDIT_COLS = ["id", "at", "actor", "action", "entity", "entity_id", "before", "after", "note"]
STATUSES = ["发现", "研判", "交办", "处置", "已回应", "办结", "归档"]
RESPONDED = ("已回应", "办结", "归档")


def _hours(rule) -> float:
    if rule.unit == "immediate":
        return 0.0
    return rule.limit if rule.unit == "hours" else rule.limit * 24 * 1.4


def _warn_hours(rule) -> float | None:
    if rule.warn_at is None:
        return None
    if rule.warn_unit == "hours":
        return rule.warn_at
    if rule.warn_unit == "fraction":
        return _hours(rule) * rule.warn_at
    return max(0.0, _hours(rule) - rule.warn_at * 24)


class _Ids:
    def __init__(self) -> None:
        self.n: dict[str, int] = {}

    def next(self, table: str) -> int:
        self.n[table] = self.n.get(table, 0) + 1
        return self.n[table]


def _clock(g: Gen, ids: _Ids, *, subject: str, subject_id: int, rule, anchor: datetime, done: datetime | None,
           forced_close: bool, restarts: int = 0) -> tuple:
    """One clock row; ``done`` when the duty was done (None: not yet)."""
    due = anchor + timedelta(hours=_hours(rule))
    wh = _warn_hours(rule)
    warn = anchor + timedelta(hours=wh) if wh is not None else None
    met_at = late = overdue = None
    closed = False
    if done is not None and done <= g.now:
        status, closed, met_at, late = "met", True, done, done > due
    elif due <= g.now:
        status, overdue = ("missed" if rule.kind == "target" else "breached"), due
        closed = forced_close
    elif warn is not None and warn <= g.now:
        status = "warning"
    else:
        status = "running"
    updated = met_at or overdue or anchor
    return (ids.next("clock"), subject, subject_id, rule.id, rule.name, _j(rule.snapshot()), rule.kind, anchor, due,
            warn, False, status, closed, met_at, late, overdue, None, 0, 0, 0.0, restarts, anchor, updated, None, None)


def _case_status(g: Gen, age_days: float) -> str:
    r = g.rnd
    if age_days > 14:
        weights = (0, 0, 1, 4, 7, 55, 33)
    elif age_days > 3:
        weights = (0, 10, 10, 20, 20, 40, 0)
    else:
        weights = (20, 30, 20, 20, 10, 0, 0)
    return r.choices(STATUSES, weights=weights)[0]


def cases(g: Gen, conn) -> None:
    r, now = g.rnd, g.now
    ids = _Ids()
    g.clock_ids = ids
    case_rules = [x for x in g.clock_rules if x.subject == "case"]
    commitment_rule = next(x for x in g.clock_rules if x.id == "commitment_due")
    disposal = list((g.policy.get("disposal") or {}).keys()) or ["实际困难"]
    review_steps = g.policy.get("review_steps") or ["初审", "复审", "终审", "保密审查"]
    times = sorted(g.start + timedelta(seconds=r.random() * 90 * 86400) for _ in range(g.n_cases))
    rows_case, rows_clock, rows_audit, rows_rel, rows_rev = [], [], [], [], []
    rows_brief, rows_com, rows_ref, rows_cp = [], [], [], []
    counters: dict[int, int] = {}
    g.case_info: list[tuple[int, str, str, str | None, datetime]] = []  # id, status, grade, unit, discovered

    def audit(at: datetime, action: str, entity: str, entity_id: int, after: dict[str, Any] | None = None) -> None:
        rows_audit.append((ids.next("audit_log"), min(at, now), r.choice(g.users), action, entity, str(entity_id),
                           None, _j(after) if after else None, None))

    for cid, disc in enumerate(times, 1):
        year = disc.astimezone(SHANGHAI).year
        counters[year] = seq = counters.get(year, 0) + 1
        grade = r.choices(("一般", "较大", "重大", "特别重大"), weights=(45, 30, 20, 5))[0]
        major = grade in ("重大", "特别重大")
        age = (now - disc).total_seconds() / 86400
        status = _case_status(g, age)
        event_id = r.choice(g.live_events) if g.live_events and r.random() < 0.5 else None
        place, issue = g.event_topic.get(event_id, (r.choice(COUNTIES), "群众反映问题")) if event_id else (
            r.choice(COUNTIES), r.choice(("供暖不达标", "拖欠工资", "噪音扰民", "占道经营", "房屋质量问题")))
        unit = r.choice(UNITS) if status != "发现" or r.random() < 0.3 else None
        closed_at = archived_at = None
        if status in ("办结", "归档"):
            closed_at = disc + timedelta(days=r.uniform(0.5, max(0.6, min(age - 0.1, 20))))
            if status == "归档":
                archived_at = min(now, closed_at + timedelta(days=r.uniform(0.5, 5)))
        responded = status in RESPONDED
        first_release = disc + timedelta(hours=r.uniform(1, 6 if major else 40)) if responded else None
        if first_release and closed_at and first_release > closed_at:
            first_release = closed_at - timedelta(minutes=10)
        if first_release and first_release > now:
            first_release = now - timedelta(minutes=5)
        reported = disc + timedelta(minutes=r.randint(5, 90)) if major and r.random() < 0.9 else None
        if reported and reported > now:
            reported = None
        g.case_info.append((cid, status, grade, unit, disc))
        cat = r.choice(g.cats)["name"] if g.cats else None
        rows_case.append((
            cid, f"{year}-{seq:04d}", year, seq, f"{place}{issue}", f"网民反映{place}{issue}，需核实处置。", event_id,
            grade, cat, r.choice(g.tops)["name"] if g.tops and r.random() < 0.6 else None,
            r.choice(disposal) if r.random() < 0.7 else None, r.choice(COUNTIES), unit,
            unit if major else None, _j([r.choice(UNITS)] if r.random() < 0.2 else []), disc,
            disc - timedelta(hours=r.uniform(0, 12)), status, reported, None, first_release, closed_at, archived_at,
            r.choice(g.users), disc, min(now, (archived_at or closed_at or disc) + timedelta(minutes=1))))
        audit(disc, "case.open", "case", cid, {"grade": grade})
        for k in range(1, STATUSES.index(status) + 1):
            audit(disc + timedelta(hours=k * 2), "case.transition", "case", cid, {"status": STATUSES[k]})
        # clocks of the rules that apply to the grade
        for rule in case_rules:
            if grade not in (rule.applies_to.get("grade") or ()):
                continue
            if rule.id == "leadership_report":
                done = reported
            elif rule.id == "press_briefing":
                done = disc + timedelta(hours=r.uniform(6, 30)) if responded and r.random() < 0.7 else None
            else:
                done = first_release if r.random() < 0.93 else None
            if rule.repeat and first_release is not None:  # 持续发布: restarted from each release
                anchor, k = first_release, 0
                end = closed_at or now
                while True:
                    nxt = anchor + timedelta(hours=r.uniform(12, 30))
                    if nxt >= end or k >= 8:
                        break
                    rows_clock.append(_clock(g, ids, subject="case", subject_id=cid, rule=rule, anchor=anchor,
                                             done=nxt, forced_close=True, restarts=k))
                    anchor, k = nxt, k + 1
                rows_clock.append(_clock(g, ids, subject="case", subject_id=cid, rule=rule, anchor=anchor,
                                         done=closed_at, forced_close=closed_at is not None, restarts=k))
            else:
                rows_clock.append(_clock(g, ids, subject="case", subject_id=cid, rule=rule, anchor=disc, done=done,
                                         forced_close=closed_at is not None))
            audit(disc, "clock.start", "clock", rows_clock[-1][0], {"rule": rule.id})
        # releases with their review steps
        if responded:
            for k in range(r.choice((1, 1, 2)) if not major else r.randint(1, 3)):
                rid = ids.next("release")
                pub = first_release + timedelta(hours=k * r.uniform(6, 24))
                pub = min(pub, now - timedelta(minutes=1))
                steps = [{"step": s, "reviewer": r.choice(g.users), "decision": "通过"} for s in review_steps]
                rows_rel.append((rid, cid, "权威信息" if k == 0 else "进展通报", f"关于{place}{issue}的情况通报",
                                 f"针对网民反映的{place}{issue}问题，经核查……", 1, _j(steps), "已发布",
                                 r.choice(g.users), pub - timedelta(hours=1), pub, pub, "政府网站",
                                 f"https://example.gov.cn/news/{rid}", r.choice(g.users)))
                for si, s in enumerate(review_steps):
                    t = pub - timedelta(minutes=50 - si * 10)
                    rows_rev.append((ids.next("release_review"), rid, 1, s, si, r.choice(g.users), t, "通过", None,
                                     r.choice(g.users), t))
                audit(pub, "release.publish", "release", rid)
        if major and responded and r.random() < 0.4:
            bid = ids.next("briefing")
            held = min(now, disc + timedelta(hours=r.uniform(6, 24)))
            rows_brief.append((bid, cid, held, "市政府新闻发布厅", r.choice(g.users), None, r.choice(g.users), held))
            audit(held, "briefing.record", "briefing", bid)
        if responded and r.random() < 0.15:
            mid = ids.next("commitment")
            due = disc + timedelta(days=r.randint(3, 30))
            fulfilled = due - timedelta(days=r.uniform(-2, 3)) if r.random() < 0.7 else None
            fulfilled = fulfilled if fulfilled and fulfilled <= now else None
            rows_com.append((mid, cid, f"{r.randint(3, 30)}日内完成{issue[:6]}整改", unit or r.choice(UNITS),
                             due.astimezone(SHANGHAI).date(), due, "已落实" if fulfilled else "落实中", None, fulfilled,
                             None, None, due if not fulfilled and due < now else None, r.choice(g.users), disc,
                             fulfilled or disc))
            c = _clock(g, ids, subject="commitment", subject_id=mid, rule=commitment_rule, anchor=due, done=fulfilled,
                       forced_close=False)
            rows_clock.append(c)
        if r.random() < 0.03:
            fid = ids.next("referral")
            at = min(now, disc + timedelta(hours=r.uniform(1, 48)))
            rows_ref.append((fid, cid, r.choice(("公安机关", "网信部门", "网络监管部门")), at, None, None,
                             r.choice(g.users), at))
        linked = set()
        for _ in range(r.randint(1, 5)):
            pid = g.event_posts.get(event_id) if event_id and not linked else r.randint(1, g.counts["post"])
            if pid and pid not in linked:
                linked.add(pid)
                rows_cp.append((ids.next("case_post"), cid, pid, disc, r.choice(g.users)))

    g.counts["ledger_case"] = _copy(conn, "ledger_case", CASE_COLS, rows_case)
    _copy(conn, "case_counter", ["year", "last"], sorted(counters.items()))
    g.counts["clock_case_and_commitment"] = _copy(conn, "clock", CLOCK_COLS, rows_clock)
    g.counts["release"] = _copy(conn, "release", [
        "id", "case_id", "kind", "title", "text", "revision", "review_steps", "status", "drafted_by", "created_at",
        "updated_at", "published_at", "channel", "url", "published_by"], rows_rel)
    g.counts["release_review"] = _copy(conn, "release_review", [
        "id", "release_id", "revision", "step", "step_index", "reviewer", "reviewed_at", "decision", "comment",
        "recorded_by", "recorded_at"], rows_rev)
    g.counts["briefing"] = _copy(conn, "briefing", [
        "id", "case_id", "held_at", "place", "spokesperson", "note", "recorded_by", "recorded_at"], rows_brief)
    g.counts["commitment"] = _copy(conn, "commitment", [
        "id", "case_id", "text", "owner_unit", "due_date", "due_at", "status", "evidence", "fulfilled_at",
        "public_where", "public_at", "overdue_at", "created_by", "created_at", "updated_at"], rows_com)
    g.counts["referral"] = _copy(conn, "referral", [
        "id", "case_id", "target", "referred_at", "reference", "note", "recorded_by", "recorded_at"], rows_ref)
    g.counts["case_post"] = _copy(conn, "case_post", ["id", "case_id", "post_id", "added_at", "added_by"], rows_cp)
    g.counts["audit_log"] = _copy(conn, "audit_log", AUDIT_COLS, rows_audit)
    g.audit_ids = ids


def messages(g: Gen, conn) -> None:
    r, now, ids = g.rnd, g.now, g.clock_ids
    n = max(50, g.n_cases * 5)
    rules = {x.id: x for x in g.clock_rules if x.subject == "message"}
    hotline = len(SOURCES)  # the 12345 source is the last one
    rows_msg, rows_clock = [], []
    for mid in range(1, n + 1):
        received = g._time()
        simple = r.random() < 0.3
        due = _working_days_after(received, 3 if simple else 5)
        replied = None
        if r.random() < (0.93 if due < now else 0.5):
            replied = received + (due - received) * r.uniform(0.1, 1.15)
            replied = replied if replied <= now else None
        on_time = None if replied is None else replied <= due
        late_days = max(1, int((replied - due).total_seconds() // 86400) + 1) if replied and not on_time else None
        place, issue = r.choice(list(g.event_topic.values())) if g.event_topic else ("示例市", "问题")
        rows_msg.append((mid, hotline, None, f"{received.astimezone(SHANGHAI):%Y%m%d}{mid:06d}", r.choice(CHANNELS),
                         f"关于{place}{issue}的诉求", f"我是{place}居民，{issue}，请尽快处理。", g._name(), received,
                         simple, r.choice(UNITS), "已转相关单位办理并答复。" if replied else None, replied, due,
                         False, on_time, late_days, 0, 0))
        rule = rules["message_reply_simple" if simple else "message_reply"]
        c = list(_clock(g, ids, subject="message", subject_id=mid, rule=rule, anchor=received, done=replied,
                        forced_close=False))
        c[8] = due  # due time as the working-day calendar gives it
        rows_clock.append(tuple(c))
    g.counts["message"] = _copy(conn, "message", [
        "id", "source_id", "post_id", "external_id", "channel", "title", "text", "author", "received_at", "simple",
        "unit", "reply_text", "replied_at", "due_at", "due_provisional", "on_time", "late_working_days", "likes",
        "dislikes"], rows_msg)
    g.counts["clock_message"] = _copy(conn, "clock", CLOCK_COLS, rows_clock)


def alerts(g: Gen, conn) -> None:
    r, now = g.rnd, g.now
    rows: list[tuple] = []
    aid = 0
    for cid, status, grade, unit, disc in g.case_info:
        if r.random() > 0.2:
            continue
        aid += 1
        open_case = status not in ("办结", "归档")
        state = (r.choices(("open", "acknowledged"), weights=(1, 3))[0] if open_case else "resolved")
        opened = disc + timedelta(hours=r.uniform(2, 50))
        opened = min(opened, now - timedelta(minutes=1))
        rows.append((aid, f"case:{cid}", "clock_breached", _j(["clock_breached"]), 3, grade, "case", cid, unit,
                     f"案件时限超时：{cid}", "时钟已超过期限", "default", state, 1 if state == "open" else 2,
                     opened + timedelta(minutes=30) if state == "open" else None, 0, 2, opened, opened,
                     opened + timedelta(minutes=20) if state != "open" else None,
                     r.choice(g.users) if state != "open" else None,
                     opened + timedelta(hours=3) if state == "resolved" else None,
                     "case closed" if state == "resolved" else None))
    g.counts["alert"] = _copy(conn, "alert", [
        "id", "group_key", "trigger", "triggers", "rank", "grade", "subject", "subject_id", "unit", "title", "summary",
        "chain", "state", "step", "next_step_at", "repeats", "seq", "opened_at", "updated_at", "acknowledged_at",
        "acknowledged_by", "resolved_at", "resolution"], rows)
    g.counts["alert_open"] = sum(1 for row in rows if row[12] == "open")
