"""Security checks over the shipped code (see docs/SECURITY.md):

* no SQL built from strings — every statement is a SQLAlchemy construct or ``text()`` with bound
  parameters; a grep over the shipped packages finds no f-string, ``%`` or ``+`` / ``.format``
  built SQL except the reviewed cases listed below (identifiers from a fixed list, an ``int()``);
* crawled text is never rendered as HTML — no ``unsafe_allow_html``, ``st.html`` or HTML
  components in the dashboard, and hostile markup is stored as inert plain text;
* no secrets in the repository — no private keys, no passwords inside database URLs, no secret
  key values in tracked files; the secret key has no default and is read from the environment.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED = ("analysis", "config", "crawlers", "ledger", "dashboard")

_SQL_WORDS = r"(?:SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|WITH|PRAGMA|TRUNCATE|GRANT|VACUUM|COMMENT)\b"
SQL_FROM_STRINGS = [
    # text(f"..."), execute(f"..."), exec_driver_sql(f"...")
    re.compile(r"\b(?:text|execute|executescript|exec_driver_sql)\(\s*[rb]?f[\"']"),
    # an f-string that starts with SQL, wherever it is used
    re.compile(r"\b[rb]?f(?:\"\"\"|'''|\"|')\s*" + _SQL_WORDS),
    # "SELECT ..." % x, "SELECT ..." + x, "SELECT ...".format(x)
    re.compile(r'"\s*' + _SQL_WORDS + r'[^"]*"\s*(?:%|\+|\.format\()'),
    re.compile(r"'\s*" + _SQL_WORDS + r"[^']*'\s*(?:%|\+|\.format\()"),
    # text(some_string + x) / execute(a % b)
    re.compile(r"\b(?:text|execute|exec_driver_sql)\(\s*\w+\s*(?:%|\+)\s*\w"),
]

# Reviewed exceptions: (file, text on the flagged line) -> why it is safe.
REVIEWED = {
    ("ledger/reports/dashboard.py", "sql = text(f"): "the only interpolation is a column name chosen from two constants",
    ("ledger/db.py", "PRAGMA busy_timeout={int(busy_timeout_ms)}"): "PRAGMA takes no bound parameters; int()",
    ("ledger/db.py", "PRAGMA cache_size=-{int(sqlite_cache_kib)}"): "PRAGMA takes no bound parameters; int()",
}


def sql_built_from_strings(source: str) -> list[tuple[int, str]]:
    """(line number, line) of every place where SQL looks built from strings."""
    hits: dict[int, str] = {}
    lines = source.splitlines()
    for pattern in SQL_FROM_STRINGS:
        for m in pattern.finditer(source):
            n = source.count("\n", 0, m.start()) + 1
            hits[n] = lines[n - 1].strip()
    return sorted(hits.items())


def shipped_files() -> list[Path]:
    return sorted(p for pkg in SHIPPED for p in (REPO / pkg).rglob("*.py") if "migrations" not in p.parts)


def test_the_sql_scanner_finds_string_built_sql():
    bad = '''
conn.execute(text(f"SELECT * FROM post WHERE id = {pid}"))
q = f"""
    DELETE FROM post WHERE author = '{name}'"""
cur.execute("UPDATE post SET title = '%s'" % title)
session.execute(text("SELECT * FROM post WHERE t = '" + t + "'"))
conn.exec_driver_sql(f"PRAGMA user_version={v}")
cur.execute(sql % args)
'''
    good = '''
conn.execute(text("SELECT * FROM post WHERE id = :pid"), {"pid": pid})
session.execute(select(Post).where(Post.id == pid))
message = f"选择器无效 {expr}"
log.info("deleted %s rows", n)
'''
    assert [n for n, _ in sql_built_from_strings(bad)] == [2, 3, 5, 6, 7, 8]
    assert sql_built_from_strings(good) == []


def test_no_sql_is_built_from_strings_in_the_shipped_code():
    offenders = []
    for path in shipped_files():
        rel = path.relative_to(REPO).as_posix()
        for n, line in sql_built_from_strings(path.read_text(encoding="utf-8")):
            if any(rel == f and snippet in line for f, snippet in REVIEWED):
                continue
            offenders.append(f"{rel}:{n}: {line}")
    assert offenders == [], "SQL built from strings:\n" + "\n".join(offenders)
    assert len(shipped_files()) > 50  # the scan really covered the packages


HTML_SINKS = re.compile(r"unsafe_allow_html\s*=\s*True|\bst\.html\(|components(?:\.v1)?\.html\(|\.to_html\(")


def test_the_dashboard_never_renders_html():
    offenders = []
    # the one exception: the session cookie writer, whose script holds only a checked token
    allowed = {REPO / "dashboard" / "session_cookie.py"}
    for path in sorted(set((REPO / "dashboard").rglob("*.py")) - allowed):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if HTML_SINKS.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert offenders == []
    assert HTML_SINKS.search('st.markdown(body, unsafe_allow_html=True)')  # the pattern itself works


def test_the_session_cookie_script_takes_only_a_token():
    from dashboard.session_cookie import _script

    assert "yuqing_session=abc.DEF-_1;" in _script("yuqing_session", "abc.DEF-_1", 60)
    for hostile in ("x'; alert(1); '", "a</script><script>alert(1)", "a;b", "a b"):
        with pytest.raises(ValueError):
            _script("yuqing_session", hostile, 60)


def test_hostile_markup_is_stored_and_shown_as_inert_text():
    from analysis.normalize import normalize_text
    from dashboard.safe import escape_md

    hostile = ('<p>停水通知</p><script>alert(document.cookie)</script><img src=x onerror="alert(1)">'
               '<a href="javascript:alert(2)">点此</a><style>body{display:none}</style><iframe src="//evil"></iframe>')
    text = normalize_text(hostile, is_html=True)
    assert "停水通知" in text and "点此" in text
    for bad in ("<", ">", "alert(document.cookie)", "onerror", "javascript:", "display:none", "iframe"):
        assert bad not in text
    # text that merely looks like markup is shown literally in markdown, never interpreted
    shown = escape_md("<b>粗体</b> [链接](javascript:alert(1))")
    assert "<b>" not in shown and "](" not in shown


SECRET_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    # a password inside a database / redis / amqp URL (placeholders such as ${VAR} or <...> allowed)
    re.compile(r"\b(?:postgres(?:ql)?(?:\+\w+)?|mysql(?:\+\w+)?|redis|rediss|amqp)://[^\s:/@'\"]+:"
               r"(?!\$\{|<|\*+@|PASSWORD@|password@|密码@)[^\s@'\"]+@"),
    re.compile(r"YUQING_SECRET_KEY\s*=\s*['\"]?(?!\$|<|\.\.\.|…|CHANGE|change|\s*$)[A-Za-z0-9+/=_\-]{12,}"),
    re.compile(r"\b(?:AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36}|xox[bp]-[A-Za-z0-9-]{20,})"),
]


def _tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    files = []
    for name in out.decode().split("\0"):
        path = REPO / name
        if name and path.is_file() and path.suffix not in {".npz", ".png", ".jpg", ".xlsx", ".docx", ".gz", ".db"}:
            files.append(path)
    return files


def test_no_secrets_in_tracked_files():
    assert SECRET_PATTERNS[1].search("postgresql+psycopg://yuqing:s3cret@db:5432/yuqing")
    assert not SECRET_PATTERNS[1].search("postgresql+psycopg://yuqing@db:5432/yuqing")
    assert SECRET_PATTERNS[2].search("YUQING_SECRET_KEY=Zm9vYmFyYmF6cXV4MTIzNDU2")
    assert not SECRET_PATTERNS[2].search("YUQING_SECRET_KEY=<用 openssl rand -hex 32 生成>")
    files = _tracked_text_files()
    assert len(files) > 100
    offenders = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if path.name == "test_security.py":
            continue  # the examples above
        for pattern in SECRET_PATTERNS:
            for m in pattern.finditer(text):
                offenders.append(f"{path.relative_to(REPO)}: {m.group(0)[:60]}")
    assert offenders == []


def test_the_secret_key_comes_only_from_the_environment(monkeypatch):
    import tomllib

    from config.settings import Settings, get_settings

    defaults = tomllib.loads((REPO / "config" / "defaults" / "settings.toml").read_text(encoding="utf-8"))
    assert "secret_key" not in defaults
    assert Settings.model_fields["secret_key"].default is None
    monkeypatch.delenv("YUQING_SECRET_KEY", raising=False)
    monkeypatch.delenv("YUQING_CONFIG_DIR", raising=False)
    monkeypatch.delenv("YUQING_CONFIG_FILE", raising=False)
    assert get_settings().secret_key is None
    monkeypatch.setenv("YUQING_SECRET_KEY", "from-the-environment")
    assert get_settings().secret_key == "from-the-environment"


@pytest.mark.parametrize("name", [".env", "secrets.toml", "id_rsa"])
def test_no_secret_files_are_tracked(name):
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert not [line for line in tracked.splitlines() if Path(line).name == name]
