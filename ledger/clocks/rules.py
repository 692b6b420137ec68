"""The clock-rule engine: rules as data (``clocks.toml``), which apply, and when each clock is due.

Pure functions over plain values — no database, no configuration files, no clock reads. A rule
says, for one kind of subject (case, message, commitment, policy, disclosure), when a duty
starts (its *anchor*, a named fact such as ``discovered_at``), how long it may take (calendar
``hours``, ``working_days`` on :class:`ledger.clocks.calendar.WorkCalendar`, or ``immediate``), whether
missing it is a missed *target* or a breached *limit*, when to warn, and the source text that
imposes it. The database side lives in :mod:`ledger.clocks.service`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledger.clocks.calendar import WorkCalendar

SUBJECTS = ("case", "message", "commitment", "policy", "disclosure")
UNITS = ("hours", "working_days", "immediate")
KINDS = ("target", "limit")
WARN_UNITS = ("fraction", "hours", "working_days")

RUNNING = "running"
WARNING = "warning"
MET = "met"
MISSED = "missed"
BREACHED = "breached"
PAUSED = "paused"
CANCELLED = "cancelled"
RESTARTED = "restarted"
#: statuses advance_clocks still has to move
ACTIVE_STATUSES = (RUNNING, WARNING)
#: statuses in which a clock still waits for its duty to be done
OPEN_STATUSES = (RUNNING, WARNING, PAUSED)
#: overdue statuses (the duty may still be done, late)
OVERDUE_STATUSES = (MISSED, BREACHED)

STATUS_LABELS = {
    RUNNING: "计时中",
    WARNING: "即将到期",
    MET: "已完成",
    MISSED: "未达目标",
    BREACHED: "已超时限",
    PAUSED: "已暂停",
    CANCELLED: "已取消",
    RESTARTED: "已重新计时",
}


class RuleConfigError(ValueError):
    """A clock rule in the configuration is invalid; the message names the rule and field."""


@dataclass(frozen=True)
class ClockRule:
    """One duty with a time limit, as configured.

    ``applies_to`` maps a fact name to a required value: a list means "one of", a scalar means
    "equal to"; a key ending in ``_not`` means "not one of". A missing fact never matches a
    positive condition. ``repeat``: the clock starts again from each new anchor value (持续发布,
    from each release). ``restart_on`` / ``pause_on``: event names that restart (补正) or pause
    (征求第三方意见) it. ``extension``: working days or hours that an approval may add once.
    """

    id: str
    name: str
    subject: str
    anchor: str
    limit: float
    unit: str
    kind: str = "limit"
    applies_to: Mapping[str, Any] = field(default_factory=dict)
    warn_at: float | None = None
    warn_unit: str = "fraction"
    repeat: bool = False
    pausable: bool = False
    restart_on: tuple[str, ...] = ()
    pause_on: tuple[str, ...] = ()
    extension: float | None = None
    extension_requires: str | None = None
    source: str = ""
    description: str = ""
    enabled: bool = True

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready copy of the rule, stored with each clock it starts (built once per rule)."""
        cached = self.__dict__.get("_snapshot")
        if cached is None:
            cached = asdict(self)
            cached["applies_to"] = dict(self.applies_to)
            cached["restart_on"] = list(self.restart_on)
            cached["pause_on"] = list(self.pause_on)
            object.__setattr__(self, "_snapshot", cached)  # frozen dataclass: cache on the side
        return dict(cached)

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> ClockRule:
        return _build_rule(dict(data), where=f"snapshot {data.get('id')!r}")


@dataclass(frozen=True)
class ClockTimes:
    """When a clock is due, when it warns, whether the due time is provisional, and its kind."""

    due: datetime
    warn: datetime | None
    provisional: bool
    kind: str = "limit"


_FIELDS = {
    "id", "name", "subject", "anchor", "limit", "unit", "kind", "applies_to", "warn_at",
    "warn_unit", "repeat", "pausable", "restart_on", "pause_on", "extension",
    "extension_requires", "source", "description", "enabled",
}


