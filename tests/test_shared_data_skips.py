"""Skips for missing shared data are visible: a real pytest run in a child process over a test that
needs a data set which is not there. A developer's run names the skipped test in its summary;
under CI (``CI=true``, where the data exists) the same run fails, with and without xdist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

NEEDS_DATA = '''
from tests.shared_data import shared_data


def test_needs_the_hotline_set():
    assert shared_data("hotline_replies.csv").stat().st_size > 0


def test_needs_nothing():
    assert True
'''


def _pytest(tmp_path: Path, *args: str, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_needs_data.py").write_text(NEEDS_DATA, encoding="utf-8")
    (tmp_path / "empty").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"}}
    env.update(PYTHONPATH=str(REPO), YUQING_SHARED_DATA=str(tmp_path / "empty"))
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.shared_data", "-p", "no:cacheprovider",
                           "-q", "--rootdir", str(tmp_path), *args, str(tmp_path / "test_needs_data.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_developer_run_names_the_skipped_tests_in_its_summary(tmp_path):
    run = _pytest(tmp_path, ci=None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "shared data missing" in run.stdout
    assert "1 test(s) skipped because" in run.stdout
    assert "SKIPPED test_needs_data.py::test_needs_the_hotline_set" in run.stdout
    assert "test_needs_nothing" not in run.stdout.split("shared data missing", 1)[1]
    assert "1 passed, 1 skipped" in run.stdout


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_under_ci_a_missing_data_set_fails_the_run(tmp_path, xdist):
    run = _pytest(tmp_path, *xdist, ci="true")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "shared data not available under CI" in run.stdout
    assert "1 failed, 1 passed" in run.stdout


def test_other_values_of_ci_are_not_ci(tmp_path):
    assert _pytest(tmp_path, ci="false").returncode == 0
