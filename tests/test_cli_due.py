"""`yuqing due`: one line of ISO 8601 with +08:00, --json, provisional years, clean errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.cli.main import main

REPO = Path(__file__).resolve().parent.parent


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def _no_local_config(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))


def test_the_real_command_prints_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "YUQING_CONFIG_DIR"}
    proc = subprocess.run(
        [sys.executable, "-m", "config.cli.main", "due", "--start", "2025-09-26T14:00:00", "--working-days", "5"],
        check=False, capture_output=True, text=True, env=env, timeout=120, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "2025-10-10T23:59:59+08:00\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # 国庆 2025: Sun 28 Sep (调休), 29, 30, Thu 9 Oct, Fri 10 Oct
        (["--start", "2025-09-26T14:00:00", "--working-days", "5"], "2025-10-10T23:59:59+08:00"),
        # Sat 11 Oct 2025 is a 调休 workday
        (["--start", "2025-09-26T14:00:00+08:00", "--working-days", "6"], "2025-10-11T23:59:59+08:00"),
        # 春节 2024: Sun 18 Feb is a 调休 workday
        (["--start", "2024-02-09T09:00:00", "--working-days", "1"], "2024-02-18T23:59:59+08:00"),
        # a UTC start: 16:00Z on Thursday is Friday 00:00 in Shanghai → due Monday
        (["--start", "2026-03-05T16:00:00Z", "--working-days", "1"], "2026-03-09T23:59:59+08:00"),
        (["--start", "2026-03-05T15:59:59Z", "--working-days", "1"], "2026-03-06T23:59:59+08:00"),
        # calendar hours, across midnight and the year end
        (["--start", "2026-12-31T22:00:00+08:00", "--hours", "5"], "2027-01-01T03:00:00+08:00"),
        (["--start", "2026-03-02T10:00:00", "--hours", "2.5"], "2026-03-02T12:30:00+08:00"),
    ],
)
def test_due_values(argv, expected, capsys) -> None:
    code, out, _ = run(["due", *argv], capsys)
    assert code == 0
    assert out == expected + "\n"


def test_json_and_provisional(capsys) -> None:
    code, out, _ = run(["due", "--start", "2024-02-07T10:00:00", "--working-days", "5", "--json"], capsys)
    assert code == 0 and json.loads(out) == {"due": "2024-02-20T23:59:59+08:00", "provisional": False}
    code, out, err = run(["due", "--start", "2026-12-28T10:00:00", "--working-days", "5", "--json"], capsys)
    assert code == 0 and json.loads(out) == {"due": "2027-01-05T23:59:59+08:00", "provisional": True}
    code, out, err = run(["due", "--start", "2026-12-28T10:00:00", "--working-days", "5"], capsys)
    assert out == "2027-01-05T23:59:59+08:00\n" and "暂定" in err
    code, out, _ = run(["due", "--start", "2026-12-28T10:00:00", "--hours", "100", "--json"], capsys)
    assert json.loads(out) == {"due": "2027-01-01T14:00:00+08:00", "provisional": False}


def test_supplement_in_local_config_dir(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "holidays.toml").write_text(
        '[years.2027]\nholidays = ["2027-01-01", "2027-01-04"]\nworkdays = []\n', encoding="utf-8"
    )
    monkeypatch.setenv("YUQING_CONFIG_DIR", str(tmp_path))
    code, out, _ = run(["due", "--start", "2026-12-28T10:00:00", "--working-days", "5", "--json"], capsys)
    assert code == 0 and json.loads(out) == {"due": "2027-01-06T23:59:59+08:00", "provisional": False}
    (tmp_path / "holidays.toml").write_text('[years.2027]\nholidays = ["2027-02-30"]\n', encoding="utf-8")
    code, out, err = run(["due", "--start", "2026-12-28T10:00:00", "--working-days", "5"], capsys)
    assert code != 0 and out == "" and "2027-02-30" in err and "holidays.toml" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start", "2026-03-02T10:00:00"], "--working-days"),
        (["--start", "2026-03-02T10:00:00", "--working-days", "3", "--hours", "2"], "--working-days"),
        (["--start", "2026-03-02T10:00:00", "--working-days", "-1"], "负数"),
        (["--start", "2026-03-02T10:00:00", "--hours", "-2"], "--hours"),
        (["--start", "next tuesday", "--hours", "2"], "无法解析"),
        (["--start", "2026-03-02T10:00:00", "--working-days", "abc"], "--working-days"),
    ],
)
def test_bad_arguments_fail_cleanly(argv, message, capsys) -> None:
    code, out, err = run(["due", *argv], capsys)
    assert code != 0
    assert out == ""
    assert message in err and "Traceback" not in err
