"""舆情快报 wired to settings: the docx template in force (``brief_template.docx`` in
``YUQING_CONFIG_DIR`` or the shipped one), the time zone, and one function per subject used by
``yuqing case brief`` / ``yuqing events brief`` and by the dashboard's case and event pages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from config.loader import config_path
from config.settings import Settings

TEMPLATE = "brief_template.docx"


def template_path(settings: Settings) -> Path:
    return config_path(TEMPLATE, settings)


def write_case_brief(engine: Engine, settings: Settings, *, case_ref: int | str, out_dir: Path,
                     now: datetime) -> Path:
    """Write the 快报 of a case into ``out_dir``; raise ``BriefError`` for an unknown case."""
    from config.caseconfig import load_case_env
    from ledger.db import session_scope
    from ledger.reports.brief import collect_case_brief
    from ledger.reports.brief_docx import brief_filename, write_brief_docx

    env = load_case_env(settings)
    with session_scope(engine) as session:
        data = collect_case_brief(session, case_ref=case_ref, policy=env.policy, now=now)
        session.rollback()  # a brief only reads
    return write_brief_docx(data, out_dir / brief_filename(data), template=template_path(settings),
                            tz=ZoneInfo(settings.timezone))


def write_event_brief(engine: Engine, settings: Settings, *, event_id: int, out_dir: Path, now: datetime) -> Path:
    """Write the 快报 of an event into ``out_dir``; raise ``BriefError`` for an unknown event."""
    from ledger.db import session_scope
    from ledger.reports.brief import collect_event_brief
    from ledger.reports.brief_docx import brief_filename, write_brief_docx

    with session_scope(engine) as session:
        data = collect_event_brief(session, event_id=event_id, now=now)
        session.rollback()
    return write_brief_docx(data, out_dir / brief_filename(data), template=template_path(settings),
                            tz=ZoneInfo(settings.timezone))
