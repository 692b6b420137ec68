"""Alerts: triggers become signals, signals are grouped into one alert (escalation chain) per
grouping key, inhibited when a stronger signal of the same group arrives at the same time,
and escalated step by step (on-duty person → duty leader → 分管领导) until someone
acknowledges. Acknowledging stops the escalation; resolving (the cause is gone) closes the alert.

Every notification is written to the outbox (:mod:`ledger.alerts.outbox`) in the caller's transaction.
The escalation policy is plain data (parsed from ``escalation.toml`` by the composition root).
Functions take the session and do not commit; ``now`` is always an argument.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ledger import audit
from ledger.alerts import duty, outbox
from ledger.models.alerts import Alert, Notification

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATE_LABELS = {OPEN: "未确认", ACKNOWLEDGED: "已确认", RESOLVED: "已解除"}
ACK_SALT = "yuqing-alert-ack"

# Built-in labels and ranks; escalation.toml [triggers.<kind>] may override them.
DEFAULT_TRIGGERS: dict[str, dict[str, Any]] = {
    "sensitive_post": {"label": "敏感舆情", "rank": 10},
    "scheme_hit": {"label": "监测方案命中", "rank": 12, "also_to": ["unit"]},
    "calendar_provisional": {"label": "节假日安排缺失(时限暂按周末计算)", "rank": 15},
    "source_down": {"label": "信息来源中断", "rank": 20},
    "case_opened": {"label": "新立台账", "rank": 20},
    "case_regraded": {"label": "台账调整等级", "rank": 25},
    "clock_warning": {"label": "时限预警", "rank": 30},
    "commitment_due": {"label": "承诺即将到期", "rank": 30},
    "leadership_report": {"label": "第一时间向领导报告", "rank": 40, "inhibits": ["case_opened"]},
    "clock_missed": {"label": "未达目标时限", "rank": 50, "inhibits": ["clock_warning"]},
    "commitment_overdue": {"label": "承诺逾期", "rank": 55, "inhibits": ["commitment_due"]},
    "commitment_publish_due": {"label": "承诺落实情况即将到公开期限", "rank": 30},
    "commitment_unpublished": {"label": "承诺落实情况逾期未公开", "rank": 52, "inhibits": ["commitment_publish_due"]},
    "clock_breached": {"label": "已超最迟时限", "rank": 60, "inhibits": ["clock_warning", "clock_missed"]},
}


class AlertError(ValueError):
    """An alert operation that cannot be done (message in Chinese for the user)."""


# ---------------------------------------------------------------------------- policy
@dataclass(frozen=True)
class Step:
    to: tuple[str, ...]
    wait_minutes: float | None = None


@dataclass(frozen=True)
class Chain:
    name: str
    triggers: tuple[str, ...] = ("*",)
    grades: tuple[str, ...] = ("*",)
    steps: tuple[Step, ...] = (Step(("on_duty",)),)
    repeat_minutes: float = 60
    max_repeats: int = 0

    def matches(self, trigger: str, grade: str | None) -> bool:
        return ("*" in self.triggers or trigger in self.triggers) and (
            "*" in self.grades or (grade or "") in self.grades
        )


@dataclass(frozen=True)
class TriggerSpec:
    kind: str
    label: str
    rank: int
    inhibits: tuple[str, ...] = ()
    also_to: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class EscalationPolicy:
    """Chains, trigger specs, destinations and thresholds (from escalation.toml)."""

    chains: tuple[Chain, ...]
    triggers: Mapping[str, TriggerSpec]
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    units: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    persons: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    case_min_grade: str = "较大"
    leadership_grades: tuple[str, ...] = ("重大", "特别重大")
    post_lookback_hours: float = 24
    message_lookback_hours: float = 24
    post_default_threshold: float | None = None
    clock_subjects: tuple[str, ...] = ("case", "commitment", "policy", "disclosure", "message")
    weekly_export_to: tuple[str, ...] = ("role:分管领导", "duty_leader")

    def spec(self, kind: str) -> TriggerSpec:
        return self.triggers.get(kind) or TriggerSpec(kind=kind, label=kind, rank=0)

    def chain_for(self, trigger: str, grade: str | None) -> Chain:
        for chain in self.chains:
            if chain.matches(trigger, grade):
                return chain
        return Chain(name="default")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> EscalationPolicy:
        raw = dict(raw or {})
        chains = []
        for i, c in enumerate(raw.get("chain", []) or []):
            where = f"escalation.toml [[chain]] #{i + 1}"
            steps = []
            for j, s in enumerate(c.get("steps", []) or []):
                to = s.get("to")
                if isinstance(to, str):
                    to = [to]
                if not to:
                    raise ValueError(f"{where} step {j + 1}: 'to' is required")
                wait = s.get("wait_minutes")
                if wait is not None and float(wait) <= 0:
                    raise ValueError(f"{where} step {j + 1}: wait_minutes must be > 0")
                steps.append(Step(tuple(str(t) for t in to), None if wait is None else float(wait)))
            if not steps:
                raise ValueError(f"{where}: at least one step is required")
            repeat = float(c.get("repeat_minutes", 60))
            if repeat <= 0:
                raise ValueError(f"{where}: repeat_minutes must be > 0")
            chains.append(Chain(
                name=str(c.get("name", f"chain{i + 1}")),
                triggers=tuple(_strs(c.get("triggers", ["*"]))), grades=tuple(_strs(c.get("grades", ["*"]))),
                steps=tuple(steps), repeat_minutes=repeat, max_repeats=max(0, int(c.get("max_repeats", 0))),
            ))
        specs: dict[str, TriggerSpec] = {}
        overrides = raw.get("triggers", {}) or {}
        for kind in set(DEFAULT_TRIGGERS) | set(overrides):
            merged = {**DEFAULT_TRIGGERS.get(kind, {}), **(overrides.get(kind) or {})}
            specs[kind] = TriggerSpec(
                kind=kind, label=str(merged.get("label", kind)), rank=int(merged.get("rank", 0)),
                inhibits=tuple(_strs(merged.get("inhibits", []))), also_to=tuple(_strs(merged.get("also_to", []))),
                enabled=bool(merged.get("enabled", True)),
            )
        dest = raw.get("destinations", {}) or {}
        th = raw.get("thresholds", {}) or {}
        weekly = raw.get("weekly_export", {}) or {}
        return cls(
            chains=tuple(chains), triggers=specs,
            roles={k: tuple(_strs(v)) for k, v in (dest.get("roles", {}) or {}).items()},
            units={k: tuple(_strs(v)) for k, v in (dest.get("units", {}) or {}).items()},
            persons={k: tuple(_strs(v)) for k, v in (dest.get("persons", {}) or {}).items()},
            case_min_grade=str(th.get("case_min_grade", "较大")),
            leadership_grades=tuple(_strs(th.get("leadership_grades", ["重大", "特别重大"]))),
            post_lookback_hours=float(th.get("post_lookback_hours", 24)),
            message_lookback_hours=float(th.get("message_lookback_hours", 24)),
            post_default_threshold=(None if th.get("post_default_threshold") is None
                                    else float(th["post_default_threshold"])),
            clock_subjects=tuple(_strs(th.get("clock_subjects", cls.clock_subjects))),
            weekly_export_to=tuple(_strs(weekly.get("to", ["role:分管领导", "duty_leader"]))),
        )


def _strs(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


GRADE_ORDER = ("一般", "较大", "重大", "特别重大")


def grade_at_least(grade: str | None, minimum: str) -> bool:
    if grade not in GRADE_ORDER or minimum not in GRADE_ORDER:
        return False
    return GRADE_ORDER.index(grade) >= GRADE_ORDER.index(minimum)


@dataclass(frozen=True)
class AlertContext:
    """What alerting needs besides the session: the policy, the always-notified URLs
    (``YUQING_ALERT_URLS``), the key for signed links and the dashboard's public address."""

    policy: EscalationPolicy
    always_urls: tuple[str, ...] = ()
    secret_key: str | None = None
    base_url: str = "http://127.0.0.1:8501"
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    ack_max_age_seconds: int = 7 * 24 * 3600


