"""The acceptance checks of issue #20 ("the seeds' remaining workflows"), each sentence run end to
end through the real ``yuqing`` command in a subprocess, on a SQLite file and on a PostgreSQL
schema; then the other points through the command line (referrals of 涉嫌违法 cases, 补录, the
messages' marks and units, the weekly export's sheets)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from tests.cli import run_cli


def _runner(url: str, tmp_path):
    env = {"YUQING_DATA_DIR": str(tmp_path)}

    def run(*args: str):
        return run_cli(*args, db_url=url, env=env)

    run.url = url
    run.data_dir = str(tmp_path)
    return run


@pytest.fixture
def both(any_url, tmp_path):
    """``both(*args)`` runs ``yuqing`` on a SQLite file, then (second run) on a PostgreSQL schema;
    a non-zero exit is returned, not raised."""
    return _runner(any_url, tmp_path)


@pytest.fixture
def cli(sqlite_url, tmp_path):
    """``cli(*args)`` runs ``yuqing`` on a SQLite file (the service tests cover PostgreSQL)."""
    return _runner(sqlite_url, tmp_path)


def ok(proc) -> str:
    assert proc.code == 0, proc.err
    return proc.out.strip()


def recent(hours: float) -> str:
    """An ISO instant ``hours`` before the real current time (the CLI uses the real clock)."""
    return (datetime.now().astimezone() - timedelta(hours=hours)).isoformat(timespec="seconds")


def audit_rows(url: str, entity: str, entity_id: str) -> list[tuple[str, str | None, dict]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT action, note, after FROM audit_log WHERE entity = :e AND entity_id = :i "
                                     "ORDER BY id"), {"e": entity, "i": entity_id}).all()
    finally:
        engine.dispose()
    return [(a, n, json.loads(x) if isinstance(x, str) else (x or {})) for a, n, x in rows]


def release_in_review(cli, *, text_: str = "经检测水质达标") -> tuple[str, str]:
    case_id = ok(cli("case", "open", "--title", "网传水源污染", "--grade", "较大", "--discovered-at", recent(3),
                     "--unit", "水务局"))
    rid = ok(cli("case", "release", "add", case_id, "--kind", "澄清回应", "--title", "情况通报", "--text", text_))
    return case_id, rid


# ---------------------------------------------------------------------------- the check, sentence by sentence
def test_check_policy_published_friday_is_due_tuesday_end_of_day(both) -> None:
    """A policy published Friday 2025-09-26 10:00 has its interpretation due 2025-09-30 23:59:59
    (+08:00; the Sunday 2025-09-28 is a working day)."""
    pid = ok(both("policy", "add", "--title", "关于促进消费的若干措施", "--unit", "发改委",
                 "--published-at", "2025-09-26T10:00:00+08:00", "--kind", "规范性文件"))
    assert pid.isdigit()
    data = json.loads(ok(both("policy", "show", pid, "--json")))
    assert data["title"] == "关于促进消费的若干措施" and data["unit"] == "发改委" and data["kind"] == "规范性文件"
    assert data["published_at"] == "2025-09-26T10:00:00+08:00" and data["interpretations"] == []
    [clock] = data["clocks"]
    assert clock["rule"] == "policy_interpretation" and "解读" in clock["name"]
    assert clock["due_at"] == "2025-09-30T23:59:59+08:00" and clock["provisional"] is False
    assert clock["status"] == "breached"  # the real clock is long past it
    # the interpretation meets it (late) and shows in list --json
    iid = ok(both("policy", "interpret", pid, "--title", "一图读懂", "--url", "https://example.gov.cn/jd/1",
                 "--form", "图解", "--at", "2025-10-09T09:00:00+08:00"))
    assert iid.isdigit()
    [row] = json.loads(ok(both("policy", "list", "--json")))
    assert row["status"] == "已解读" and row["interpretations"][0]["form"] == "图解"
    assert row["clocks"][0]["status"] == "met" and row["clocks"][0]["late"] is True
    assert row["clocks"][0]["met_at"] == "2025-10-09T09:00:00+08:00"


def test_check_second_review_by_the_first_reviewer_is_refused(both) -> None:
    """复审 by the person who did 初审 is refused."""
    _, rid = release_in_review(both)
    ok(both("case", "release", "review", rid, "--step", "初审", "--reviewer", "张三"))
    proc = both("case", "release", "review", rid, "--step", "复审", "--reviewer", "张三")
    assert proc.code == 2
    assert "复审" in proc.err and "初审" in proc.err and "distinct_reviewers" in proc.err
    ok(both("case", "release", "review", rid, "--step", "复审", "--reviewer", "李四"))


def test_check_privacy_review_of_a_mobile_number_without_a_reason_is_refused(both) -> None:
    """保密审查 of a release containing a mobile number without a reason is refused."""
    _, rid = release_in_review(both, text_="如有疑问请联系电话13912345678")
    ok(both("duty", "add-person", "王局长", "--role", "分管领导"))
    for step, who in (("初审", "张三"), ("复审", "李四"), ("终审", "王局长")):
        ok(both("case", "release", "review", rid, "--step", step, "--reviewer", who))
    proc = both("case", "release", "review", rid, "--step", "保密审查", "--reviewer", "保密员")
    assert proc.code == 2 and "个人信息" in proc.err and "手机号码 139****5678" in proc.err
    assert "13912345678" not in proc.err
    proc = both("case", "release", "publish", rid, "--channel", "政务微博")
    assert proc.code == 2 and "保密审查" in proc.err  # nothing passed, nothing published


# ---------------------------------------------------------------------------- the rest of each point
def test_privacy_review_passes_with_a_recorded_reason_and_views_mask_the_number(cli) -> None:
    case_id, rid = release_in_review(cli, text_="热线电话13912345678全天受理")
    ok(cli("duty", "add-person", "王局长", "--role", "分管领导"))
    for step, who in (("初审", "张三"), ("复审", "李四"), ("终审", "王局长")):
        ok(cli("case", "release", "review", rid, "--step", step, "--reviewer", who))
    ok(cli("case", "release", "review", rid, "--step", "保密审查", "--reviewer", "保密员",
           "--pii-ok", "该号码为公开的服务热线"))
    ok(cli("case", "release", "publish", rid, "--channel", "政府网站"))
    shown = ok(cli("case", "show", case_id, "--json"))
    assert "13912345678" not in shown and "139****5678" in shown
    data = json.loads(shown)
    review = data["releases"][0]["reviews"][-1]
    assert review["step"] == "保密审查" and review["decision"] == "通过"
    [entry] = [a for a in audit_rows(cli.url, "release", rid) if a[2].get("review", {}).get("step") == "保密审查"]
    assert entry[2]["review"]["pii_ok_reason"] == "该号码为公开的服务热线"
    assert entry[2]["review"]["pii_found"] == ["手机号码 139****5678"]
    assert "该号码为公开的服务热线" in entry[1]
    listed = ok(cli("case", "list", "--json"))
    assert "13912345678" not in listed


def test_final_review_needs_a_leader_named_in_the_roster_or_a_leader_user(cli) -> None:
    _, rid = release_in_review(cli)
    ok(cli("case", "release", "review", rid, "--step", "初审", "--reviewer", "张三"))
    ok(cli("case", "release", "review", rid, "--step", "复审", "--reviewer", "李四"))
    proc = cli("case", "release", "review", rid, "--step", "终审", "--reviewer", "王五")
    assert proc.code == 2 and "终审" in proc.err and "leader_steps" in proc.err
    ok(run_cli("user", "add", "--username", "wangju", "--role", "领导", "--name", "王局长", "--password-stdin",
               db_url=cli.url, stdin="correct-horse-9\n", env={"YUQING_DATA_DIR": cli.data_dir}))
    out = ok(cli("case", "release", "review", rid, "--step", "终审", "--reviewer", "王局长"))
    assert "审核中" in out


def test_after_a_rejection_the_revised_text_is_reviewed_again(cli) -> None:
    _, rid = release_in_review(cli)
    ok(cli("case", "release", "review", rid, "--step", "初审", "--reviewer", "张三", "--decision", "驳回",
           "--comment", "数据未核实"))
    proc = cli("case", "release", "review", rid, "--step", "初审", "--reviewer", "张三")
    assert proc.code == 2 and "驳回" in proc.err
    ok(cli("case", "release", "revise", rid, "--text", "经第三方检测, 水质达标"))
    ok(cli("case", "release", "review", rid, "--step", "初审", "--reviewer", "张三"))  # a new revision


def test_check_fulfilled_commitment_has_a_running_clock_named_with_publication(both) -> None:
    """An 已落实 commitment has a running clock named with 公开."""
    case_id = ok(both("case", "open", "--title", "老旧小区加装电梯", "--grade", "一般", "--discovered-at", recent(5),
                     "--unit", "住建局"))
    cid = ok(both("case", "commitment", "add", case_id, "--text", "年底前完成加装", "--owner-unit", "住建局",
                 "--due", (datetime.now().date() + timedelta(days=30)).isoformat()))
    ok(both("case", "commitment", "update", cid, "--status", "已落实", "--evidence", "验收报告"))
    data = json.loads(ok(both("case", "show", case_id, "--json")))
    [commitment] = data["commitments"]
    publish = [c for c in commitment["clocks"] if "公开" in c["name"]]
    assert len(publish) == 1 and publish[0]["status"] == "running" and publish[0]["rule"] == "commitment_publish"
    # made public: the clock is met
    ok(both("case", "commitment", "update", cid, "--status", "已公开", "--public-where", "https://example.gov.cn/gk/1"))
    data = json.loads(ok(both("case", "show", case_id, "--json")))
    publish = [c for c in data["commitments"][0]["clocks"] if "公开" in c["rule_name"]]
    assert publish[0]["status"] == "met" and publish[0]["late"] is False


def test_check_simple_message_by_the_disclosure_hotline_is_due_after_the_spring_festival(both) -> None:
    """``messages add --channel 政府信息公开咨询电话 … --received-at 2024-02-08T16:00:00+08:00 --simple``
    is due 2024-02-19 23:59:59 (+08:00)."""
    mid = ok(both("messages", "add", "--channel", "政府信息公开咨询电话", "--title", "咨询申请公开的方式",
                 "--text", "请问依申请公开怎么提交", "--received-at", "2024-02-08T16:00:00+08:00", "--simple",
                 "--author", "市民甲"))
    assert mid.isdigit()
    [row] = json.loads(ok(both("messages", "list", "--json")))
    assert row["id"] == int(mid) and row["channel"] == "政府信息公开咨询电话" and row["simple"] is True
    assert row["due_at"] == "2024-02-19T23:59:59+08:00" and row["due_provisional"] is False
    # not simple: 5 working days
    ok(both("messages", "mark", mid, "--not-simple", "--reason", "需部门会商"))
    [row] = json.loads(ok(both("messages", "list", "--json")))
    assert row["simple"] is False and row["due_at"] == "2024-02-21T23:59:59+08:00"
    ok(both("messages", "assign", mid, "--unit", "政务公开办"))
    [row] = json.loads(ok(both("messages", "list", "--json")))
    assert row["unit"] == "政务公开办"
    actions = [a for a, _, _ in audit_rows(both.url, "message", mid)]
    assert actions == ["message.add", "message.simple", "message.assign"]


def test_a_channel_not_in_the_configuration_is_refused_and_nothing_is_stored(cli) -> None:
    proc = cli("messages", "add", "--channel", "微信群", "--title", "t", "--text", "x",
               "--received-at", "2024-02-08T16:00:00+08:00")
    assert proc.code == 2 and "未知渠道" in proc.err and "省长建言" in proc.err
    assert json.loads(ok(cli("messages", "list", "--json"))) == []
    ok(cli("messages", "add", "--channel", "12345", "--title", "路灯", "--text", "路灯坏了",
           "--received-at", "2024-02-08T16:00:00+08:00"))  # an alias of 12345热线
    [row] = json.loads(ok(cli("messages", "list", "--json")))
    assert row["channel"] == "12345热线" and row["due_at"] == "2024-02-21T23:59:59+08:00"


def close_ready_case(cli, *, disposal: str, kind: str, illegal: bool) -> str:
    args = ["case", "open", "--title", "网传自来水有毒", "--grade", "较大", "--discovered-at", recent(4),
            "--unit", "水务局", "--disposal-type", disposal]
    case_id = ok(cli(*args, *(["--illegal"] if illegal else [])))
    rid = ok(cli("case", "release", "add", case_id, "--kind", kind, "--title", "通报", "--text", "水质达标"))
    ok(cli("duty", "add-person", "王局长", "--role", "分管领导"))
    for step, who in (("初审", "张三"), ("复审", "李四"), ("终审", "王局长"), ("保密审查", "保密员")):
        ok(cli("case", "release", "review", rid, "--step", step, "--reviewer", who))
    ok(cli("case", "release", "publish", rid, "--channel", "政府网站"))
    for to in ("研判", "交办", "处置", "已回应"):
        ok(cli("case", "status", case_id, "--to", to))
    return case_id


def test_false_information_needs_a_referral_only_when_marked_illegal(cli) -> None:
    case_id = close_ready_case(cli, disposal="虚假和不实信息", kind="澄清回应", illegal=False)
    ok(cli("case", "edit", case_id, "--illegal"))
    proc = cli("case", "status", case_id, "--to", "办结")
    assert proc.code == 2 and "移交" in proc.err
    ok(cli("case", "referral", "add", case_id, "--to", "网信部门"))
    ok(cli("case", "status", case_id, "--to", "办结"))
    assert json.loads(ok(cli("case", "show", case_id, "--json")))["suspected_illegal"] is True


def test_false_information_not_marked_illegal_closes_without_referral(cli) -> None:
    case_id = close_ready_case(cli, disposal="虚假和不实信息", kind="澄清回应", illegal=False)
    ok(cli("case", "status", case_id, "--to", "办结"))


def test_any_case_marked_illegal_needs_a_referral(cli) -> None:
    case_id = close_ready_case(cli, disposal="不了解情况、存在模糊认识", kind="权威信息", illegal=True)
    proc = cli("case", "status", case_id, "--to", "办结")
    assert proc.code == 2 and "涉嫌违法" in proc.err and "公安机关" in proc.err
    ok(cli("case", "referral", "add", case_id, "--to", "公安机关"))
    ok(cli("case", "status", case_id, "--to", "办结"))


def test_entries_after_the_fact_are_marked_in_the_audit_and_the_timeline(cli) -> None:
    case_id = ok(cli("case", "open", "--title", "暴雨内涝", "--grade", "较大", "--discovered-at", recent(30),
                     "--unit", "应急管理局"))
    rid = ok(cli("case", "release", "add", case_id, "--kind", "权威信息", "--title", "通报", "--text", "已排涝",
                 "--at", recent(26)))
    ok(cli("duty", "add-person", "王局长", "--role", "分管领导"))
    for i, (step, who) in enumerate((("初审", "张三"), ("复审", "李四"), ("终审", "王局长"))):
        ok(cli("case", "release", "review", rid, "--step", step, "--reviewer", who, "--at", recent(25 - i)))
    ok(cli("case", "release", "review", rid, "--step", "保密审查", "--reviewer", "保密员"))  # entered as done
    ok(cli("case", "release", "publish", rid, "--channel", "政府网站"))
    data = json.loads(ok(cli("case", "show", case_id, "--json")))
    rel = data["releases"][0]
    assert datetime.fromisoformat(rel["created_at"]) < datetime.fromisoformat(rel["published_at"]) - timedelta(hours=25)
    marks = [(e["action"], e["note"], (e["after"] or {}).get("review", {}).get("step"))
             for e in data["timeline"] if e["entity"] == "release"]
    assert marks == [("release.add", "补录", None), ("release.review", "补录", "初审"), ("release.review", "补录", "复审"),
                     ("release.review", "补录", "终审"), ("release.review", None, "保密审查"),
                     ("release.publish", None, None)]
    assert all((e["after"] or {}).get("补录") for e in data["timeline"] if e["note"] == "补录")


def test_weekly_export_lists_the_policy_register_and_unpublished_commitments(cli, tmp_path) -> None:
    pid = ok(cli("policy", "add", "--title", "关于促进消费的若干措施", "--unit", "发改委",
                 "--published-at", "2025-09-26T10:00:00+08:00"))
    case_id = ok(cli("case", "open", "--title", "老旧小区加装电梯", "--grade", "一般",
                     "--discovered-at", "2025-09-20T09:00:00+08:00", "--unit", "住建局"))
    cid = ok(cli("case", "commitment", "add", case_id, "--text", "十月前完成加装, 联系人13912345678",
                 "--owner-unit", "住建局", "--due", "2025-10-31"))
    # the CLI registers the commitment at the real clock and a fulfilment may not precede its
    # registration: date the registration back to the case's week (as if entered then)
    engine = create_engine(cli.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE commitment SET created_at = :t WHERE id = :i"),
                         {"t": datetime(2025, 9, 22, 1, 0), "i": int(cid)})
    finally:
        engine.dispose()
    ok(cli("case", "commitment", "update", cid, "--status", "已落实", "--evidence", "验收报告",
           "--at", "2025-09-24T15:00:00+08:00"))
    out = tmp_path / "out"
    for week in ("2025-W39", "2025-W44"):  # the week of publication; a later week, still unpublished
        ok(cli("export", "weekly", "--week", week, "--out", str(out), "--now", "2025-11-03T08:00:00+08:00"))
    book = load_workbook(out / "台账_2025-W39.xlsx")
    policy = list(book["政策解读"].values)
    assert policy[0][:3] == ("文件 id", "文件标题", "类型")
    assert policy[1][0] == int(pid) and policy[1][4] == "发改委"
    assert policy[1][7] == datetime(2025, 9, 30, 23, 59, 59) and policy[1][6] == "待解读"
    for label in ("2025-W39", "2025-W44"):
        rows = list(load_workbook(out / f"台账_{label}.xlsx")["承诺待公开"].values)
        assert len(rows) == 2 and rows[1][0] == "2025-0001" and rows[1][1] == int(cid)
        assert "13912345678" not in str(rows[1]) and "139****5678" in rows[1][2]
        assert "公开" in rows[0][7]
    ok(cli("case", "commitment", "update", cid, "--status", "已公开", "--public-where", "https://example.gov.cn/x",
           "--at", "2025-11-05T10:00:00+08:00"))
    ok(cli("export", "weekly", "--week", "2025-W45", "--out", str(out), "--now", "2025-11-10T08:00:00+08:00"))
    assert len(list(load_workbook(out / "台账_2025-W45.xlsx")["承诺待公开"].values)) == 1  # published: gone
