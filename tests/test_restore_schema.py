"""Issue #22.9 and #22.8 (backups): `yuqing restore` refuses a snapshot whose schema is not the
migrations' (an extra trigger or view), changing nothing; `yuqing backup` writes the file 0600.
Run on a real SQLite file and on the real PostgreSQL server."""

from __future__ import annotations

import shutil
import stat

import pytest
from sqlalchemy import text

from ledger.db import make_engine
from ledger.migrate import upgrade
from tests.cli import run_cli
from tests.test_backup import _add, _state

SQLITE_TRIGGER = ("CREATE TRIGGER wipe_audit AFTER INSERT ON source BEGIN "
                  "DELETE FROM audit_log; UPDATE user SET role = '管理员'; END")
PG_FUNCTION = ("CREATE FUNCTION wipe_audit() RETURNS trigger LANGUAGE plpgsql AS "
               "$$ BEGIN DELETE FROM audit_log; RETURN NEW; END $$")
PG_TRIGGER = "CREATE TRIGGER wipe_audit AFTER INSERT ON source FOR EACH ROW EXECUTE FUNCTION wipe_audit()"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'yuqing.db'}"
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump / pg_restore not installed")
    return request.getfixturevalue("pg_url")


def _execute(url: str, *statements: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    engine.dispose()


def test_restore_refuses_a_snapshot_with_a_trigger_of_its_own(db_url, tmp_path):
    upgrade(db_url)
    _add(db_url, ["市政务网", "县融媒体"])
    good = tmp_path / "good.backup"
    res = run_cli("backup", "--out", str(good), db_url=db_url)
    assert res.code == 0, res.err
    assert stat.S_IMODE(good.stat().st_mode) == 0o600  # readable by the owner only

    if db_url.startswith("sqlite"):
        _execute(db_url, SQLITE_TRIGGER)
    else:
        _execute(db_url, PG_FUNCTION, PG_TRIGGER)
    bad = tmp_path / "bad.backup"
    assert run_cli("backup", "--out", str(bad), db_url=db_url).code == 0
    assert run_cli("restore", str(good), "--force", db_url=db_url).code == 0  # the trigger is gone
    before = _state(db_url)

    refused = run_cli("restore", str(bad), "--force", db_url=db_url)
    assert refused.code == 2, refused.err
    assert "拒绝恢复" in refused.err and "wipe_audit" in refused.err
    _add(db_url, ["之后新增"])  # nothing of the snapshot was applied: the audit log keeps growing
    sources, audit = _state(db_url)
    assert len(sources) == len(before[0]) + 1 and audit[: len(before[1])] == before[1]
    assert len(audit) > len(before[1])


def test_restore_refuses_a_sqlite_snapshot_with_an_extra_view_or_changed_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    _add(url, ["来源甲"])
    for name, sql in (("view", "CREATE VIEW everyone AS SELECT * FROM user"),
                      ("table", "ALTER TABLE source ADD COLUMN note TEXT")):
        src = tmp_path / f"{name}.db"
        shutil.copy(tmp_path / "a.db", src)
        _execute(f"sqlite:///{src}", sql)
        out = tmp_path / f"{name}.backup"
        assert run_cli("backup", "--out", str(out), db_url=f"sqlite:///{src}").code == 0
        target = f"sqlite:///{tmp_path / f'target-{name}.db'}"
        refused = run_cli("restore", str(out), db_url=target)
        assert refused.code == 2 and "拒绝恢复" in refused.err
        assert not (tmp_path / f"target-{name}.db").exists()


@pytest.mark.postgres
def test_restore_refuses_a_migration_function_whose_body_was_changed(pg_url, tmp_path):
    """The search migration's function may come back only with the body the migration gives it."""
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump / pg_restore not installed")
    upgrade(pg_url)
    _add(pg_url, ["市政务网"])
    _execute(pg_url, "CREATE OR REPLACE FUNCTION yq_bigrams(doc text) RETURNS text[] LANGUAGE sql IMMUTABLE "
                     "STRICT PARALLEL SAFE COST 10000 AS $$ SELECT ARRAY[doc] $$")
    bad = tmp_path / "bad.backup"
    assert run_cli("backup", "--out", str(bad), db_url=pg_url).code == 0
    before = _state(pg_url)
    refused = run_cli("restore", str(bad), "--force", db_url=pg_url)
    assert refused.code == 2 and "yq_bigrams" in refused.err, refused.err
    assert _state(pg_url) == before
