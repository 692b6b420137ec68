"""Checking a backup before ``yuqing restore`` applies it: its schema must be exactly what the
migrations create (the same tables, indexes and columns, and no triggers, views or functions of
its own). A snapshot with an extra trigger could, once restored, empty the audit log or promote
a user on the next write; such a snapshot is refused, naming what is wrong.

SQLite: the snapshot's objects (``sqlite_master``) are compared with those of a fresh database
migrated to the snapshot's own revision. PostgreSQL: the archive's table of contents
(``pg_restore --list``) may hold only tables, indexes, constraints and sequences, on the tables
the migrations know.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import tempfile
from pathlib import Path

FORBIDDEN_PG = ("TRIGGER", "VIEW", "FUNCTION", "PROCEDURE", "RULE", "POLICY", "AGGREGATE", "EXTENSION",
                "OPERATOR", "EVENT", "PUBLICATION", "SUBSCRIPTION", "FOREIGN", "SERVER", "CAST", "LANGUAGE")
MAX_SHOWN = 8
#: functions the migrations create (name with argument types -> the body they give it, whitespace
#: folded, lower case): a snapshot may hold them only with exactly that body
# every body a migration has given each function (lower case, blanks collapsed): a snapshot taken
# at any revision is accepted with the body of that time, and with nothing else
MIGRATION_FUNCTIONS = {
    "yq_bigrams(text)": (
        # 0012_search_schemes
        "select coalesce(array_agg(distinct substr(doc, i, 2)), '{}'::text[]) "
        "from generate_series(1, length(doc) - 1) as i",
        # 0017_linear_bigrams
        "select coalesce(array_agg(distinct pair), '{}'::text[]) from (select c || lead(c) over (order by i) "
        "as pair from unnest(string_to_array(doc, null)) with ordinality as t(c, i)) as s where pair is not null",
        # 0018_bigrams_unnest
        "select coalesce(array_agg(distinct a || b), '{}'::text[]) from (select string_to_array(doc, null) as c) "
        "as s, unnest(s.c[1:cardinality(s.c) - 1], s.c[2:]) as t(a, b)",
    ),
}


def _objects(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
    return {(t, n): re.sub(r"\s+", " ", (sql or "")).strip().lower() for t, n, sql in rows}


def sqlite_problems(snapshot: sqlite3.Connection) -> list[str]:
    """What is wrong with a SQLite snapshot's schema (empty list: it is the migrations' schema)."""
    from ledger.migrate import alembic_config, upgrade

    try:
        versions = [r[0] for r in snapshot.execute("SELECT version_num FROM alembic_version").fetchall()]
    except sqlite3.DatabaseError:
        return ["没有迁移版本表 (no alembic_version)"]
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    unknown = [v for v in versions if _revision(script, v) is None]
    if not versions or unknown:
        return [f"迁移版本 {', '.join(unknown) or '（空）'} 不是本系统已知的版本 (unknown schema revision)"]
    with tempfile.TemporaryDirectory(prefix="yuqing-restore-check-") as tmp:
        ref_url = f"sqlite:///{Path(tmp) / 'reference.db'}"
        for version in versions:
            upgrade(ref_url, version)
        ref = sqlite3.connect(Path(tmp) / "reference.db")
        try:
            want = _objects(ref)
        finally:
            ref.close()
    have = _objects(snapshot)
    problems = []
    for key in sorted(set(have) - set(want)):
        problems.append(f"多出的{_TYPE_ZH.get(key[0], key[0])} {key[1]} (extra {key[0]})")
    for key in sorted(set(want) - set(have)):
        problems.append(f"缺少{_TYPE_ZH.get(key[0], key[0])} {key[1]} (missing {key[0]})")
    for key in sorted(set(want) & set(have)):
        if want[key] != have[key]:
            problems.append(f"{_TYPE_ZH.get(key[0], key[0])} {key[1]} 的定义与迁移不同 (definition differs)")
    return problems


_TYPE_ZH = {"table": "表", "index": "索引", "trigger": "触发器", "view": "视图"}


def _revision(script, version: str):
    try:
        return script.get_revision(version)
    except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
        return None


def postgres_problems(file: Path, pg_restore: str, env: dict[str, str]) -> list[str]:
    """What is wrong with a pg_dump archive's contents (empty list: only the migrations' objects)."""
    from sqlmodel import SQLModel

    import ledger.models  # noqa: F401  (registers the tables)

    tables = set(SQLModel.metadata.tables) | {"alembic_version"}
    listing = subprocess.run([pg_restore, "--list", str(file)], capture_output=True, text=True, env=env,
                             check=False)
    if listing.returncode != 0:
        return [f"无法读取备份目录 (pg_restore --list failed): {listing.stderr.strip()[:300]}"]
    problems = []
    for line in listing.stdout.splitlines():
        if not line or line.startswith(";"):
            continue
        m = re.match(r"^\d+; \d+ \d+ (.+)$", line)
        if not m:
            continue
        rest = m.group(1)
        words = rest.split()
        if words[0] == "FUNCTION" and len(words) > 2 and words[2] in MIGRATION_FUNCTIONS:
            if not _function_body_is(file, pg_restore, env, words[2]):
                problems.append(f"函数 {words[2]} 的定义与迁移不同 (function body differs)")
        elif any(w in FORBIDDEN_PG for w in words[:3]):
            problems.append(f"备份中有迁移之外的对象: {rest[:120]} (extra object)")
        elif words[0] == "TABLE" and len(words) > 2 and words[1] != "DATA" and words[2] not in tables:
            problems.append(f"多出的表 {words[2]} (extra table)")
    return problems


def _function_body_is(file: Path, pg_restore: str, env: dict[str, str], signature: str) -> bool:
    """Whether the archive defines ``signature`` (a function of the migrations) with the migrations'
    body and nothing else between its dollar quotes."""
    script = subprocess.run([pg_restore, "--schema-only", "-f", "-", str(file)], capture_output=True, text=True,
                            env=env, check=False)
    if script.returncode != 0:
        return False
    name = signature.split("(")[0]
    bodies = re.findall(r"CREATE FUNCTION [\w\".]*?\b" + re.escape(name) + r"\([^)]*\)[^$]*\$(\w*)\$(.*?)\$\1\$",
                        script.stdout, flags=re.S)
    return len(bodies) == 1 and re.sub(r"\s+", " ", bodies[0][1]).strip().lower() in MIGRATION_FUNCTIONS[signature]
