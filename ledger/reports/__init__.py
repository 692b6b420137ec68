"""Reports: what the ledger tells leadership and the dashboard.

:mod:`ledger.reports.weekly` collects one ISO week of the ledger; :mod:`ledger.reports.weekly_xlsx`
and :mod:`ledger.reports.weekly_docx` write the 台账 workbook and the 周报; :mod:`ledger.reports.export`
is the weekly export job; :mod:`ledger.reports.dashboard` holds the dashboard's read queries.
Reports read everything and change nothing.
"""

from ledger.reports.export import ExportResult, export_weekly
from ledger.reports.weekly import ExportError, Week, collect_week, parse_week, previous_week

__all__ = ["ExportError", "ExportResult", "Week", "collect_week", "export_weekly", "parse_week", "previous_week"]
