"""Issue #22.4: `yuqing demo` never adds its published-password accounts to a real database."""

from __future__ import annotations

import json

from config.demo_seed import DEMO_PASSWORD
from tests.cli import run_cli


def _users(db_url: str) -> list[str]:
    listed = run_cli("user", "list", "--json", db_url=db_url)
    assert listed.code == 0, listed.err
    return sorted(u["username"] for u in json.loads(listed.out))


def test_demo_on_a_database_that_has_a_user_adds_no_account(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'real.db'}"
    added = run_cli("user", "add", "--username", "chen", "--role", "管理员", "--name", "陈科长",
                    "--password-stdin", stdin="a-real-Passw0rd-2026\n", db_url=db_url)
    assert added.code == 0, added.err

    demo = run_cli("demo", "--duration", "4", "--no-dashboard", db_url=db_url, timeout=120)
    assert demo.code == 2
    assert "不是演示数据库" in demo.err and "拒绝" in demo.err
    assert DEMO_PASSWORD not in demo.out + demo.err
    assert _users(db_url) == ["chen"]
    sources = run_cli("source", "list", "--json", db_url=db_url)
    assert json.loads(sources.out) == []


def test_demo_runs_on_a_fresh_database_and_again_on_its_own(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = run_cli("demo", "--duration", "4", "--no-dashboard", db_url=db_url, timeout=120)
    assert first.code == 0, first.err
    assert _users(db_url) == ["admin", "danwei", "lingdao", "zhiban"]
    again = run_cli("demo", "--duration", "4", "--no-dashboard", db_url=db_url, timeout=120)
    assert again.code == 0, again.err
    assert _users(db_url) == ["admin", "danwei", "lingdao", "zhiban"]
