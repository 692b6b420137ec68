"""The import direction of docs/ARCHITECTURE.md holds, and no module does I/O at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("analysis", "ledger", "crawlers", "dashboard", "config")
ALLOWED = {
    "analysis": set(),
    "ledger": {"analysis"},
    "crawlers": {"ledger", "analysis"},
    "dashboard": {"ledger", "analysis", "config"},
    "config": set(PACKAGES),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_import_direction():
    bad = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for target in _imports(path) - {pkg}:
                if target not in ALLOWED[pkg]:
                    bad.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not bad, "\n".join(bad)


#: inside ``ledger``: which of its parts each part may import (the base modules and tables are
#: open to all). Clocks, posts and alerts sit on the base; cases and messages on clocks (and
#: alerts, posts); reports read everything.
LEDGER_BASE = {"models", "migrations", "types", "db", "audit", "users", "migrate"}
LEDGER_ALLOWED = {
    "clocks": set(),
    "posts": set(),
    "alerts": set(),
    "cases": {"clocks", "alerts"},
    "messages": {"clocks", "posts"},
    "policies": {"clocks", "alerts"},
    "reports": {"clocks", "cases", "alerts", "posts", "messages", "policies"},
}


def _ledger_part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "ledger" else None


def test_ledger_layers():
    """``ledger.cases`` may use ``ledger.clocks``, never the other way round, and so on."""
    bad = []
    for part, allowed in LEDGER_ALLOWED.items():
        for path in (ROOT / "ledger" / part).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets = ([_ledger_part(f"ledger.{a.name}") for a in node.names] if node.module == "ledger"
                               else [_ledger_part(node.module)])
                elif isinstance(node, ast.Import):
                    targets = [_ledger_part(a.name) for a in node.names]
                else:
                    continue
                for target in targets:
                    if target and target != part and target not in LEDGER_BASE and target not in allowed:
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports ledger.{target}")
    assert not bad, "\n".join(bad)


def test_ledger_is_rooms_not_a_heap():
    """At most 8 modules loose at the top of ``ledger/``; the concerns live in subpackages."""
    loose = sorted(p.name for p in (ROOT / "ledger").glob("*.py"))
    assert len(loose) <= 8, loose
    subpackages = [p.name for p in (ROOT / "ledger").iterdir() if (p / "__init__.py").exists()]
    assert set(LEDGER_ALLOWED) <= set(subpackages), subpackages


def test_every_module_has_a_docstring():
    missing = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if "migrations/versions" in str(path):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if not ast.get_docstring(tree):
                missing.append(str(path.relative_to(ROOT)))
    assert not missing, missing


def test_importing_every_module_opens_no_files_or_sockets(tmp_path):
    """Import all modules with the working directory and data dir in an empty folder: nothing appears."""
    modules = []
    for pkg in ("analysis", "ledger", "crawlers", "config"):
        for path in (ROOT / pkg).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            modules.append(".".join(rel.parts).removesuffix(".__init__"))
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    env = {"PATH": "/usr/bin:/bin", "YUQING_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (tmp_path / "data").exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in {"data"}]
    assert not [x for x in leftovers if not x.startswith(".")], leftovers
