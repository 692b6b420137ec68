"""`yuqing case …` and `yuqing tick`: the round trip open → show --json with clocks, the release
workflow through the command line, clear errors with non-zero exits, tick --now / --json."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from config.cli.main import main
from tests.cli import run_cli


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db(monkeypatch, tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("YUQING_DATABASE_URL", url)
    return url


def recent(hours: float) -> str:
    """An ISO instant ``hours`` before the real current time (the CLI uses the real clock)."""
    return (datetime.now().astimezone() - timedelta(hours=hours)).isoformat(timespec="seconds")


def test_open_then_show_json_has_clocks_with_rule_due_and_status(db, capsys) -> None:
    proc = run_cli("case", "open", "--title", "化工园区爆燃", "--grade", "重大",
                   "--discovered-at", "2026-03-02T08:00:00+08:00", db_url=db)
    assert proc.code == 0, proc.err
    case_id = proc.out.strip()
    assert case_id.isdigit(), proc.out
    code, out, err = run(["case", "show", case_id, "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["number"] == "2026-0001" and data["grade"] == "重大" and data["status"] == "发现"
    assert data["discovered_at"] == "2026-03-02T08:00:00+08:00"
    clocks = {c["rule"]: c for c in data["clocks"]}
    assert clocks["authoritative_release_target"]["due_at"] == "2026-03-02T11:00:00+08:00"
    assert clocks["authoritative_release_limit"]["due_at"] == "2026-03-02T13:00:00+08:00"
    assert clocks["press_briefing"]["due_at"] == "2026-03-03T08:00:00+08:00"
    assert clocks["leadership_report"]["due_at"] == "2026-03-02T09:00:00+08:00"  # within 1 h of discovery
    # discovered long ago (the real clock is later): everything is already overdue
    assert clocks["authoritative_release_target"]["status"] == "missed"
    assert clocks["authoritative_release_limit"]["status"] == "breached"
    for c in data["clocks"]:
        assert {"rule", "due_at", "status", "warn_at", "provisional", "met_at"} <= set(c)
    assert data["timeline"][0]["action"] == "case.open"
    # the number works as a reference too
    code, out, _ = run(["case", "show", "2026-0001", "--json"], capsys)
    assert code == 0 and json.loads(out)["id"] == int(case_id)


def test_release_workflow_and_closing_through_the_cli(db, capsys) -> None:
    code, out, err = run(["case", "open", "--title", "网传水源污染", "--grade", "较大", "--discovered-at", recent(3),
                          "--disposal-type", "虚假和不实信息", "--unit", "水务局", "--co-unit", "卫健委",
                          "--co-unit", "公安局", "--illegal", "--actor", "值班员甲"], capsys)
    assert code == 0, err
    case_id = out.strip()
    code, out, err = run(["case", "release", "add", case_id, "--kind", "澄清回应", "--title", "情况通报",
                          "--text", "经检测水质达标"], capsys)
    assert code == 0, err
    rid = out.strip()
    code, _, err = run(["case", "release", "publish", rid, "--channel", "政务微博"], capsys)
    assert code == 2 and "未完成审核" in err and "初审" in err
    code, _, err = run(["case", "release", "review", rid, "--step", "终审", "--reviewer", "王五"], capsys)
    assert code == 2 and "须先完成“初审”" in err
    code, _, err = run(["duty", "add-person", "审核2", "--role", "分管领导"], capsys)  # 终审 by a leader
    assert code == 0, err
    for i, step in enumerate(("初审", "复审", "终审", "保密审查")):
        code, out, err = run(["case", "release", "review", rid, "--step", step, "--reviewer", f"审核{i}"], capsys)
        assert code == 0, err
    assert "待发布" in out
    code, _, err = run(["case", "release", "publish", rid, "--channel", "政务微博", "--url", "https://example.gov.cn/x"],
                       capsys)
    assert code == 0, err
    for to in ("研判", "交办", "处置", "已回应"):
        code, _, err = run(["case", "status", case_id, "--to", to], capsys)
        assert code == 0, err
    code, _, err = run(["case", "status", case_id, "--to", "办结"], capsys)
    assert code == 2 and "移交" in err
    code, out, err = run(["case", "referral", "add", case_id, "--to", "公安机关", "--reference", "移〔2026〕1号"], capsys)
    assert code == 0, err
    code, _, err = run(["case", "status", case_id, "--to", "办结"], capsys)
    assert code == 0, err
    code, out, _ = run(["case", "show", case_id, "--json"], capsys)
    data = json.loads(out)
    assert data["status"] == "办结" and data["co_units"] == ["卫健委", "公安局"]
    assert [r["step"] for r in data["releases"][0]["reviews"]] == ["初审", "复审", "终审", "保密审查"]
    assert data["releases"][0]["url"] == "https://example.gov.cn/x"
    assert data["referrals"][0]["target"] == "公安机关"
    assert data["created_by"] == "值班员甲"
    assert {c["rule"]: c["status"] for c in data["clocks"]}["other_response"] == "met"
    code, out, _ = run(["case", "list", "--json", "--status", "办结"], capsys)
    assert [c["id"] for c in json.loads(out)] == [int(case_id)]
    code, out, _ = run(["case", "list", "--json", "--grade", "重大"], capsys)
    assert json.loads(out) == []


def test_regrade_report_briefing_and_commitment_commands(db, capsys) -> None:
    code, out, err = run(["case", "open", "--title", "停电", "--grade", "一般", "--discovered-at", recent(4)], capsys)
    case_id = out.strip()
    code, _, err = run(["case", "grade", case_id, "--grade", "重大", "--reason", "范围扩大"], capsys)
    assert code == 0, err
    code, _, err = run(["case", "report", case_id, "--note", "已电话报告区委办"], capsys)
    assert code == 0, err
    code, _, err = run(["case", "briefing", "add", case_id, "--at", recent(0.1), "--place", "区政府新闻中心",
                        "--spokesperson", "张三"], capsys)
    assert code == 0, err
    code, out, err = run(["case", "commitment", "add", case_id, "--text", "明日恢复供电", "--owner-unit", "供电公司",
                          "--due", (datetime.now() + timedelta(days=1)).date().isoformat()], capsys)
    assert code == 0, err
    cid = out.strip()
    code, _, err = run(["case", "commitment", "update", cid, "--status", "已落实"], capsys)
    assert code == 2 and "落实证据" in err
    code, _, err = run(["case", "commitment", "update", cid, "--status", "已落实", "--evidence", "抢修记录"], capsys)
    assert code == 0, err
    code, out, _ = run(["case", "show", case_id, "--json"], capsys)
    data = json.loads(out)
    clocks = {c["rule"]: c for c in data["clocks"]}
    assert clocks["other_response"]["status"] == "cancelled"
    assert clocks["authoritative_release_target"]["status"] == "missed"  # 4 h after discovery
    assert clocks["leadership_report"]["status"] == "met" and clocks["press_briefing"]["status"] == "met"
    assert data["commitments"][0]["status"] == "已落实"
    assert data["commitments"][0]["clocks"][0]["status"] == "met"
    code, out, _ = run(["case", "show", case_id], capsys)
    assert "发布权威信息" in out and "停电" in out


@pytest.mark.parametrize("argv, message", [
    (["case", "open", "--title", "x", "--grade", "特大", "--discovered-at", "2026-03-02T08:00:00+08:00"], "未知的事件分级"),
    (["case", "open", "--title", "x", "--grade", "一般", "--discovered-at", "昨天"], "无法解析的时间"),
    (["case", "open", "--title", "x", "--grade", "一般", "--discovered-at", "2999-01-01T00:00:00+08:00"], "晚于当前时间"),
    (["case", "open", "--title", "x", "--grade", "一般", "--discovered-at", "2026-03-02T08:00:00+08:00",
      "--disposal-type", "其他"], "未知的处置类型"),
    (["case", "show", "42", "--json"], "案件不存在"),
    (["case", "list", "--status", "完成"], "未知状态"),
    (["case", "commitment", "add", "1", "--text", "x", "--owner-unit", "y", "--due", "下周"], "无法解析的日期"),
])
def test_bad_input_gives_a_clear_message_and_a_non_zero_exit(db, capsys, argv, message) -> None:
    code, out, err = run(argv, capsys)
    assert code != 0
    assert message in err and "Traceback" not in err
    code, out, _ = run(["case", "list", "--json"], capsys)
    assert json.loads(out) == []  # nothing stored


def test_illegal_status_move_exits_non_zero(db, capsys) -> None:
    _, out, _ = run(["case", "open", "--title", "x", "--grade", "一般", "--discovered-at", recent(1)], capsys)
    code, _, err = run(["case", "status", out.strip(), "--to", "归档"], capsys)
    assert code == 2 and "不允许从“发现”转为“归档”" in err


def test_tick_with_now_and_json(db, capsys) -> None:
    _, out, _ = run(["case", "open", "--title", "x", "--grade", "一般", "--discovered-at", recent(1)], capsys)
    ahead = (datetime.now().astimezone() + timedelta(hours=40)).isoformat(timespec="seconds")
    code, out, err = run(["tick", "--now", ahead, "--dry-run"], capsys)
    assert code == 0, err
    assert "演练" in out and "即将到期" in out  # 48 h limit warns after 36 h
    code, out, err = run(["tick", "--now", ahead, "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["clocks_warning"] == 1 and data["dry_run"] is False
    assert data["clock_changes"][0]["rule"] == "other_response"
    assert data["clock_changes"][0]["due_at"].endswith("+08:00")
    code, out, _ = run(["tick", "--now", ahead, "--json"], capsys)
    assert json.loads(out)["clocks_changed"] == 0
    code, _, err = run(["tick", "--now", "not-a-time"], capsys)
    assert code == 2 and "无法解析的时间" in err


def test_a_local_cases_toml_changes_the_review_steps(db, capsys, monkeypatch, tmp_path) -> None:
    from config.settings import DEFAULTS_DIR

    local = tmp_path / "conf"
    local.mkdir()
    shipped = (DEFAULTS_DIR / "cases.toml").read_text(encoding="utf-8")
    custom = shipped.replace('review_steps = ["初审", "复审", "终审", "保密审查"]', 'review_steps = ["初审", "终审"]')
    # one reviewer for both steps, no leader required: a locality may relax the separation rules
    custom = custom.replace("distinct_reviewers = true", "distinct_reviewers = false").replace(
        'leader_steps = ["终审"]', "leader_steps = []").replace('privacy_step = "保密审查"', 'privacy_step = ""')
    assert custom != shipped
    (local / "cases.toml").write_text(custom, encoding="utf-8")
    monkeypatch.setenv("YUQING_CONFIG_DIR", str(local))
    _, out, _ = run(["case", "open", "--title", "x", "--grade", "一般", "--discovered-at", recent(1)], capsys)
    case_id = out.strip()
    _, out, _ = run(["case", "release", "add", case_id, "--kind", "权威信息", "--title", "t", "--text", "x"], capsys)
    rid = out.strip()
    for step in ("初审", "终审"):
        code, _, err = run(["case", "release", "review", rid, "--step", step, "--reviewer", "甲"], capsys)
        assert code == 0, err
    code, _, err = run(["case", "release", "publish", rid, "--channel", "网站"], capsys)
    assert code == 0, err

    (local / "cases.toml").write_text(custom.replace('"发现" = ["研判"]', '"发现" = ["完成"]'), encoding="utf-8")
    code, _, err = run(["case", "list"], capsys)
    assert code == 1 and "cases.toml" in err and "未知状态" in err


def test_a_unit_name_nobody_knows_is_stored_with_a_notice_naming_the_close_ones(db, capsys) -> None:
    code, out, err = run(["case", "open", "--title", "小区路灯不亮", "--grade", "一般",
                          "--discovered-at", recent(1), "--unit", "住建局"], capsys)
    assert code == 0, err
    case_id = out.strip()
    assert "注意: 单位「住建局」不在单位清单和已有记录中, 是否应为: 示例市住建局" in err
    code, out, err = run(["case", "show", case_id, "--json"], capsys)
    assert json.loads(out)["responsible_unit"] == "住建局"  # stored as given: a notice, not a refusal
    # a unit the gazetteer names, or one already in the ledger, passes silently
    code, out, err = run(["case", "edit", case_id, "--unit", "示例市青山区住建局", "--co-unit", "住建局"], capsys)
    assert code == 0 and "注意" not in err, err
    # a name close to nothing known is recorded as a new unit, and said so
    code, out, err = run(["case", "commitment", "add", case_id, "--text", "一周内修复路灯",
                          "--owner-unit", "某某物业公司", "--due", "2030-01-01"], capsys)
    assert code == 0, err
    assert "注意: 单位「某某物业公司」不在单位清单和已有记录中 (按新单位记录)" in err
