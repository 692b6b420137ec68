"""A small mutation check of our own (``make mutate``): break the guarded modules one small change at
a time and run the tests that should notice; a mutant the tests let pass "survives".

Guarded modules and the tests run against each are in ``TARGETS``; each mutant runs its stages in
order (fast tests first, with ``-x``) and is killed by the first failing stage. Mutants are made
on the syntax tree (comparisons, ``and``/``or``, ``not``, numbers and booleans, ``+``/``-``,
``*``/``/``, returned values, dropped calls) and written into a private copy of the repository;
the worktree is never changed. Each mutant runs in a process forked from one that has already
imported the third-party libraries (not our code), which saves their import time per mutant.

Mutants reviewed as equivalent (no test can tell them apart, the behaviour is the same) are listed
with the reason in ``bench/mutate/equivalent.toml``; they are reported, not counted as survivors.
The score is written to docs/MUTATION.md.

Usage: python bench/mutate/run.py [--module PATH ...] [--jobs N] [--timeout S] [--survivors] [--list]
       [--no-write] [--doc]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
DOC = REPO / "docs" / "MUTATION.md"
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.toml"
LAST_RUN = Path(__file__).resolve().parent / "last_run.json"  # per module, merged across runs
NOTES = Path(__file__).resolve().parent / "notes.md"  # hand-written findings, appended to the doc

# module -> stages of test selections; a mutant is killed by the first stage that fails
TARGETS: dict[str, list[list[str]]] = {
    "ledger/clocks/calendar.py": [["tests/test_calendar.py", "tests/test_calendar_edges.py"], ["tests/test_clocks.py", "tests/test_cli_due.py"]],
    "ledger/clocks/rules.py": [["tests/test_clocks.py", "tests/test_calendar.py", "tests/test_rule_edges.py"],
                               ["tests/test_tick.py", "tests/test_clock_edges.py"]],
    "ledger/clocks/engine.py": [["tests/test_clocks.py", "tests/test_clock_edges.py"], ["tests/test_tick.py", "tests/test_cases.py"]],
    "analysis/pii.py": [["tests/test_normalize_pii.py", "tests/test_pii_landline.py"]],
    "ledger/users.py": [["tests/test_users.py"]],
    "ledger/alerts/outbox.py": [["tests/test_outbox_edges.py"], ["tests/test_outbox.py"],
                                ["tests/test_promises.py::test_outbox_and_duty_listings_hide_credentials"]],
}

# third-party imports made once in the parent; never our own packages (the mutant must be imported fresh)
WARM = ("pytest", "xdist", "pytest_timeout", "sqlalchemy", "sqlmodel", "pydantic", "pydantic_settings", "typer",
        "chinese_calendar", "argon2", "itsdangerous", "apprise", "openpyxl", "docx", "alembic", "psycopg",
        "httpx", "streamlit")
OURS = ("analysis", "config", "crawlers", "dashboard", "ledger", "tests", "bench")

COMPARE_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult}
BOOL_SWAP = {ast.And: ast.Or, ast.Or: ast.And}
SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
          ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
          ast.Div: "/", ast.FloorDiv: "//", ast.And: "and", ast.Or: "or"}


@dataclass
class Mutant:
    module: str
    index: int
    line: int
    what: str
    source: str
    outcome: str = ""  # killed | survived | timeout | equivalent
    function: str = ""  # the enclosing function, if any
    col: int = 0  # column of the mutated node (tells apart two equal mutations on one line)
    killed_by: str = ""
    seconds: float = 0.0


@dataclass
class Result:
    module: str
    mutants: list[Mutant] = field(default_factory=list)


class _Mutator(ast.NodeTransformer):
    """Visits the mutation points in a fixed order; with ``target`` set, applies that one."""

    def __init__(self, target: int | None = None) -> None:
        self.target = target
        self.points: list[tuple[int, str, str, int]] = []
        self.skip_lines: set[int] = set()
        self.functions: list[str] = []

    def _point(self, node: ast.AST, what: str) -> bool:
        line = getattr(node, "lineno", 0)
        if line in self.skip_lines:
            return False
        self.points.append((line, what, ".".join(self.functions), getattr(node, "col_offset", 0)))
        return len(self.points) - 1 == self.target

    # --- nodes that are not mutated: docstrings, annotations, __all__
    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        args = [a for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                            node.args.vararg, node.args.kwarg) if a is not None]
        kept = (node.returns, [a.annotation for a in args])
        node.returns = None
        for a in args:
            a.annotation = None
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()
        node.returns = kept[0]
        for a, annotation in zip(args, kept[1], strict=True):
            a.annotation = annotation
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Constant):
            return node  # docstring or bare constant
        if isinstance(node.value, ast.Call) and self._point(node, f"drop the call `{_short(node.value)}`"):
            return ast.Pass()
        return self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return node
        return self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self.generic_visit(node)

    # --- operators
    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            new = COMPARE_SWAP.get(type(op))
            left, right = _short(operands[i], 25), _short(operands[i + 1], 25)
            if new and self._point(node, f"`{left} {SYMBOL[type(op)]} {right}` → `{SYMBOL[new]}`"):
                node.ops[i] = new()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        new = BOOL_SWAP[type(node.op)]
        if self._point(node, f"`{SYMBOL[type(node.op)]}` → `{SYMBOL[new]}`"):
            node.op = new()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._point(node, "drop `not`"):
            return node.operand
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
            return node  # string formatting / concatenation
        new = BINOP_SWAP.get(type(node.op))
        if new and self._point(node, f"`{_short(node, 40)}`: `{SYMBOL[type(node.op)]}` → `{SYMBOL[new]}`"):
            node.op = new()
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        new = BINOP_SWAP.get(type(node.op))
        if new and self._point(node, f"`{SYMBOL[type(node.op)]}=` → `{SYMBOL[new]}=`"):
            node.op = new()
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        v = node.value
        if isinstance(v, bool):
            if self._point(node, f"`{v}` → `{not v}`"):
                return ast.copy_location(ast.Constant(not v), node)
        elif isinstance(v, int | float) and self._point(node, f"`{v!r}` → `{v + 1!r}`"):
            return ast.copy_location(ast.Constant(v + 1), node)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        if node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None):
            return node
        if self._point(node, "return `None`"):
            node.value = ast.Constant(None)
        return node


def _short(node: ast.AST, width: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= width else text[: width - 1] + "…"


def _parse(path: Path) -> tuple[ast.Module, set[int]]:
    text = path.read_text(encoding="utf-8")
    skip = {n for n, line in enumerate(text.splitlines(), 1) if "pragma: no mutate" in line}
    return ast.parse(text), skip


def enumerate_mutants(module: str) -> list[Mutant]:
    path = REPO / module
    tree, skip = _parse(path)
    m = _Mutator()
    m.skip_lines = skip
    m.visit(tree)
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Mutant(module, i, line, what, lines[line - 1].strip() if line else "", function=function, col=col)
            for i, (line, what, function, col) in enumerate(m.points)]


def mutated_source(module: str, index: int) -> str:
    tree, skip = _parse(REPO / module)
    m = _Mutator(index)
    m.skip_lines = skip
    new = ast.fix_missing_locations(m.visit(tree))
    return ast.unparse(new) + "\n"


def load_equivalent() -> dict[tuple[str, str, str, str, int | str], str]:
    """(module, function, source line, mutation, column) -> why; an entry's ``functions`` limits it to
    those functions (the same line can be equivalent in one function and not in another), its ``col``
    to the node at that column (two equal mutations on one line, e.g. the two 1s of ``date(y, 1, 1)``)."""
    if not EQUIVALENT.exists():
        return {}
    data = tomllib.loads(EQUIVALENT.read_text(encoding="utf-8"))
    out = {}
    for e in data.get("mutant", []):
        for function in e.get("functions", ["*"]):
            out[(e["module"], function, e["source"].strip(), e["mutation"], e.get("col", "*"))] = e["why"]
    return out


def equivalent_why(equivalent: dict[tuple[str, str, str, str, int | str], str], m: Mutant) -> str | None:
    for function in (m.function, "*"):
        for col in (m.col, "*"):
            why = equivalent.get((m.module, function, m.source, m.what, col))
            if why is not None:
                return why
    return None


def copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".git", ".venv", "var", "__pycache__", ".pytest_cache", "*.pyc", "mutants")
    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)


def _child(copy: Path, stage: list[str], timeout: int, log: Path) -> None:
    """In the forked child: run pytest on the copy; exit with its status."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.chdir(copy)
    sys.path.insert(0, str(copy))
    os.environ["PYTHONPATH"] = str(copy)
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    import pytest

    code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-o", "addopts=",
                        f"--timeout={timeout}", *stage])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def _run_stage(copy: Path, stage: list[str], timeout: int, log: Path) -> str:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            _child(copy, stage, timeout, log)
        finally:
            os._exit(3)
    deadline = time.monotonic() + timeout * 2
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return "pass" if code == 0 else ("error" if code in (2, 3, 4) else "fail")
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.2)


