"""The real data sets in ../shared/data for tests, and the pytest hooks that keep their absence visible.

A test that needs a data set calls :func:`shared_data`. Without the data a developer's run skips
such tests and the run's summary names every one of them (a clone without the data must not look
green by accident). Under CI (``CI=true``) the data must be there: the missing file fails the test,
and any skip for missing shared data fails the session. The hooks are registered by
tests/conftest.py; ``pytest -p tests.shared_data`` loads them alone (the self-test does).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
SKIP_REASON = "shared data not available"
_SKIPPED = pytest.StashKey[list[str]]()


def under_ci() -> bool:
    """Whether this run is CI's (``CI`` set to true / 1 / yes, as CI services do)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def shared_data(name: str) -> Path:
    """Path of a file in ../shared/data (``YUQING_SHARED_DATA``); without it the test is skipped,
    or fails under CI, which has the data."""
    path = SHARED_DATA / name
    if not path.exists():
        if under_ci():
            pytest.fail(f"{SKIP_REASON} under CI: {path}", pytrace=False)
        pytest.skip(f"{SKIP_REASON}: {path}")
    return path


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")


_CONFIG: list[pytest.Config] = []


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SKIPPED] = []
    _CONFIG[:] = [config]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Note every test skipped for missing shared data (on the xdist controller too, which
    receives the workers' reports)."""
    if report.skipped and SKIP_REASON in _reason(report) and _CONFIG:
        _CONFIG[0].stash[_SKIPPED].append(report.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = sorted(set(config.stash.get(_SKIPPED, [])))
    if not skipped:
        return
    terminalreporter.section("shared data missing", sep="=", yellow=True, bold=True)
    terminalreporter.line(f"{len(skipped)} test(s) skipped because {SHARED_DATA} lacks their data set "
                          "(set YUQING_SHARED_DATA to its folder):")
    for nodeid in skipped:
        terminalreporter.line(f"  SKIPPED {nodeid}")
    if under_ci():
        terminalreporter.line("CI=true: CI has the shared data, so these skips fail the run.", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if under_ci() and session.config.stash.get(_SKIPPED, []) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