# ---------------------------------------------------------------------------- signals
@dataclass(frozen=True)
class Signal:
    """One fact that may need a notification. ``key`` identifies the fact (a clock's breach, a
    source going down...): an alert never notifies the same key twice."""

    kind: str
    group_key: str
    key: str
    title: str
    text: str
    grade: str | None = None
    subject: str | None = None
    subject_id: int | None = None
    unit: str | None = None
    family: str | None = None  # signals of one duty (3 h target / 5 h limit); None: the whole group


def inhibit(signals: Sequence[Signal], policy: EscalationPolicy) -> list[Signal]:
    """Drop signals that a stronger signal of the same group (and the same duty, when both name
    one) inhibits: the 5 h limit breached inhibits the 3 h target missed and the warnings of the
    same case at the same tick; the leadership report inhibits the plain "case opened"."""
    by_group: dict[str, list[Signal]] = {}
    for s in signals:
        by_group.setdefault(s.group_key, []).append(s)
    kept: list[Signal] = []
    seen: set[tuple[str, str]] = set()
    for s in signals:
        if not policy.spec(s.kind).enabled:
            continue
        if any(s.kind in policy.spec(t.kind).inhibits and t.kind != s.kind
               and (s.family is None or t.family is None or s.family == t.family)
               for t in by_group[s.group_key]):
            continue
        if (s.group_key, s.key) in seen:
            continue
        seen.add((s.group_key, s.key))
        kept.append(s)
    return kept


