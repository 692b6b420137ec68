"""Page 导出: the weekly ledger (台账 xlsx) and 周报 (docx) of a week: download the files already
generated (by the Monday job or earlier here) at once, or generate them anew."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import streamlit as st

from dashboard.data import SHANGHAI, case_env, engine, now, settings
from dashboard.safe import md_text
from ledger.users import Principal


def _week_labels(count: int = 12) -> list[str]:
    today = now().astimezone(SHANGHAI).date()
    labels = []
    for i in range(count):
        y, w, _ = (today - timedelta(weeks=i)).isocalendar()
        labels.append(f"{y}-W{w:02d}")
    return labels


def week_label(week: str) -> str:
    """``2026-W49`` shown with its dates: ``2026-W49 · 11月30日–12月6日`` (ISO week, Monday to Sunday)."""
    from datetime import date

    year, w = week.split("-W")
    monday = date.fromisocalendar(int(year), int(w), 1)
    sunday = monday + timedelta(days=6)
    return f"{week} · {monday.month}月{monday.day}日–{sunday.month}月{sunday.day}日"


def render(user: Principal) -> None:
    from config.jobs import export_dir
    from ledger.db import session_scope
    from ledger.reports.export import export_weekly
    from ledger.reports.weekly import ExportError, parse_week

    st.title("导出")
    st.caption("周台账（xlsx：案件与时钟、发布、承诺、留言、统计）与周报（docx）。个人号码已脱敏。"
               "每周一 08:00 自动生成上一周的文件并发送领导。")
    labels = _week_labels()
    label = st.selectbox("周次", labels, index=1 if len(labels) > 1 else 0, key="export_week", format_func=week_label)
    out_dir = export_dir(settings()) / label
    existing = [out_dir / f"台账_{label}.xlsx", out_dir / f"周报_{label}.docx"]
    have = all(f.is_file() for f in existing)
    if have:
        made = datetime.fromtimestamp(existing[0].stat().st_mtime, SHANGHAI).strftime("%Y-%m-%d %H:%M")
        st.info(f"{label} 的文件已于 {made} 生成，可直接下载；如台账有更新，可重新生成。")
        _downloads(existing[0], existing[1], key="dl_saved")
    if not st.button("重新生成" if have else "生成", type="primary", key="export_go"):
        return
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        out_dir = Path(tempfile.mkdtemp(prefix="yuqing-export-"))
    try:
        with session_scope(engine()) as session:
            result = export_weekly(session, week=parse_week(label), out_dir=out_dir, now=now(),
                                   calendar=case_env().calendar)
    except (ExportError, ValueError, OSError) as exc:
        st.error(f"导出失败：{md_text(exc)}")
        return
    from ledger import audit

    with session_scope(engine()) as session:
        audit.record(session, actor=user.username, action="export.weekly", entity="export", entity_id=label,
                     now=now(), after=result.as_dict())
    st.success(f"已生成 {label} 的周台账与周报")
    figures = {k: v for k, v in result.figures.items() if isinstance(v, int | float | str)}
    if figures:
        st.json(figures, expanded=False)
    _downloads(result.xlsx, result.docx, key="dl_new")


def _downloads(xlsx: Path, docx: Path, *, key: str) -> None:
    c1, c2 = st.columns(2)
    c1.download_button("下载周台账 (xlsx)", data=xlsx.read_bytes(), file_name=xlsx.name,
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"{key}_xlsx")
    c2.download_button("下载周报 (docx)", data=docx.read_bytes(), file_name=docx.name,
                       mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document", key=f"{key}_docx")
