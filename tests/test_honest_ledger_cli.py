"""Issue 19 "Honest ledger", the acceptance check through the real `yuqing` command line (a child
process on a real SQLite file), one test per sentence of the check, plus the Beijing-time
messages of `messages reply`:

* a 重大 case discovered 10 minutes ago and reported 5 minutes ago shows the report on time
  (case show --json, the weekly statistics and export agree);
* a briefing dated before discovery is refused;
* a commitment can be updated to 已落实;
* the current week's `yuqing export weekly --week YYYY-Www` lists a hotline message received three
  weeks ago and never answered, and a commitment made this week that is due in three weeks.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from openpyxl import load_workbook

from tests.cli import run_cli

SH = ZoneInfo("Asia/Shanghai")
LOCAL = re.compile(r"\d{1,2}月\d{1,2}日 \d{2}:\d{2}")


@pytest.fixture
def yq(tmp_path):
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    env = {"YUQING_DATA_DIR": str(tmp_path), "YUQING_SENTIMENT_ENGINE": "snownlp"}

    def run(*args: str, ok: bool = True):
        r = run_cli(*args, db_url=db, env=env, timeout=300)
        if ok:
            assert r.code == 0, r.err
        return r

    return run


def ago(**kw) -> str:
    return (datetime.now(UTC) - timedelta(**kw)).astimezone(SH).isoformat(timespec="seconds")


def week_of(instant: datetime) -> str:
    y, w, _ = instant.astimezone(SH).isocalendar()
    return f"{y}-W{w:02d}"


def test_major_case_reported_five_minutes_after_discovery_is_on_time_everywhere(yq, tmp_path):
    discovered = datetime.now(UTC) - timedelta(minutes=10)
    case_id = yq("case", "open", "--title", "危化品运输车侧翻", "--grade", "重大", "--unit", "应急管理局",
                 "--discovered-at", discovered.isoformat()).out.strip()
    out = yq("case", "report", case_id, "--at", ago(minutes=5), "--note", "电话报告市委值班室").out
    assert LOCAL.search(out) and "+00:00" not in out  # 已登记报告: 2026-0001 12月3日 21:12
    data = json.loads(yq("case", "show", case_id, "--json").out)
    report = next(c for c in data["clocks"] if c["rule"] == "leadership_report")
    assert report["status"] == "met" and report["late"] is False
    assert (report["outcome"], report["outcome_label"], report["status_label"]) == ("on_time", "按时", "已按时完成")
    assert report["limit"] == 1 and report["unit"] == "hours" and "1小时" in report["source"]
    text = yq("case", "show", case_id).out
    assert "第一时间向本级党委政府报告(1小时内)" in text and "已按时完成 (按时)" in text
    # the weekly statistics count it on time too (not 0% on time as before)
    out_dir = tmp_path / "out"
    yq("export", "weekly", "--week", week_of(discovered), "--out", str(out_dir))
    book = load_workbook(next(out_dir.glob("台账_*.xlsx")))
    row = next(r for r in book["统计"].iter_rows(values_only=True)
               if r[0] and str(r[0]).startswith("第一时间向本级党委政府报告"))
    assert row[1:5] == ("重大", 1, 0, 1)
    cases = list(book["案件台账"].iter_rows(values_only=True))
    col = cases[0].index("第一时间向本级党委政府报告(1小时内)·状态")
    assert cases[1][col] == "已按时完成"


def test_briefing_dated_before_discovery_is_refused(yq):
    discovered = datetime.now(UTC) - timedelta(hours=2)
    case_id = yq("case", "open", "--title", "化工园区异味", "--grade", "重大",
                 "--discovered-at", discovered.isoformat()).out.strip()
    r = yq("case", "briefing", "add", case_id, "--at", ago(hours=3), "--place", "市政府新闻发布厅",
           "--spokesperson", "王某", ok=False)
    assert r.code == 2
    assert "早于舆情发现时间" in r.err and "+00:00" not in r.err and "+08:00" not in r.err
    local = discovered.astimezone(SH)
    assert f"{local.month}月{local.day}日 {local:%H:%M}" in r.err  # Beijing time, as people read it
    r = yq("case", "briefing", "add", case_id, "--at", (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
           "--place", "市政府新闻发布厅", "--spokesperson", "王某", ok=False)
    assert r.code == 2 and "晚于当前时间" in r.err
    data = json.loads(yq("case", "show", case_id, "--json").out)
    assert data["briefings"] == []  # nothing stored; the 24 h clock still runs
    briefing = next(c for c in data["clocks"] if c["rule"] == "press_briefing")
    assert briefing["status"] == "running" and briefing["met_at"] is None


def test_commitment_can_be_updated_to_fulfilled(yq):
    case_id = yq("case", "open", "--title", "小区停水", "--grade", "较大",
                 "--discovered-at", ago(hours=5)).out.strip()
    due = (datetime.now(UTC) + timedelta(days=3)).astimezone(SH).date().isoformat()
    cid = yq("case", "commitment", "add", case_id, "--text", "三日内恢复供水", "--owner-unit", "水务局",
             "--due", due).out.strip()
    r = yq("case", "commitment", "update", cid, "--status", "已落实", "--at", ago(days=1), ok=False)
    assert r.code == 2 and "早于承诺登记时间" in r.err and LOCAL.search(r.err)
    assert yq("case", "commitment", "update", cid, "--status", "已落实", "--evidence", "供水恢复验收单").out.strip() \
        == f"承诺 {cid}: 已落实"
    data = json.loads(yq("case", "show", case_id, "--json").out)
    (c,) = data["commitments"]
    assert c["status"] == "已落实" and c["fulfilled_at"] is not None
    assert c["clocks"][0]["status"] == "met" and c["clocks"][0]["outcome"] == "on_time"


def test_current_week_export_carries_an_old_unanswered_message_and_a_far_commitment(yq, tmp_path):
    now = datetime.now(UTC)
    received = (now - timedelta(weeks=3)).astimezone(SH)
    csv_path = tmp_path / "hotline.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复意见", "答复时间"])
        w.writerow(["OLD-301", "A0001", "小区路灯三周不亮", received.strftime("%Y/%m/%d %H:%M:%S"),
                    "晚上出行不安全，请尽快维修", "", ""])
    r = yq("import", "hotline", str(csv_path))
    case_id = yq("case", "open", "--title", "老旧小区加装电梯纠纷", "--grade", "一般",
                 "--discovered-at", ago(minutes=30)).out.strip()
    due = (now + timedelta(weeks=3)).astimezone(SH).date()
    yq("case", "commitment", "add", case_id, "--text", "三周内完成加装电梯协调", "--owner-unit", "住建局",
       "--due", due.isoformat())
    label = week_of(now)
    out_dir = tmp_path / "out"
    r = yq("export", "weekly", "--week", label, "--out", str(out_dir), "--json")
    result = json.loads(r.out)
    book = load_workbook(result["xlsx"])

    msgs = list(book["留言办理"].iter_rows(values_only=True))
    header = msgs[0]
    rows = [dict(zip(header, m, strict=True)) for m in msgs[1:]]
    old = next(m for m in rows if str(m["留言编号"]) == "OLD-301")
    assert old["本周归类"] == "逾期未办" and old["答复时间"] is None and old["办理结果"] == "超时"
    assert old["超期工作日"] >= 5  # the running count of working days overdue so far
    overdue = [dict(zip([c.value for c in book["逾期未办"][1]], r, strict=True))
               for r in book["逾期未办"].iter_rows(min_row=2, values_only=True)]
    item = next(o for o in overdue if "OLD-301" in o["事项"])
    assert item["往周逾期"] == "是" and item["至今超期工作日"] == old["超期工作日"]

    coms = [dict(zip([c.value for c in book["承诺事项"][1]], r, strict=True))
            for r in book["承诺事项"].iter_rows(min_row=2, values_only=True)]
    (com,) = coms
    assert com["承诺内容"] == "三周内完成加装电梯协调" and com["本周情况"] == "未到期" and com["状态"] == "未落实"
    assert com["承诺期限"].date() == due

    stats = {r[0]: r[1] for r in book["统计"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert stats["往周结转留言"] == 1 and stats["逾期未答复留言"] == 1 and stats["其中往周逾期"] == 1
    assert stats["未落实承诺"] == 1 and stats["本周新作承诺"] == 1
    assert "本周到期或本周完成" in stats["时限按时率口径"]
    # the 周报 says the same numbers
    text = "\n".join(p.text for p in Document(result["docx"]).paragraphs)
    assert "往周结转 1 件" in text and "逾期未答复 1 件（其中往周逾期 1 件）" in text
    assert "未落实承诺 1 项（本周新作 1 项）" in text
    assert result["figures"]["messages_overdue_open"] == 1 and result["figures"]["commitments_open"] == 1
    # 留言办理 on the command line shows the running count too, not a blank until a reply exists
    (listed,) = json.loads(yq("messages", "list", "--json").out)
    assert listed["overdue_running"] is True and listed["late_working_days"] == old["超期工作日"]
    assert f"至今超期{old['超期工作日']}个工作日" in yq("messages", "list").out


def test_messages_reply_speaks_beijing_time(yq, tmp_path):
    received = datetime(2024, 2, 1, 9, 0, tzinfo=SH)
    csv_path = tmp_path / "hotline.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复意见", "答复时间"])
        w.writerow(["R-1", "A0002", "噪音扰民", "2024/02/01 09:00:00", "夜间施工", "已责令停工", "2024/02/07 00:00:00"])
    yq("import", "hotline", str(csv_path))
    r = yq("messages", "reply", "R-1", "--text", "再次答复", ok=False)
    assert r.code == 2 and "已于 2月7日 00:00 答复" in r.err and "+00:00" not in r.err
    r = yq("messages", "reply", "R-1", "--text", "更正", "--replace", "--at", "2024-01-31T10:00:00+08:00", ok=False)
    assert r.code == 2 and "早于留言收到时间" in r.err
    assert f"{received.month}月{received.day}日 09:00" in r.err