# ---------------------------------------------------------------------------- recipients
def _hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def resolve_targets(session: Session, targets: Iterable[str], *, alert: Alert | None, ctx: AlertContext,
                    now: datetime) -> list[tuple[str, str]]:
    """(recipient label, apprise URL) pairs for targets like ``on_duty``, ``duty_leader``,
    ``role:分管领导``, ``unit`` (the alert's unit), ``unit:卫健委``, ``person:张三``."""
    pol = ctx.policy
    out: list[tuple[str, str]] = []
    current = None
    for target in targets:
        kind, _, arg = target.partition(":")
        people: list[Any] = []
        extra: list[tuple[str, str]] = []
        if kind in ("on_duty", "duty_leader"):
            current = current or duty.on_duty_at(session, at=now)
            names = current.people if kind == "on_duty" else current.leaders
            people = duty.people_named(session, names)
        elif kind == "role" and arg:
            people = duty.people_with_role(session, arg)
            extra = [(arg, u) for u in pol.roles.get(arg, ())]
        elif kind == "unit":
            unit = arg or (alert.unit if alert is not None else None)
            if unit:
                people = duty.people_of_unit(session, unit)
                extra = [(unit, u) for u in pol.units.get(unit, ())]
        elif kind == "person" and arg:
            people = duty.people_named(session, [arg])
            extra = [(arg, u) for u in pol.persons.get(arg, ())]
        for p in people:
            out.extend((p.name, u) for u in (p.urls or []))
            out.extend((p.name, u) for u in pol.persons.get(p.name, ()))
        out.extend(extra)
    return out


def _recipients(session: Session, targets: Iterable[str], *, alert: Alert, ctx: AlertContext,
                now: datetime) -> list[tuple[str, str]]:
    pairs = resolve_targets(session, targets, alert=alert, ctx=ctx, now=now)
    pairs += [("YUQING_ALERT_URLS", u) for u in ctx.always_urls]
    seen: set[str] = set()
    unique = []
    for label, url in pairs:
        if url and url not in seen:
            seen.add(url)
            unique.append((label, url))
    return unique


# ---------------------------------------------------------------------------- signed links
def make_ack_token(secret_key: str, alert_id: int, recipient: str | None = None) -> str:
    """A signed acknowledgement token for ``alert_id``; ``recipient`` is the roster person the link
    is sent to (recorded as the one who acknowledged), None for a shared destination (sign-in needed)."""
    from itsdangerous import URLSafeTimedSerializer

    data: dict[str, Any] = {"alert": int(alert_id)}
    if recipient:
        data["to"] = recipient
    return URLSafeTimedSerializer(secret_key, salt=ACK_SALT).dumps(data)


def read_ack_claim(secret_key: str | None, token: str, *, max_age_seconds: int) -> tuple[int, str | None]:
    """(alert id, recipient person or None) of a signed acknowledgement token; AlertError when forged
    or expired."""
    from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

    if not secret_key:
        raise AlertError("未配置 YUQING_SECRET_KEY，无法校验确认链接 (no secret key)")
    try:
        data = URLSafeTimedSerializer(secret_key, salt=ACK_SALT).loads(token, max_age=max_age_seconds)
    except SignatureExpired as exc:
        raise AlertError("确认链接已过期 (link expired)") from exc
    except BadSignature as exc:
        raise AlertError("确认链接无效 (invalid link)") from exc
    try:
        to = data.get("to")
        return int(data["alert"]), (str(to) if to else None)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise AlertError("确认链接无效 (invalid link)") from exc