def run_mutant(copy: Path, mutant: Mutant, timeout: int, logs: Path) -> None:
    target = copy / mutant.module
    original = target.read_text(encoding="utf-8")
    started = time.monotonic()
    try:
        target.write_text(mutated_source(mutant.module, mutant.index), encoding="utf-8")
        mutant.outcome = "survived"
        for stage in TARGETS[mutant.module]:
            log = logs / f"{mutant.module.replace('/', '_')}.{mutant.index}.log"
            result = _run_stage(copy, stage, timeout, log)
            if result == "pass":
                continue
            mutant.outcome = "timeout" if result == "timeout" else "killed"
            mutant.killed_by = " ".join(stage)
            if result == "error":
                mutant.killed_by += " (error)"
            break
    finally:
        target.write_text(original, encoding="utf-8")
        mutant.seconds = time.monotonic() - started


def baseline(copy: Path, module: str, timeout: int, logs: Path) -> None:
    for stage in TARGETS[module]:
        result = _run_stage(copy, stage, timeout, logs / "baseline.log")
        if result != "pass":
            sys.exit(f"the tests of {module} do not pass unmutated ({' '.join(stage)}): see {logs / 'baseline.log'}")


def warm_up() -> None:
    for name in WARM:
        try:
            __import__(name)
        except ImportError:
            pass
    loaded = [m for m in sys.modules if m.split(".")[0] in OURS]
    if loaded:
        raise RuntimeError(f"our own modules were imported before mutating: {loaded[:5]}")


