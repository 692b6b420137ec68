"""Duty roster (值班表): people and their notification addresses, shifts with the people on duty
and the duty leader (带班领导), who is on duty at a given instant, and import from an xlsx file.

Repository functions take the session and do not commit; the caller owns the transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ledger import audit
from ledger.db import stable_in
from ledger.models.alerts import DutyShift, Person

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROLE_ON_DUTY = "值班人员"
ROLE_LEADER = "带班领导"
_SPLIT_NAMES = re.compile(r"[、,，;；/\s]+")
_SPLIT_URLS = re.compile(r"[\s,;；]+")


class DutyError(ValueError):
    """Invalid roster input; the message says which row and why (in Chinese)."""


@dataclass
class OnDuty:
    """Who is on duty at an instant: the current shifts, their people and duty leaders."""

    at: datetime
    shifts: list[DutyShift] = field(default_factory=list)

    @property
    def people(self) -> list[str]:
        return _unique(name for s in self.shifts for name in (s.on_duty or []))

    @property
    def leaders(self) -> list[str]:
        return _unique(s.leader for s in self.shifts if s.leader)

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "on_duty": self.people, "leaders": self.leaders,
                "shifts": [shift_to_dict(s) for s in self.shifts]}


def _unique(items: Iterable[str | None]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item and item not in seen:
            seen.append(item)
    return seen


def shift_to_dict(shift: DutyShift) -> dict[str, Any]:
    return {"id": shift.id, "start_at": shift.start_at, "end_at": shift.end_at, "on_duty": list(shift.on_duty or []),
            "leader": shift.leader, "unit": shift.unit, "note": shift.note}


def person_to_dict(person: Person, *, show_urls: bool = False) -> dict[str, Any]:
    from ledger.alerts.outbox import safe_destination

    urls = list(person.urls or [])
    return {"id": person.id, "name": person.name, "role": person.role, "unit": person.unit,
            "urls": urls if show_urls else [safe_destination(u) for u in urls], "active": person.active}


# ---------------------------------------------------------------------------- people
def get_person(session: Session, name: str) -> Person | None:
    return session.exec(select(Person).where(Person.name == name)).first()


def upsert_person(
    session: Session,
    *,
    name: str,
    now: datetime,
    role: str | None = None,
    unit: str | None = None,
    phone: str | None = None,
    urls: Iterable[str] | None = None,
    actor: str = "system",
) -> Person:
    """Create or update a person; fields given as None are left as they are."""
    name = (name or "").strip()
    if not name:
        raise DutyError("姓名不能为空 (name is empty)")
    person = get_person(session, name)
    before = None
    if person is None:
        person = Person(name=name, created_at=now, updated_at=now, urls=[])
    else:
        before = person_to_dict(person)
    if role is not None:
        person.role = role.strip() or None
    if unit is not None:
        person.unit = unit.strip() or None
    if phone is not None:
        person.phone = phone.strip() or None
    if urls is not None:
        cleaned = _unique(u.strip() for u in urls)
        for url in cleaned:
            if "://" not in url:
                raise DutyError(f"{name}: 通知地址不是 apprise URL (not an apprise URL): {url[:60]}")
        person.urls = cleaned
    person.updated_at = now
    session.add(person)
    session.flush()
    audit.record(session, actor=actor, action="person.update" if before else "person.add", entity="person",
                 entity_id=person.id, now=now, before=before, after=person_to_dict(person))
    return person


def people_named(session: Session, names: Iterable[str]) -> list[Person]:
    wanted = [n for n in names if n]
    if not wanted:
        return []
    rows = {p.name: p for p in session.exec(select(Person).where(Person.name.in_(stable_in(wanted)), Person.active == True))}
    return [rows[n] for n in wanted if n in rows]


def people_with_role(session: Session, role: str, *, unit: str | None = None) -> list[Person]:
    stmt = select(Person).where(Person.role == role, Person.active == True)
    if unit is not None:
        stmt = stmt.where(Person.unit == unit)
    return list(session.exec(stmt.order_by(Person.id)))


def people_of_unit(session: Session, unit: str) -> list[Person]:
    return list(session.exec(select(Person).where(Person.unit == unit, Person.active == True).order_by(Person.id)))


# ---------------------------------------------------------------------------- shifts
def add_shift(
    session: Session,
    *,
    start_at: datetime,
    end_at: datetime,
    on_duty: Iterable[str],
    now: datetime,
    leader: str | None = None,
    unit: str | None = None,
    note: str | None = None,
    actor: str = "system",
) -> DutyShift:
    """Add a shift, or update the one with the same start, end and unit (re-imports are idempotent).

    Names not yet known become people (role 值班人员 / 带班领导) without addresses.
    """
    for value, what in ((start_at, "开始时间"), (end_at, "结束时间")):
        if value.tzinfo is None:
            raise DutyError(f"{what}缺少时区 (naive datetime)")
    if end_at <= start_at:
        raise DutyError("结束时间必须晚于开始时间 (shift ends before it starts)")
    names = _unique(n.strip() for n in on_duty)
    if not names:
        raise DutyError("值班人员不能为空 (no one on duty)")
    leader = (leader or "").strip() or None
    for name in names:
        if get_person(session, name) is None:
            upsert_person(session, name=name, role=ROLE_ON_DUTY, now=now, actor=actor)
    if leader and get_person(session, leader) is None:
        upsert_person(session, name=leader, role=ROLE_LEADER, now=now, actor=actor)
    stmt = select(DutyShift).where(DutyShift.start_at == start_at, DutyShift.end_at == end_at)
    stmt = stmt.where(DutyShift.unit.is_(None)) if unit is None else stmt.where(DutyShift.unit == unit)
    shift = session.exec(stmt).first()
    before = shift_to_dict(shift) if shift else None
    if shift is None:
        shift = DutyShift(start_at=start_at, end_at=end_at, unit=unit, created_at=now)
    shift.on_duty = names
    shift.leader = leader
    shift.note = note
    session.add(shift)
    session.flush()
    audit.record(session, actor=actor, action="duty.shift.update" if before else "duty.shift.add",
                 entity="duty_shift", entity_id=shift.id, now=now, before=before, after=shift_to_dict(shift))
    return shift


def on_duty_at(session: Session, *, at: datetime) -> OnDuty:
    """The shifts covering ``at`` (start inclusive, end exclusive)."""
    shifts = session.exec(
        select(DutyShift).where(DutyShift.start_at <= at, DutyShift.end_at > at).order_by(DutyShift.start_at)
    ).all()
    return OnDuty(at=at, shifts=list(shifts))


def list_shifts(session: Session, *, start: datetime | None = None, end: datetime | None = None) -> list[DutyShift]:
    stmt = select(DutyShift)
    if start is not None:
        stmt = stmt.where(DutyShift.end_at > start)
    if end is not None:
        stmt = stmt.where(DutyShift.start_at < end)
    return list(session.exec(stmt.order_by(DutyShift.start_at)))


# ---------------------------------------------------------------------------- xlsx import
SHIFT_COLUMNS = {"开始时间": "start", "结束时间": "end", "值班人员": "on_duty", "带班领导": "leader",
                 "单位": "unit", "备注": "note", "日期": "date", "班次": "span"}
PEOPLE_COLUMNS = {"姓名": "name", "角色": "role", "单位": "unit", "电话": "phone", "通知地址": "urls"}


@dataclass
class RosterImport:
    people: int = 0
    shifts: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"people": self.people, "shifts": self.shifts}


def _cell_datetime(value: Any, tz: ZoneInfo, where: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time(0, 0))
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace("/", "-")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise DutyError(f"{where}: 无法识别的时间 {value!r} (expected 2026-03-02 08:00)") from exc
    else:
        raise DutyError(f"{where}: 缺少时间 (time missing)")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(ZoneInfo("UTC"))


def _span(day: Any, span: Any, tz: ZoneInfo, where: str) -> tuple[datetime, datetime]:
    """``日期`` + ``班次`` like 08:00-18:00 (an end at or before the start means the next day)."""
    start_day = _cell_datetime(day, tz, where).astimezone(tz).date()
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*[-–~至]\s*(\d{1,2}):(\d{2})\s*", str(span or ""))
    if not match:
        raise DutyError(f"{where}: 班次应为 08:00-18:00 的形式 (shift span like 08:00-18:00): {span!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24:
        raise DutyError(f"{where}: 班次时间无效 {span!r}")
    start = datetime.combine(start_day, time(h1 % 24, m1), tzinfo=tz)
    end = datetime.combine(start_day, time(h2 % 24, m2), tzinfo=tz)
    if h2 == 24 or end <= start:
        from datetime import timedelta

        end = datetime.combine(start_day, time(h2 % 24, m2), tzinfo=tz) + timedelta(days=1)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def _rows(sheet: Any, columns: dict[str, str]) -> list[tuple[int, dict[str, Any]]]:
    rows = list(sheet.iter_rows(values_only=True))
    if not rows:
        return []
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    index = {columns[h]: i for i, h in enumerate(header) if h in columns}
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        out.append((n, {key: (row[i] if i < len(row) else None) for key, i in index.items()}))
    return out


def import_roster_xlsx(session: Session, *, path: Path, now: datetime, tz: ZoneInfo = SHANGHAI,
                       actor: str = "system") -> RosterImport:
    """Import people (sheet 人员: 姓名/角色/单位/电话/通知地址) and shifts (sheet 值班表, or the
    first sheet: 开始时间/结束时间 or 日期/班次, 值班人员 (names separated by 、), 带班领导, 单位, 备注).

    Every row is checked first; one bad row rejects the whole file and nothing is stored.
    """
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise DutyError(f"无法读取值班表文件 {path}: {exc.__class__.__name__}: {exc}") from exc
    people_sheet = next((book[n] for n in book.sheetnames if n in ("人员", "通讯录")), None)
    shift_sheet = next((book[n] for n in book.sheetnames if n in ("值班表", "排班")), None)
    if shift_sheet is None:
        shift_sheet = next((book[n] for n in book.sheetnames if book[n] is not people_sheet), None)
    people: list[dict[str, Any]] = []
    errors: list[str] = []
    if people_sheet is not None:
        for n, row in _rows(people_sheet, PEOPLE_COLUMNS):
            name = str(row.get("name") or "").strip()
            if not name:
                errors.append(f"人员 第{n}行: 缺少姓名")
                continue
            urls = [u for u in _SPLIT_URLS.split(str(row.get("urls") or "")) if u]
            bad = [u for u in urls if "://" not in u]
            if bad:
                errors.append(f"人员 第{n}行: 通知地址不是 apprise URL: {bad[0][:60]}")
                continue
            people.append({"name": name, "role": _text(row.get("role")), "unit": _text(row.get("unit")),
                           "phone": _text(row.get("phone")), "urls": urls})
    shifts: list[dict[str, Any]] = []
    if shift_sheet is not None:
        for n, row in _rows(shift_sheet, SHIFT_COLUMNS):
            where = f"{shift_sheet.title} 第{n}行"
            try:
                if row.get("start") is not None or row.get("end") is not None:
                    start = _cell_datetime(row.get("start"), tz, where + " 开始时间")
                    end = _cell_datetime(row.get("end"), tz, where + " 结束时间")
                else:
                    start, end = _span(row.get("date"), row.get("span"), tz, where)
                if end <= start:
                    raise DutyError(f"{where}: 结束时间必须晚于开始时间")
                names = [s for s in _SPLIT_NAMES.split(str(row.get("on_duty") or "")) if s]
                if not names:
                    raise DutyError(f"{where}: 缺少值班人员")
            except DutyError as exc:
                errors.append(str(exc))
                continue
            shifts.append({"start_at": start, "end_at": end, "on_duty": names, "leader": _text(row.get("leader")),
                           "unit": _text(row.get("unit")), "note": _text(row.get("note"))})
    book.close()
    if errors:
        raise DutyError("值班表有误，未导入任何内容 (nothing imported):\n" + "\n".join(errors[:20]))
    if not people and not shifts:
        raise DutyError("值班表为空：需要“值班表”工作表（开始时间、结束时间、值班人员、带班领导）或“人员”工作表")
    for p in people:
        upsert_person(session, now=now, actor=actor, **p)
    for s in shifts:
        add_shift(session, now=now, actor=actor, **s)
    return RosterImport(people=len(people), shifts=len(shifts))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
