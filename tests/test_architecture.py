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
LEDGER_BASE = {"models", "migrations", "types", "db", "audit", "users", "migrate", "acttime", "redact"}
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


# -- size and import circles ----------------------------------------------------------------------

MAX_MODULE_LINES = 600


def _product_files():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" in path.relative_to(ROOT).parts:
                continue
            yield path


def test_no_product_module_is_over_600_lines():
    long = []
    for path in _product_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not long, "split these modules:\n" + "\n".join(long)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every ``import`` / ``from … import`` at any depth (functions too), except the ones under
    ``if TYPE_CHECKING:`` (they never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (top-level and lazy imports inside functions).

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else ``pkg``.
    A package's ``__init__`` importing its own submodules is not counted (a submodule using its
    package's names would otherwise always look like a circle)."""
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    modules = set(files)

    def known(name: str) -> str | None:
        """``name`` or its longest prefix that is a project module."""
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            candidate = ".".join(parts[:i])
            if candidate in modules:
                return candidate
        return None

    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        package = mod if is_pkg else mod.rpartition(".")[0]
        targets: set[str] = set()
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(t for a in node.names if (t := known(a.name)))
                continue
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                target = sub if sub in modules else known(source)
                if target:
                    targets.add(target)
        graph[mod] = {t for t in targets if t != mod and not (is_pkg and t.startswith(mod + "."))}
    return graph


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    out.append(sorted(comp))
    return out


def test_import_graph_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert [c for c in _strongly_connected(graph) if len(c) > 1] == [["a", "b", "c"]]


def test_no_import_circles_between_product_modules():
    """No two product modules import each other, directly or through others, counting the lazy
    imports inside functions (a circle that only works because one side imports late is still
    a circle in the design)."""
    graph = _import_graph()
    circles = [c for c in _strongly_connected(graph) if len(c) > 1]
    shown = []
    for comp in sorted(circles):
        members = set(comp)
        edges = [f"    {a} -> {b}" for a in comp for b in sorted(graph[a] & members)]
        shown.append(" <-> ".join(comp) + "\n" + "\n".join(edges))
    assert not circles, "import circles:\n" + "\n".join(shown)