def read_ack_token(secret_key: str | None, token: str, *, max_age_seconds: int) -> int:
    """The alert id in a signed acknowledgement token; AlertError when forged or expired."""
    return read_ack_claim(secret_key, token, max_age_seconds=max_age_seconds)[0]


def ack_link(ctx: AlertContext, alert_id: int, recipient: str | None = None) -> str | None:
    if not ctx.secret_key:
        return None
    return f"{ctx.base_url.rstrip('/')}/ack?token={make_ack_token(ctx.secret_key, alert_id, recipient)}"


# ---------------------------------------------------------------------------- messages
def _local(dt: datetime, ctx: AlertContext) -> str:
    return dt.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M")


def _write(session: Session, alert: Alert, *, targets: Sequence[str], subject: str, lines: Sequence[str],
           now: datetime, ctx: AlertContext, kind: str = "alert") -> list[Notification]:
    """Write one message for the alert to every destination of ``targets`` (+ the always-URLs)."""
    alert.seq = (alert.seq or 0) + 1
    body = list(lines)
    body.append("")
    body.append(f"预警编号 {alert.id}；状态 {STATE_LABELS.get(alert.state, alert.state)}；"
                f"升级第 {alert.step + 1} 级；时间 {_local(now, ctx)}")
    recipients = _recipients(session, targets, alert=alert, ctx=ctx, now=now)
    people = {p.name for p in duty.people_named(session, sorted({label for label, _ in recipients}))}
    people |= {label for label, _ in recipients if label in ctx.policy.persons}
    written = []
    for label, url in recipients:
        # each roster person gets a link in their own name; a shared destination's link asks for a sign-in
        link = ack_link(ctx, alert.id, label if label in people else None)
        text = "\n".join([*body, f"确认收到：{link}" if link else f"确认收到：yuqing alerts ack {alert.id}"])
        row = outbox.enqueue(
            session, key=f"alert:{alert.id}:{alert.seq}:{_hash(url)}", destination=url, recipient=label,
            subject=subject, body=text, now=now, kind=kind, alert_id=alert.id,
        )
        if row is not None:
            written.append(row)
    session.add(alert)
    return written


def alert_to_dict(alert: Alert, ctx: AlertContext | None = None) -> dict[str, Any]:
    return {
        "id": alert.id, "group_key": alert.group_key, "trigger": alert.trigger, "grade": alert.grade,
        "state": alert.state, "state_label": STATE_LABELS.get(alert.state, alert.state), "title": alert.title,
        "subject": alert.subject, "subject_id": alert.subject_id, "unit": alert.unit, "chain": alert.chain,
        "step": alert.step + 1, "repeats": alert.repeats, "next_step_at": alert.next_step_at,
        "opened_at": alert.opened_at, "updated_at": alert.updated_at,
        "acknowledged_at": alert.acknowledged_at, "acknowledged_by": alert.acknowledged_by,
        "resolved_at": alert.resolved_at, "resolution": alert.resolution, "triggers": list(alert.triggers or []),
    }


# ---------------------------------------------------------------------------- raising
def active_alert(session: Session, group_key: str) -> Alert | None:
    """The open or acknowledged alert of a grouping key."""
    return session.exec(
        select(Alert).where(Alert.group_key == group_key, Alert.state != RESOLVED).order_by(Alert.id.desc())
    ).first()


def _chain(ctx: AlertContext, alert: Alert) -> Chain:
    for chain in ctx.policy.chains:
        if chain.name == alert.chain:
            return chain
    return ctx.policy.chain_for(alert.trigger, alert.grade)


def _after_step(chain: Chain, step: int, at: datetime) -> datetime | None:
    """When the step after ``step`` (or the first repeat of the last step) is due."""
    s = chain.steps[step]
    if step < len(chain.steps) - 1:
        return at + timedelta(minutes=s.wait_minutes if s.wait_minutes is not None else chain.repeat_minutes)
    if chain.max_repeats > 0:
        return at + timedelta(minutes=chain.repeat_minutes)
    return None


def _advance_due(alert: Alert, chain: Chain, now: datetime) -> bool:
    """Move the alert through every step (or repeat) due at ``now``; True when one was due."""
    moved = False
    while alert.next_step_at is not None and alert.next_step_at <= now:
        due = alert.next_step_at
        if alert.step < len(chain.steps) - 1:
            alert.step += 1
        elif alert.repeats < chain.max_repeats:
            alert.repeats += 1
        else:
            alert.next_step_at = None
            break
        moved = True
        nxt = _after_step(chain, alert.step, due)
        if nxt is not None and alert.step == len(chain.steps) - 1 and alert.repeats >= chain.max_repeats:
            nxt = None
        alert.next_step_at = nxt
    return moved


