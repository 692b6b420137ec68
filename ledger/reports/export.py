"""The weekly export job: collect a week and write ``台账_<week>.xlsx`` and ``周报_<week>.docx``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from ledger.reports.policies import seed_sheets
from ledger.reports.weekly import Week, collect_week
from ledger.reports.weekly_docx import write_docx
from ledger.reports.weekly_xlsx import write_xlsx


@dataclass
class ExportResult:
    week: str
    xlsx: Path
    docx: Path
    figures: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"week": self.week, "xlsx": str(self.xlsx), "docx": str(self.docx),
                "figures": {k: v for k, v in self.figures.items() if not isinstance(v, list)}}


def export_weekly(session: Session, *, week: Week, out_dir: Path, now: datetime, calendar: Any = None) -> ExportResult:
    """Write ``台账_<week>.xlsx`` and ``周报_<week>.docx`` into ``out_dir``. ``calendar`` (the
    working-day calendar) counts the working days overdue items are late so far."""
    data = collect_week(session, week, now=now, calendar=calendar)
    out_dir = Path(out_dir)
    xlsx = write_xlsx(data, out_dir / f"台账_{week.label}.xlsx", extra_sheets=seed_sheets(session, week))
    docx = write_docx(data, out_dir / f"周报_{week.label}.docx", now=now)
    return ExportResult(week=week.label, xlsx=xlsx, docx=docx, figures=data.figures)