def run(modules: list[str], jobs: int, timeout: int, write: bool = True, survivors: bool = False) -> list[Result]:
    """Run every mutant of ``modules``; after each module its result is merged into LAST_RUN and
    docs/MUTATION.md is rewritten (so an interrupted run keeps what it finished). With
    ``survivors``, only the mutants that survived the last run are run again (after tests were
    added); the others keep their last outcome."""
    equivalent = load_equivalent()
    last = json.loads(LAST_RUN.read_text(encoding="utf-8")) if survivors and LAST_RUN.exists() else {}
    warm_up()
    results = []
    with tempfile.TemporaryDirectory(prefix="yuqing-mutate-") as tmp:
        copies = []
        for j in range(jobs):
            copy = Path(tmp) / f"repo{j}"
            copy_repo(copy)
            copies.append(copy)
        logs = Path(tmp) / "logs"
        logs.mkdir()
        for module in modules:
            result = Result(module, enumerate_mutants(module))
            baseline(copies[0], module, timeout, logs)
            before: dict[tuple[str, str], list[dict]] = {}  # equal mutations on one line: matched in order
            for old in last.get(module, {}).get("mutants", []):
                before.setdefault((old["source"], old["what"]), []).append(old)
            todo = []
            for m in result.mutants:
                why = equivalent_why(equivalent, m)
                same = before.get((m.source, m.what))
                old = same.pop(0) if same else None
                if why is not None:
                    m.outcome, m.killed_by = "equivalent", why
                elif survivors and old is not None and old["outcome"] in ("killed", "timeout"):
                    m.outcome, m.killed_by, m.seconds = old["outcome"], old["killed_by"], old["seconds"]
                else:
                    todo.append(m)
            print(f"== {module}: {len(result.mutants)} mutants ({len(todo)} to run)", flush=True)
            started = time.monotonic()
            _run_all(copies, todo, timeout, logs)
            results.append(result)
            if write:
                write_doc(merge_last_run([result], time.monotonic() - started, jobs, survivors))
            s = _score(result)
            print(f"== {module}: killed {s['killed']}, survived {s['survived']}, equivalent {s['equivalent']}",
                  flush=True)
    return results