def raise_signals(session: Session, signals: Sequence[Signal], *, now: datetime, ctx: AlertContext,
                  actor: str = "system") -> list[Alert]:
    """Group the signals into alerts and write their notifications; returns the alerts notified.

    New group → new alert at step 1 of its chain. Open alert → one message with the new facts to
    every step reached so far (moving on first if a step is due). Acknowledged alert → only a fact stronger
    than any seen so far is sent (to the on-duty staff and whoever acknowledged), with no
    escalation. A fact already notified for the alert (same ``key``) is never sent again.
    """
    pol = ctx.policy
    groups: dict[str, list[Signal]] = {}
    for s in inhibit(signals, pol):
        groups.setdefault(s.group_key, []).append(s)
    notified: list[Alert] = []
    for group_key, sigs in groups.items():
        alert = active_alert(session, group_key)
        if alert is not None:
            seen = set(alert.triggers or [])
            sigs = [s for s in sigs if s.key not in seen]
        if not sigs:
            continue
        top = max(sigs, key=lambda s: pol.spec(s.kind).rank)
        top_rank = pol.spec(top.kind).rank
        grade = next((s.grade for s in sigs if s.grade), None)
        unit = next((s.unit for s in sigs if s.unit), None)
        also = [t for s in sigs for t in pol.spec(s.kind).also_to]
        labels = "、".join(dict.fromkeys(pol.spec(s.kind).label for s in sorted(sigs, key=lambda s: -pol.spec(s.kind).rank)))
        lines = [s.text for s in sigs]
        if alert is None:
            chain = pol.chain_for(top.kind, grade)
            alert = Alert(
                group_key=group_key, trigger=top.kind, triggers=[s.key for s in sigs], rank=top_rank, grade=grade,
                subject=top.subject, subject_id=top.subject_id, unit=unit, title=top.title[:500],
                summary="\n".join(lines)[:4000], chain=chain.name, state=OPEN, step=0, repeats=0, seq=0,
                opened_at=now, updated_at=now,
            )
            alert.next_step_at = _after_step(chain, 0, now)
            session.add(alert)
            session.flush()
            audit.record(session, actor=actor, action="alert.open", entity="alert", entity_id=alert.id, now=now,
                         after=alert_to_dict(alert))
            targets = list(chain.steps[0].to) + also
            _write(session, alert, targets=targets, subject=f"【{labels}】{alert.title}", lines=lines, now=now, ctx=ctx)
            notified.append(alert)
            continue
        before = alert_to_dict(alert)
        alert.triggers = list(alert.triggers or []) + [s.key for s in sigs]
        stronger = top_rank > (alert.rank or 0)
        if stronger:
            alert.rank, alert.trigger = top_rank, top.kind
        alert.grade = grade or alert.grade
        alert.unit = alert.unit or unit
        alert.title = top.title[:500] if stronger else alert.title
        alert.summary = ("\n".join(lines) + "\n" + (alert.summary or ""))[:4000]
        alert.updated_at = now
        if alert.state == OPEN:
            chain = _chain(ctx, alert)
            escalated = _advance_due(alert, chain, now)
            # new facts go to everyone the chain has reached so far
            targets = [t for st in chain.steps[: alert.step + 1] for t in st.to] + also
            prefix = "升级提醒·" if escalated else ""
            _write(session, alert, targets=targets, subject=f"【{prefix}{labels}】{alert.title}", lines=lines,
                   now=now, ctx=ctx)
            notified.append(alert)
        elif stronger:  # acknowledged: tell who is on it, do not escalate
            targets = ["on_duty"] + ([f"person:{alert.acknowledged_by}"] if alert.acknowledged_by else []) + also
            _write(session, alert, targets=targets, subject=f"【{labels}·已确认预警的新情况】{alert.title}",
                   lines=lines, now=now, ctx=ctx)
            notified.append(alert)
        session.add(alert)
        audit.record(session, actor=actor, action="alert.update", entity="alert", entity_id=alert.id, now=now,
                     before=before, after=alert_to_dict(alert), note=labels)
    return notified


