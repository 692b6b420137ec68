"""舆情快报 / 专报, part two: write :class:`ledger.reports.brief.BriefData` as a Word document.

The document starts from a template (``brief_template.docx``: the shipped one in
``config/defaults/`` or a locality's own copy in ``YUQING_CONFIG_DIR``, edited in Word): its
header lines, fonts and styles are kept, the placeholders ``{{标题}}``, ``{{编号}}`` and
``{{生成时间}}`` are filled in wherever they stand, and the seven parts are added after what
the template holds. The chart of posts per hour and platforms is drawn with matplotlib's Agg
backend and a CJK font (see :func:`ledger.reports.weekly_docx.cjk_font`).
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ledger.reports.brief import BriefData
from ledger.reports.weekly_docx import cjk_font

PARTS = ("一、基本情况", "二、传播态势", "三、网民主要观点", "四、情感分布", "五、研判", "六、处置进展", "七、下一步建议")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def when(dt: datetime | None, tz: ZoneInfo = SHANGHAI) -> str:
    """``12月3日 21:12`` as people read it, or ``—``."""
    if dt is None:
        return "—"
    d = dt.astimezone(tz)
    return f"{d.month}月{d.day}日 {d:%H:%M}"


def chart_png(data: BriefData, *, tz: ZoneInfo = SHANGHAI, use_cjk: bool | None = None) -> bytes:
    """Posts per hour (left) and posts per platform (right)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    font = cjk_font() if use_cjk is not False else None
    zh = font is not None
    kw = {"fontfamily": font} if zh else {}
    fig = Figure(figsize=(9, 3.4), dpi=120)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    xs = list(range(len(data.hours)))
    ax1.bar(xs, [n for _, n in data.hours], color="#C00000", width=0.8)
    step = max(1, len(xs) // 8)
    ax1.set_xticks(xs[::step])
    ax1.set_xticklabels([f"{h.astimezone(tz):%d日%H时}" if zh else f"{h.astimezone(tz):%d %H}h"
                         for h, _ in data.hours[::step]], fontsize=7, rotation=30, **kw)
    ax1.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set_title("每小时信息量" if zh else "Posts per hour", fontsize=10, **kw)
    if not xs:
        ax1.text(0.5, 0.5, "暂无信息" if zh else "no posts", ha="center", va="center", transform=ax1.transAxes, **kw)
    top = data.platforms[:6]
    ax2.barh(range(len(top)), [n for _, n in top], color="#4472C4")
    ax2.set_yticks(range(len(top)))
    ax2.set_yticklabels([(name[:10] if zh else f"#{i + 1}") for i, (name, _) in enumerate(top)], fontsize=8, **kw)
    ax2.invert_yaxis()
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_title("信息来源平台" if zh else "Platforms", fontsize=10, **kw)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _fill_placeholders(doc: Any, values: dict[str, str]) -> set[str]:
    """Replace ``{{key}}`` in every paragraph of the body, tables, headers and footers; return
    the keys found."""
    found: set[str] = set()
    def paragraphs():
        yield from doc.paragraphs
        for table in doc.tables:
            for row in table.rows:
                for cell in row.cells:
                    yield from cell.paragraphs
        for section in doc.sections:
            for part in (section.header, section.footer):
                yield from part.paragraphs

    for p in paragraphs():
        if "{{" not in p.text:
            continue
        found.update(k for k in values if "{{" + k + "}}" in p.text)
        for run in p.runs:  # placeholders typed in one go sit in one run: keep its formatting
            for key, value in values.items():
                run.text = run.text.replace("{{" + key + "}}", value)
        if "{{" in p.text and any("{{" + k + "}}" in p.text for k in values) and p.runs:
            text = p.text
            for key, value in values.items():
                text = text.replace("{{" + key + "}}", value)
            p.runs[0].text = text
            for run in p.runs[1:]:
                run.text = ""
    return found


def _heading(doc: Any, text: str) -> None:
    try:
        doc.add_heading(text, level=1)
    except KeyError:  # a template without the Heading 1 style
        doc.add_paragraph().add_run(text).bold = True


def _table(doc: Any, header: list[str], rows: list[list[Any]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    try:
        table.style = "Table Grid"
    except (KeyError, ValueError):
        pass
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = str(text)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = "—" if value in (None, "") else str(value)


def write_brief_docx(data: BriefData, path: Path, *, template: Path | None = None, tz: ZoneInfo = SHANGHAI) -> Path:
    """Write the 快报 to ``path`` (atomically) and return it."""
    from docx import Document
    from docx.shared import Cm

    doc = Document(str(template)) if template is not None else Document()
    title = f"{data.title}（{data.number}）"
    found = _fill_placeholders(doc, {"标题": data.title, "编号": data.number, "生成时间": when(data.generated_at, tz)})
    if "标题" not in found:  # a template without {{标题}}
        try:
            doc.add_heading(title, level=0)
        except KeyError:
            doc.add_paragraph().add_run(title).bold = True
    if "编号" not in found:
        doc.add_paragraph(f"编号：{data.number}　　生成时间：{when(data.generated_at, tz)}（北京时间）")
    doc.add_paragraph("本快报中的个人号码已脱敏。")

    b = data.basics
    _heading(doc, PARTS[0])
    facts = [f"{b['what']}。"]
    if b.get("where"):
        facts.append(f"属地：{b['where']}。")
    facts.append(f"首次发现：{when(b.get('discovered_at'), tz)}")
    if b.get("occurred_at"):
        facts[-1] += f"；事件发生：{when(b['occurred_at'], tz)}"
    if b.get("first_post_at") and b.get("first_post_at") != b.get("discovered_at"):
        facts[-1] += f"；最早相关信息：{when(b['first_post_at'], tz)}"
    facts[-1] += "。"
    if b.get("status"):
        facts.append(f"当前状态：{b['status']}。")
    if b.get("keywords"):
        facts.append("关键词：" + "、".join(b["keywords"][:8]) + "。")
    doc.add_paragraph("".join(facts))

    _heading(doc, PARTS[1])
    spread = f"共监测到相关信息 {data.posts_total} 条"
    if data.platforms:
        spread += "，主要来自" + "、".join(f"{n}（{c}条）" for n, c in data.platforms[:4])
    spread += "。"
    if data.heat is not None:
        spread += f"当前热度 {data.heat:.2f}"
        if data.trend:
            t = data.trend
            spread += (f"，趋势{t.get('direction', '—')}（近1小时 {t.get('last_hour', 0)} 条，"
                       f"此前12小时 {t.get('prev_12h', 0)} 条）")
        spread += "。"
    if data.hours:
        peak_at, peak = max(data.hours, key=lambda h: h[1])
        spread += f"信息量峰值出现在 {when(peak_at, tz)}（{peak} 条/小时）。"
    doc.add_paragraph(spread)
    doc.add_picture(io.BytesIO(chart_png(data, tz=tz)), width=Cm(16))

    _heading(doc, PARTS[2])
    if data.opinions:
        for i, o in enumerate(data.opinions, 1):
            who = o["author"] or "网民"
            doc.add_paragraph(f"{i}. “{o['text']}”（{who}，{when(o['at'], tz)}，赞 {o['likes']}，{o['sentiment']}）")
    else:
        doc.add_paragraph("暂无相关网民信息。")

    _heading(doc, PARTS[3])
    total = sum(data.sentiment.values())
    if total:
        doc.add_paragraph("；".join(f"{k} {v} 条（{v * 100 / total:.0f}%）" for k, v in data.sentiment.items()) + "。")
    else:
        doc.add_paragraph("暂无可判断情感的信息。")

    a = data.assessment
    _heading(doc, PARTS[4])
    if a.get("suggested"):
        doc.add_paragraph("以下为系统根据相关信息给出的初步研判，尚未立案，供参考。")
    units = a.get("responsible_unit") or "未明确"
    if a.get("lead_unit"):
        units += f"（牵头：{a['lead_unit']}）"
    if a.get("co_units"):
        units += "；配合：" + "、".join(a["co_units"])
    disposal = a.get("disposal_type") or "未定"
    if a.get("must_publish"):
        disposal += f"（须公开：{a['must_publish']}）"
    _table(doc, ["研判项", "结论"], [
        ["分级", a.get("grade")], ["类别", "、".join(x for x in (a.get("category"), a.get("topic")) if x)],
        ["处置类型", disposal], ["责任单位", units],
        ["谣言信号", "、".join(a.get("rumour_signals") or []) or "未发现"],
    ])

    p = data.progress
    _heading(doc, PARTS[5])
    if data.kind == "event":
        cases = p.get("cases") or []
        doc.add_paragraph("已立案：" + "；".join(f"{c['number']} {c['title']}（{c['grade']}，{c['status']}）" for c in cases)
                          if cases else "尚未立案。")
    else:
        if p.get("leadership_reported_at"):
            doc.add_paragraph(f"已于 {when(p['leadership_reported_at'], tz)} 向领导报告。")
        if p.get("clocks"):
            _table(doc, ["时限", "期限", "状态"], [
                [c["rule_name"], when(c["due_at"], tz) + ("（暂定）" if c.get("provisional") else ""),
                 c["status_label"] + (f"，完成于 {when(c['met_at'], tz)}" if c.get("met_at") else "")]
                for c in p["clocks"]])
        published = [r for r in p.get("releases", []) if r.get("published_at")]
        drafts = [r for r in p.get("releases", []) if not r.get("published_at")]
        lines = [f"发布：{when(r['published_at'], tz)} 在{r.get('channel') or '—'}发布“{r['title']}”" for r in published]
        lines += [f"发布稿“{r['title']}”{r['status']}" for r in drafts]
        lines += [f"新闻发布会：{when(x['held_at'], tz)} {x['place']}，发言人 {x['spokesperson']}" for x in p.get("briefings", [])]
        lines += [f"承诺：{c['text']}（{c['owner_unit']}，期限 {c['due_date']}，{c['status']}）" for c in p.get("commitments", [])]
        lines += [f"移交：{when(r['referred_at'], tz)} 移交{r['target']}" for r in p.get("referrals", [])]
        for line in lines:
            doc.add_paragraph(line + "。")
        if not lines and not p.get("clocks"):
            doc.add_paragraph("暂无处置记录。")

    _heading(doc, PARTS[6])
    for i, s in enumerate(data.suggestions, 1):
        doc.add_paragraph(f"{i}. {s}")

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.docx")
    doc.save(str(tmp))
    tmp.replace(path)
    return path


def brief_filename(data: BriefData) -> str:
    """``舆情快报_2026-0001.docx`` / ``舆情快报_事件12.docx``."""
    return f"舆情快报_{data.number.replace(' ', '')}.docx"