def _run_all(copies: list[Path], todo: list[Mutant], timeout: int, logs: Path) -> None:
    """Run mutants on ``len(copies)`` copies at once (a thread per copy; each forks its children)."""
    import threading

    lock = threading.Lock()
    queue = list(todo)

    def worker(copy: Path) -> None:
        while True:
            with lock:
                if not queue:
                    return
                m = queue.pop(0)
            run_mutant(copy, m, timeout, logs)
            with lock:
                mark = {"killed": ".", "timeout": "T", "survived": "S"}.get(m.outcome, "?")
                print(mark if mark != "S" else f"\nSURVIVED {m.module}:{m.line} {m.what}  | {m.source}",
                      end="" if mark != "S" else "\n", flush=True)

    threads = [threading.Thread(target=worker, args=(c,)) for c in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(flush=True)


def _score(result: Result) -> dict[str, int]:
    counts = {k: 0 for k in ("killed", "timeout", "survived", "equivalent")}
    for m in result.mutants:
        counts[m.outcome] = counts.get(m.outcome, 0) + 1
    return counts


def write_doc(results: list[Result]) -> None:
    lines = [
        "# Mutation check",
        "",
        "`make mutate` (`python bench/mutate/run.py`) breaks the modules below one small change at a time",
        "and runs the tests listed for each; a mutant the tests let pass survives. Operators: comparisons",
        "(`<`↔`<=`, `==`↔`!=`, `in`↔`not in`, `is`↔`is not`), `and`↔`or`, dropping `not`, numbers +1,",
        "`True`↔`False`, `+`↔`-`, `*`↔`/`, `return None` instead of a value, dropping a call statement.",
        "Mutants reviewed as equivalent are listed with the reason in `bench/mutate/equivalent.toml`.",
        "Not part of `make test` (it takes too long for CI's budget).",
        "",
        "| module | tests run (in stages) | mutants | killed | timed out | equivalent | survived | score | run | command |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    runs = json.loads(LAST_RUN.read_text(encoding="utf-8")) if LAST_RUN.exists() else {}
    total = {k: 0 for k in ("n", "killed", "timeout", "survived", "equivalent")}
    for r in results:
        s = _score(r)
        n = len(r.mutants)
        caught = s["killed"] + s["timeout"]
        scored = n - s["equivalent"]
        stages = " → ".join(", ".join(Path(t).name for t in st) for st in TARGETS[r.module])
        info = runs.get(r.module, {})
        when = f"{info.get('date', '?')}, {info.get('minutes', '?')} min, {info.get('jobs', '?')} job(s)"
        command = f"`nice -n 10 python bench/mutate/run.py --jobs {info.get('jobs', 1)} --module {r.module}`"
        if info.get("survivors_rerun"):
            when += f"; survivors re-run {info['survivors_rerun']}"
            command += " then the same with `--survivors`"
        lines.append(f"| `{r.module}` | {stages} | {n} | {s['killed']} | {s['timeout']} | {s['equivalent']} | "
                     f"{s['survived']} | {100 * caught / scored if scored else 100:.1f} % | {when} | {command} |")
        total["n"] += n
        for k in ("killed", "timeout", "survived", "equivalent"):
            total[k] += s[k]
    done = {r.module for r in results}
    for module, module_stages in TARGETS.items():
        if module not in done:
            stages = " → ".join(", ".join(Path(t).name for t in st) for st in module_stages)
            lines.append(f"| `{module}` | {stages} | not run yet | | | | | | | |")
    scored = total["n"] - total["equivalent"]
    caught = total["killed"] + total["timeout"]
    lines.append(f"| **all** | | {total['n']} | {total['killed']} | {total['timeout']} | {total['equivalent']} | "
                 f"{total['survived']} | {100 * caught / scored if scored else 100:.1f} % | | |")
    lines += ["", "Score = (killed + timed out) / (mutants − equivalent). Times are wall-clock minutes on the",
              "shared 2-core development machine (other work was running; only a rough guide).", ""]
    survivors = [m for r in results for m in r.mutants if m.outcome == "survived"]
    lines += ["## Surviving mutants", ""]
    if survivors:
        lines += ["| module | line | mutation | source line |", "|---|---:|---|---|"]
        lines += [f"| `{m.module}` | {m.line} | {m.what} | `{m.source.replace('|', '¦')}` |" for m in survivors]
    else:
        lines.append("None.")
    equivalents = [m for r in results for m in r.mutants if m.outcome == "equivalent"]
    lines += ["", "## Equivalent mutants (reviewed)", ""]
    if equivalents:
        lines += ["| module | line | mutation | source line | why it is equivalent |", "|---|---:|---|---|---|"]
        lines += [f"| `{m.module}` | {m.line} | {m.what} | `{m.source.replace('|', '¦')}` | {m.killed_by} |"
                  for m in equivalents]
    else:
        lines.append("None.")
    if NOTES.exists():
        lines += ["", NOTES.read_text(encoding="utf-8").rstrip()]
    DOC.write_text("\n".join(lines) + "\n", encoding="utf-8")


def merge_last_run(results: list[Result], seconds: float, jobs: int, survivors: bool = False) -> list[Result]:
    """Keep each module's latest result in LAST_RUN; return the results of every guarded module run so far.
    A re-run of the survivors keeps the time of the full run and notes the re-run."""
    data = json.loads(LAST_RUN.read_text(encoding="utf-8")) if LAST_RUN.exists() else {}
    day = time.strftime("%Y-%m-%d", time.gmtime())
    for r in results:
        entry = {"date": day, "minutes": round(seconds / 60, 1), "jobs": jobs}
        if survivors and r.module in data:
            entry = {k: data[r.module][k] for k in ("date", "minutes", "jobs")} | {"survivors_rerun": day}
        data[r.module] = entry | {"mutants": [m.__dict__ for m in r.mutants]}
    LAST_RUN.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return [Result(module, [Mutant(**m) for m in data[module]["mutants"]]) for module in TARGETS if module in data]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", action="append", choices=sorted(TARGETS), help="only this module (repeatable)")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once (one repository copy each)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds a test run may take")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    ap.add_argument("--survivors", action="store_true",
                    help="run again only the mutants that survived the last run (and new ones)")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/MUTATION.md")
    ap.add_argument("--doc", action="store_true", help="only write docs/MUTATION.md again from the last run")
    args = ap.parse_args(argv)
    if args.doc:
        data = json.loads(LAST_RUN.read_text(encoding="utf-8")) if LAST_RUN.exists() else {}
        write_doc([Result(module, [Mutant(**m) for m in data[module]["mutants"]]) for module in TARGETS
                   if module in data])
        return 0
    modules = args.module or list(TARGETS)
    if args.list:
        for module in modules:
            for m in enumerate_mutants(module):
                print(f"{m.module}:{m.line} #{m.index} {m.what}  | {m.source}")
        return 0
    results = run(modules, max(1, args.jobs), args.timeout, write=not args.no_write, survivors=args.survivors)
    return 1 if any(m.outcome == "survived" for r in results for m in r.mutants) else 0


if __name__ == "__main__":
    sys.exit(main())
