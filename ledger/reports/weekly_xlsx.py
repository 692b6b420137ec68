"""The weekly ledger workbook (台账_YYYY-Www.xlsx) from one collected week: cases with every
clock and outcome, releases, every commitment open in the week, every message open in the week
(本周新收 / 本周办结 / 逾期未办, carried over from earlier weeks), the overdue items with the
working days overdue so far, statistics with the basis of each rate. Text from
posts or citizens is always written as text, never as a formula.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.reports.weekly import GRADES, WeeklyData, local, pct


def _sheet(book: Any, title: str, header: list[str], rows: list[list[Any]]) -> Any:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = book.create_sheet(title)
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in rows:
        ws.append(row)
        for cell in ws[ws.max_row]:
            # text from posts or citizens that starts with "=" must stay text, never a formula
            if cell.data_type == "f":
                cell.data_type = "s"
    for i, name in enumerate(header, start=1):
        width = max([len(str(name)) * 2] + [min(len(str(r[i - 1])) * 1.6, 60) for r in rows[:200] if r[i - 1] is not None])
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(width, 60))
    for col in ws.iter_cols(min_row=2):
        for cell in col:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
    ws.freeze_panes = "A2"
    return ws


def write_xlsx(data: WeeklyData, path: Path, extra_sheets: list[tuple[str, list[str], list[list[Any]]]] = ()) -> Path:
    """Write the ledger workbook (``extra_sheets``: further (title, header, rows) after the
    message sheet, e.g. 政策解读); returns its path."""
    from openpyxl import Workbook

    tz = data.week.tz
    book = Workbook()
    book.remove(book.active)
    rules: list[str] = []
    for c in data.cases:
        for cl in c["clocks"]:
            if cl["rule"] not in rules:
                rules.append(cl["rule"])
    header = ["案件编号", "标题", "分级", "状态", "责任单位", "牵头单位", "监测类别", "处置类型", "发现时间",
              "向领导报告时间", "已发布次数", "首次发布时间", "发布会", "线索移交", "关联信息数", "办结时间"]
    for r in rules:
        header += [f"{r}·期限", f"{r}·状态", f"{r}·完成时间"]
    rows = []
    for c in data.cases:
        row = [c["number"], c["title"], c["grade"], c["status"], c["unit"], c["lead_unit"], c["category"],
               c["disposal_type"], local(c["discovered_at"], tz), local(c["leadership_reported_at"], tz),
               c["releases"], local(c["first_release_at"], tz), c["briefings"], c["referrals"], c["posts"],
               local(c["closed_at"], tz)]
        by_rule = {cl["rule"]: cl for cl in c["clocks"]}
        for r in rules:
            cl = by_rule.get(r)
            row += ([local(cl["due"], tz), cl["status"] + ("（暂定）" if cl["provisional"] else ""), local(cl["met_at"], tz)]
                    if cl else [None, None, None])
        rows.append(row)
    _sheet(book, "案件台账", header, rows)
    _sheet(book, "信息发布", ["案件编号", "标题", "类型", "状态", "修订", "审核步骤", "起草时间", "发布时间", "发布渠道", "链接"],
           [[r["case"], r["title"], r["kind"], r["status"], r["revision"], r["reviews"], local(r["created_at"], tz),
             local(r["published_at"], tz), r["channel"], r["url"]] for r in data.releases])
    _sheet(book, "承诺事项", ["案件编号", "承诺内容", "责任单位", "承诺期限", "状态", "本周情况", "至今超期工作日", "登记时间",
                          "落实时间", "公开时间", "公开位置"],
           [[c["case"], c["text"], c["unit"], c["due_date"], c["status"], c["state"], c["late_working_days"],
             local(c["made_at"], tz), local(c["fulfilled_at"], tz), local(c["public_at"], tz), c["public_where"]]
            for c in data.commitments])
    labels = {"on_time": "按时", "late": "超时", "open": "办理中"}
    _sheet(book, "留言办理", ["留言编号", "本周归类", "渠道", "标题", "留言人", "收到时间", "答复期限", "期限暂定", "答复时间",
                          "用时(小时)", "办理结果", "超期工作日", "办理单位", "留言摘要", "答复摘要"],
           [[m["external_id"], m["section"], m["channel"], m["title"], m["author"], local(m["received_at"], tz),
             local(m["due_at"], tz), "是" if m["provisional"] else "", local(m["replied_at"], tz), m["hours"],
             labels[m["outcome"]], m["late_working_days"], m["unit"], m["text"], m["reply"]] for m in data.messages])
    _sheet(book, "逾期未办", ["类别", "事项", "时限", "期限", "单位", "状态", "至今超期工作日", "往周逾期"],
           [[o["kind"], o["what"], o["item"], local(o["due"], tz), o["unit"], o["status"], o["days"],
             "是" if o["earlier"] else ""] for o in data.overdue])
    for title, head, extra in extra_sheets:
        _sheet(book, title, head, extra)
    f = data.figures
    basis = f["rate_basis"]
    stats = [["周次", data.week.label], ["统计区间", data.week.title()], ["新立案件", f["new_cases"]],
             *[[f"其中{g}", f[f"new_{g}"]] for g in GRADES], ["本周在办案件", f["active_cases"]],
             ["本周办结案件", f["closed_cases"]], ["本周发布权威信息", f["releases_published"]],
             ["收到留言", f["messages"]], ["往周结转留言", f["messages_carried"]],
             ["本周答复留言", f["messages_replied"]], ["逾期未答复留言", f["messages_overdue_open"]],
             ["其中往周逾期", f["messages_overdue_earlier"]], ["按时答复", f["messages_on_time"]],
             ["超时答复或逾期未答复", f["messages_late"]], ["留言按时答复率", pct(f["message_on_time_rate"])],
             ["留言按时答复率口径", basis["messages"]],
             ["未落实承诺", f["commitments_open"]], ["本周新作承诺", f["commitments_new"]],
             ["本周到期承诺", f["commitments_due"]], ["本周落实承诺", f["commitments_fulfilled"]],
             ["逾期承诺", f["commitments_overdue"]], ["逾期事项", f["overdue_items"]], ["其中往周逾期事项", f["overdue_earlier"]],
             [], ["时限按时率口径", basis["clocks"]],
             ["时限", "适用等级", "按时", "超时", "合计", "按时率"],
             *[[r["rule"], r["grade"], r["on_time"], r["late"], r["total"], pct(r["rate"])] for r in data.clock_rates],
             [], ["单位", "", "按时", "超时", "合计", "按时率"],
             *[[u["unit"], "", u["on_time"], u["late"], u["total"], pct(u["rate"])] for u in data.unit_rates]]
    _sheet(book, "统计", ["项目", "数值", "", "", "", ""], [s + [None] * (6 - len(s)) for s in stats])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.xlsx")
    book.save(tmp)
    tmp.replace(path)
    return path