def _build_rule(raw: dict[str, Any], *, where: str) -> ClockRule:
    unknown = set(raw) - _FIELDS
    if unknown:
        raise RuleConfigError(f"{where}: 未知字段 {sorted(unknown)}")
    for key in ("id", "name", "subject", "anchor", "unit"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise RuleConfigError(f"{where}: 缺少字段或不是文字: {key}")
    rid = raw["id"]
    where = f"规则 {rid!r}"
    if raw["subject"] not in SUBJECTS:
        raise RuleConfigError(f"{where}: subject 应为 {SUBJECTS} 之一, 得到 {raw['subject']!r}")
    if raw["unit"] not in UNITS:
        raise RuleConfigError(f"{where}: unit 应为 {UNITS} 之一, 得到 {raw['unit']!r}")
    kind = raw.get("kind", "limit")
    if kind not in KINDS:
        raise RuleConfigError(f"{where}: kind 应为 {KINDS} 之一, 得到 {kind!r}")
    limit = raw.get("limit", 0 if raw["unit"] == "immediate" else None)
    if isinstance(limit, bool) or not isinstance(limit, int | float) or limit < 0:
        raise RuleConfigError(f"{where}: limit 应为非负数, 得到 {limit!r}")
    if raw["unit"] == "working_days" and int(limit) != limit:
        raise RuleConfigError(f"{where}: 工作日期限应为整数, 得到 {limit!r}")
    if raw["unit"] == "immediate" and limit != 0:
        raise RuleConfigError(f"{where}: unit = immediate 时 limit 应为 0")
    applies = raw.get("applies_to", {})
    if not isinstance(applies, Mapping):
        raise RuleConfigError(f"{where}: applies_to 应为表, 如 {{ grade = [\"重大\"] }}")
    warn_at = raw.get("warn_at")
    warn_unit = raw.get("warn_unit", "fraction")
    if warn_unit not in WARN_UNITS:
        raise RuleConfigError(f"{where}: warn_unit 应为 {WARN_UNITS} 之一, 得到 {warn_unit!r}")
    if warn_at is not None:
        if isinstance(warn_at, bool) or not isinstance(warn_at, int | float) or warn_at < 0:
            raise RuleConfigError(f"{where}: warn_at 应为非负数, 得到 {warn_at!r}")
        if warn_unit == "fraction" and not 0 < warn_at < 1:
            raise RuleConfigError(f"{where}: warn_unit = fraction 时 warn_at 应在 0 与 1 之间")
        if warn_unit == "hours" and raw["unit"] == "hours" and warn_at >= limit:
            raise RuleConfigError(f"{where}: warn_at ({warn_at} h) 应小于 limit ({limit} h)")
    extension = raw.get("extension")
    if extension is not None and (
        isinstance(extension, bool) or not isinstance(extension, int | float) or extension <= 0
    ):
        raise RuleConfigError(f"{where}: extension 应为正数, 得到 {extension!r}")
    lists = {}
    for key in ("restart_on", "pause_on"):
        value = raw.get(key, ())
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise RuleConfigError(f"{where}: {key} 应为文字列表")
        lists[key] = tuple(value)
    pausable = bool(raw.get("pausable", bool(lists["pause_on"])))
    return ClockRule(
        id=rid,
        name=raw["name"],
        subject=raw["subject"],
        anchor=raw["anchor"],
        limit=float(limit) if raw["unit"] == "hours" else int(limit),
        unit=raw["unit"],
        kind=kind,
        applies_to=dict(applies),
        warn_at=None if warn_at is None else float(warn_at),
        warn_unit=warn_unit,
        repeat=bool(raw.get("repeat", False)),
        pausable=pausable,
        restart_on=lists["restart_on"],
        pause_on=lists["pause_on"],
        extension=None if extension is None else float(extension),
        extension_requires=raw.get("extension_requires"),
        source=str(raw.get("source", "")),
        description=str(raw.get("description", "")),
        enabled=bool(raw.get("enabled", True)),
    )


def load_rules(cfg: Mapping[str, Any]) -> list[ClockRule]:
    """Rules from the parsed ``clocks.toml`` (``[[rule]]`` tables); raises RuleConfigError."""
    raw_rules = cfg.get("rule") if isinstance(cfg, Mapping) else None
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RuleConfigError("clocks.toml: 没有 [[rule]] 规则")
    rules: list[ClockRule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules, 1):
        if not isinstance(raw, Mapping):
            raise RuleConfigError(f"clocks.toml: 第 {i} 条规则应为表")
        rule = _build_rule(dict(raw), where=f"clocks.toml 第 {i} 条规则")
        if rule.id in seen:
            raise RuleConfigError(f"clocks.toml: 规则 id 重复: {rule.id!r}")
        seen.add(rule.id)
        rules.append(rule)
    return rules


def _matches(condition: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    for key, expected in condition.items():
        negate = key.endswith("_not")
        name = key[:-4] if negate else key
        present = name in facts and facts[name] is not None
        value = facts.get(name)
        if isinstance(expected, list | tuple | set | frozenset):
            hit = present and value in expected
        else:
            hit = present and value == expected
        if negate:
            hit = not hit
        if not hit:
            return False
    return True


def rules_for(subject: str, facts: Mapping[str, Any], rules: list[ClockRule]) -> list[ClockRule]:
    """The enabled rules for ``subject`` whose ``applies_to`` conditions the facts satisfy."""
    return [r for r in rules if r.enabled and r.subject == subject and _matches(r.applies_to, facts)]


def rule_by_id(rules: list[ClockRule], rule_id: str) -> ClockRule:
    for rule in rules:
        if rule.id == rule_id:
            return rule
    raise KeyError(f"未知的时限规则: {rule_id!r}")


def compute(
    rule: ClockRule, anchor: datetime, cal: WorkCalendar, *, extra: float = 0
) -> ClockTimes:
    """Due and warning instants of ``rule`` started at ``anchor`` (``extra``: approved extension
    in the rule's unit)."""
    if anchor.tzinfo is None or anchor.utcoffset() is None:
        raise ValueError(f"时限起点缺少时区: {anchor!r}")
    limit = rule.limit + extra
    if rule.unit == "hours":
        due = cal.add_hours(anchor, limit)
    elif rule.unit == "working_days":
        due = cal.add_working_days(anchor, int(limit))
    else:  # immediate: due at the anchor itself (a commitment's due date, a report at once)
        return ClockTimes(due=anchor, warn=warn_time(rule, anchor, anchor, cal), provisional=False,
                          kind=rule.kind)
    return ClockTimes(due=due.at, warn=warn_time(rule, anchor, due.at, cal), provisional=due.provisional,
                      kind=rule.kind)


def warn_time(rule: ClockRule, anchor: datetime, due: datetime, cal: WorkCalendar) -> datetime | None:
    """The warning instant: a fraction of the period, hours after the anchor, or the start of
    the ``warn_at``-th working day counting back from the due date."""
    if rule.warn_at is None:
        return None
    if rule.unit == "immediate" and rule.warn_unit != "working_days":
        return None
    if rule.warn_unit == "fraction":
        warn = anchor + (due - anchor) * rule.warn_at
    elif rule.warn_unit == "hours":
        warn = anchor + timedelta(hours=rule.warn_at)
    else:
        day = cal.working_day_back(cal.local_date(due), int(rule.warn_at))
        warn = cal.start_of_day(day)
    if warn >= due:
        return None
    return warn if rule.unit == "immediate" else max(warn, anchor)


def status_at(
    times: ClockTimes, met_at: datetime | None, now: datetime, *, kind: str | None = None
) -> str:
    """State of a clock at ``now``: running / warning / met / missed (target) / breached (limit).
    A duty done late is still ``"met"``; see :func:`met_late`."""
    if met_at is not None and met_at <= now:
        return MET
    if now > times.due:
        return MISSED if (kind or times.kind) == "target" else BREACHED
    if times.warn is not None and now >= times.warn:
        return WARNING
    return RUNNING


#: outcomes of a duty as every view reports it (case page, ``case show --json``, statistics, export)
ON_TIME = "on_time"
LATE = "late"
OPEN = "open"
NOT_COUNTED = "not_counted"
OUTCOME_LABELS = {ON_TIME: "按时", LATE: "超时", OPEN: "办理中", NOT_COUNTED: "不计"}


def outcome(status: str, late: bool | None, due_at: datetime | None, as_of: datetime | None = None) -> str:
    """The one judgement of a duty's timeliness, used by every view: ``on_time`` (done by its due
    time), ``late`` (done after it, or overdue and not done, including a running clock whose due
    time passed before ``as_of``), ``open`` (not due yet) or ``not_counted`` (cancelled, or a
    period closed by a restart: the duty no longer applied)."""
    if status == MET:
        return LATE if late else ON_TIME
    if status in OVERDUE_STATUSES:
        return LATE
    if status in OPEN_STATUSES:
        if as_of is not None and due_at is not None and due_at < as_of:
            return LATE
        return OPEN
    return NOT_COUNTED


def status_label(status: str, late: bool | None = None) -> str:
    """The status as shown to people; a duty done late says so (已完成（超时）)."""
    if status == MET and late:
        return "已完成（超时）"
    if status == MET:
        return "已按时完成"
    return STATUS_LABELS.get(status, status)


def met_late(times: ClockTimes, met_at: datetime | None) -> bool | None:
    """Whether the duty was done after the due instant (None while not done)."""
    if met_at is None:
        return None
    return met_at > times.due
