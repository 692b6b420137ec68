"""The weekly report document (周报_YYYY-Www.docx): the week in numbers (本周新收, 本周办结, 逾期未办
with earlier weeks', open commitments), on-time rates per clock, grade and unit with their basis,
the overdue items, the open commitments, and the top events with a chart.

The chart is drawn with matplotlib's Agg backend. Chinese labels need a CJK font (e.g. the
Debian package ``fonts-noto-cjk``); without one the chart falls back to ASCII labels so that
no glyph is ever drawn as an empty box.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from ledger.reports.weekly import GRADES, WeeklyData, fmt, pct

CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
                "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "AR PL UMing CN", "Droid Sans Fallback")


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The name of an installed font that has Chinese glyphs, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    for f in font_manager.fontManager.ttflist:  # any other font whose name says CJK / Chinese
        if any(tag in f.name for tag in ("CJK", "Hei", "Song", "Kai", "Ming")):
            return f.name
    return None


def chart_png(data: WeeklyData, *, use_cjk: bool | None = None) -> bytes:
    """Two panels: messages and new cases per day; the top events by linked posts.
    ``use_cjk=False`` forces the ASCII labels (what happens when no CJK font is installed)."""
    from matplotlib.figure import Figure  # the Figure API draws with Agg, no pyplot state
    from matplotlib.ticker import MaxNLocator

    font = cjk_font() if use_cjk is not False else None
    zh = font is not None
    weekdays = "一二三四五六日"
    days = [f"{d.month}/{d.day}" + (f"\n周{weekdays[d.weekday()]}" if zh else f"\n{d:%a}") for d in data.week.days]
    fig = Figure(figsize=(9, 3.6), dpi=120)
    kw = {"fontfamily": font} if zh else {}
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    f = data.figures
    x = range(7)
    ax1.bar([i - 0.2 for i in x], f["messages_per_day"], width=0.4, label="收到留言" if zh else "Messages", color="#4472C4")
    ax1.bar([i + 0.2 for i in x], f["cases_per_day"], width=0.4, label="新立案件" if zh else "New cases", color="#ED7D31")
    ax1.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set_xticks(list(x))
    ax1.set_xticklabels(days, fontsize=8, **kw)
    ax1.set_title("每日留言与新立案件" if zh else "Messages and new cases per day", fontsize=10, **kw)
    ax1.legend(prop={"family": font, "size": 8} if zh else {"size": 8})
    top = [e for e in data.top_events if e["posts"] > 0][:6] or data.top_events[:6]
    labels = [(e["title"][:10] if zh else e["number"]) for e in top]
    ax2.barh(range(len(top)), [e["posts"] for e in top], color="#A5A5A5")
    ax2.set_yticks(range(len(top)))
    ax2.set_yticklabels(labels, fontsize=8, **kw)
    ax2.invert_yaxis()
    ax2.set_title("重点事件关联信息数" if zh else "Top events: linked posts", fontsize=10, **kw)
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not top:
        ax2.set_xticks([])
        ax2.text(0.5, 0.5, "本周无事件" if zh else "no events", ha="center", va="center", transform=ax2.transAxes, **kw)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _table(doc: Any, header: list[str], rows: list[list[Any]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = str(text)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = "" if value is None else str(value)


def write_docx(data: WeeklyData, path: Path, *, now: datetime) -> Path:
    """Write the 周报; returns its path."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    tz = data.week.tz
    f = data.figures
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(11)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    doc.add_heading(f"舆情台账周报 {data.week.title()}", level=0)
    doc.add_paragraph(f"周次 {data.week.label}；生成时间 {fmt(now, tz)}（北京时间）。个人号码已脱敏。")

    doc.add_heading("一、本周概况", level=1)
    grades = "，".join(f"{g}{f[f'new_{g}']}件" for g in GRADES if f[f"new_{g}"])
    basis = f["rate_basis"]
    doc.add_paragraph(
        f"本周新立舆情案件 {f['new_cases']} 件" + (f"（{grades}）" if grades else "") +
        f"，在办 {f['active_cases']} 件，办结 {f['closed_cases']} 件；发布权威信息 {f['releases_published']} 次。"
        f"本周新收群众留言 {f['messages']} 件，往周结转 {f['messages_carried']} 件，本周答复 {f['messages_replied']} 件，"
        f"逾期未答复 {f['messages_overdue_open']} 件（其中往周逾期 {f['messages_overdue_earlier']} 件），"
        f"按时答复率 {pct(f['message_on_time_rate'])}（口径：{basis['messages']}）。"
        f"未落实承诺 {f['commitments_open']} 项（本周新作 {f['commitments_new']} 项），本周到期 {f['commitments_due']} 项，"
        f"本周落实 {f['commitments_fulfilled']} 项，逾期 {f['commitments_overdue']} 项；"
        f"逾期未办事项共 {f['overdue_items']} 项（其中往周逾期 {f['overdue_earlier']} 项）。"
    )
    _table(doc, ["项目", "数值"], [
        ["新立案件", f["new_cases"]], ["在办案件", f["active_cases"]], ["办结案件", f["closed_cases"]],
        ["发布权威信息", f["releases_published"]], ["本周新收留言", f["messages"]], ["往周结转留言", f["messages_carried"]],
        ["本周答复留言", f["messages_replied"]], ["逾期未答复留言", f["messages_overdue_open"]],
        ["留言按时答复率", pct(f["message_on_time_rate"])], ["未落实承诺", f["commitments_open"]],
        ["本周到期承诺", f["commitments_due"]], ["逾期承诺", f["commitments_overdue"]], ["逾期事项", f["overdue_items"]],
    ])

    doc.add_heading("二、时限执行情况", level=1)
    doc.add_paragraph(f"按时限（口径：{basis['clocks']}；留言答复的口径：{basis['messages']}；"
                      "适用等级为时限开始时案件的等级，降级后仍按原等级计入）：")
    _table(doc, ["时限", "适用等级", "按时", "超时", "合计", "按时率"],
           [[r["rule"], r["grade"], r["on_time"], r["late"], r["total"], pct(r["rate"])] for r in data.clock_rates]
           or [["本周无到期时限", "", "", "", "", ""]])
    doc.add_paragraph("按单位：")
    _table(doc, ["单位", "按时", "超时", "合计", "按时率"],
           [[u["unit"], u["on_time"], u["late"], u["total"], pct(u["rate"])] for u in data.unit_rates] or [["—", "", "", "", ""]])

    doc.add_heading("三、逾期未办事项（含往周）", level=1)
    if data.overdue:
        shown = data.overdue[:50]
        _table(doc, ["类别", "事项", "时限", "期限", "单位", "状态"],
               [[o["kind"], o["what"], o["item"], fmt(o["due"], tz), o["unit"], o["status"]] for o in shown])
        if len(data.overdue) > len(shown):
            doc.add_paragraph(f"另有 {len(data.overdue) - len(shown)} 项，详见台账“逾期未办”表。")
    else:
        doc.add_paragraph("本周无逾期未办事项。")

    doc.add_heading("四、未落实承诺", level=1)
    due = [c for c in data.commitments if c["state"] != "本周已落实"]
    if due:
        _table(doc, ["案件", "承诺内容", "责任单位", "期限", "状态", "情况"],
               [[c["case"], c["text"][:80], c["unit"], str(c["due_date"]), c["status"],
                 c["state"] + (f"（至今超期{c['late_working_days']}个工作日）" if c["late_working_days"] else "")]
                for c in due])
    else:
        doc.add_paragraph("本周无未落实承诺。")

    doc.add_heading("五、重点事件", level=1)
    if data.top_events:
        _table(doc, ["案件编号", "标题", "分级", "状态", "责任单位", "关联信息", "发布次数"],
               [[e["number"], e["title"], e["grade"], e["status"], e["unit"], e["posts"], e["releases"]]
                for e in data.top_events])
    else:
        doc.add_paragraph("本周无在办舆情案件。")
    doc.add_picture(io.BytesIO(chart_png(data)), width=Cm(16))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.docx")
    doc.save(tmp)
    tmp.replace(path)
    return path