def run_escalations(session: Session, *, now: datetime, ctx: AlertContext, actor: str = "system") -> list[Alert]:
    """Move every open (unacknowledged) alert whose next step is due and notify that step once,
    however many steps a late run skipped over."""
    due = session.exec(
        select(Alert).where(Alert.state == OPEN, Alert.next_step_at.is_not(None), Alert.next_step_at <= now)
        .order_by(Alert.id)
    ).all()
    moved = []
    for alert in due:
        chain = _chain(ctx, alert)
        before = alert_to_dict(alert)
        if not _advance_due(alert, chain, now):
            session.add(alert)
            continue
        alert.updated_at = now
        repeat = f"（第{alert.repeats}次重复）" if alert.repeats else ""
        lines = [f"此预警自 {_local(alert.opened_at, ctx)} 起尚无人确认，现升级至第 {alert.step + 1} 级{repeat}。",
                 alert.summary or alert.title]
        _write(session, alert, targets=list(chain.steps[alert.step].to),
               subject=f"【升级提醒·未确认】{alert.title}", lines=lines, now=now, ctx=ctx, kind="escalation")
        audit.record(session, actor=actor, action="alert.escalate", entity="alert", entity_id=alert.id, now=now,
                     before=before, after=alert_to_dict(alert))
        moved.append(alert)
    return moved


# ---------------------------------------------------------------------------- ack / resolve
def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertError(f"预警不存在 (no alert {alert_id})")
    return alert


def acknowledge(session: Session, *, alert_id: int, by: str, now: datetime, via: str = "cli") -> Alert:
    """Acknowledge an alert: escalation stops, the alert stays until resolved. Idempotent."""
    alert = get_alert(session, alert_id)
    if alert.state == RESOLVED:
        raise AlertError(f"预警 {alert_id} 已解除，无需确认 (already resolved)")
    if alert.state == ACKNOWLEDGED:
        return alert
    before = alert_to_dict(alert)
    alert.state = ACKNOWLEDGED
    alert.acknowledged_at = now
    alert.acknowledged_by = (by or "").strip()[:100] or "unknown"
    alert.next_step_at = None
    alert.updated_at = now
    session.add(alert)
    audit.record(session, actor=alert.acknowledged_by, action="alert.ack", entity="alert", entity_id=alert.id,
                 now=now, before=before, after=alert_to_dict(alert), note=f"via {via}")
    return alert


def resolve(session: Session, *, alert: Alert, now: datetime, reason: str, actor: str = "system") -> Alert:
    """Close an alert whose cause is gone (case closed, source back up...)."""
    if alert.state == RESOLVED:
        return alert
    before = alert_to_dict(alert)
    alert.state = RESOLVED
    alert.resolved_at = now
    alert.resolution = reason[:200]
    alert.next_step_at = None
    alert.updated_at = now
    session.add(alert)
    audit.record(session, actor=actor, action="alert.resolve", entity="alert", entity_id=alert.id, now=now,
                 before=before, after=alert_to_dict(alert), note=reason)
    return alert


def resolve_group(session: Session, group_key: str, *, now: datetime, reason: str, actor: str = "system") -> Alert | None:
    alert = active_alert(session, group_key)
    if alert is not None:
        resolve(session, alert=alert, now=now, reason=reason, actor=actor)
    return alert


def list_alerts(session: Session, *, state: str | None = None, limit: int = 500) -> list[Alert]:
    stmt = select(Alert)
    if state == "active":
        stmt = stmt.where(Alert.state != RESOLVED)
    elif state:
        stmt = stmt.where(Alert.state == state)
    return list(session.exec(stmt.order_by(Alert.id.desc()).limit(limit)))


def notify_direct(session: Session, *, key: str, targets: Sequence[str], subject: str, body: str, now: datetime,
                  ctx: AlertContext, kind: str, attachments: Sequence[str] = ()) -> list[Notification]:
    """A notification that belongs to no alert (e.g. the weekly export), to targets + always-URLs."""
    pairs = resolve_targets(session, targets, alert=None, ctx=ctx, now=now)
    pairs += [("YUQING_ALERT_URLS", u) for u in ctx.always_urls]
    written, seen = [], set()
    for label, url in pairs:
        if url in seen:
            continue
        seen.add(url)
        row = outbox.enqueue(session, key=f"{key}:{_hash(url)}", destination=url, recipient=label, subject=subject,
                             body=body, now=now, kind=kind, attachments=attachments)
        if row is not None:
            written.append(row)
    return written
