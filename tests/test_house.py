"""House rules that a code change can break (STYLE.md, docs/glossary.md), checked on the source tree with ``ast``:

* no function body over :data:`MAX_BODY_LINES` lines outside the Numba kernel modules (``_kernels.py`` files and
  the hand-written byte scanners ``io/_voc_scan.py`` / ``io/_json_scan.py``): orchestration reads top to bottom;
* nothing calls a kernel through ``inspect.signature`` (kernels are called by name, with their arguments);
* no ``WeakKeyDictionary`` side tables: a structure carries its own meaning in its fields;
* detection outcomes are the ``OUTCOME_*`` constants, never bare codes compared with a state or outcome array.

Each check is run on a deliberately bad snippet first, so a check that stopped finding anything fails too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vocbench", "reference_models")
#: The longest function body allowed outside the kernel modules (lines, docstring excluded).
MAX_BODY_LINES = 80
#: Modules of Numba kernels: long straight-line loops are their nature (and splitting them costs speed).
KERNEL_MODULES = ("_kernels.py", "_voc_scan.py", "_json_scan.py", "_json_kernels.py")


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _is_kernel_module(path: Path) -> bool:
    return path.name.endswith(KERNEL_MODULES)


def body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of ``fn``'s body from its first statement after the docstring to its last line."""
    body = fn.body
    first = body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
            and len(body) > 1):
        first = body[1]
    return (fn.end_lineno or fn.lineno) - first.lineno + 1


def long_functions(tree: ast.AST, limit: int = MAX_BODY_LINES) -> list[tuple[str, int]]:
    return [(n.name, body_lines(n)) for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and body_lines(n) > limit]


def reflection_calls(tree: ast.AST) -> list[int]:
    """Lines that use ``inspect.signature`` / ``signature(...)`` imported from inspect."""
    hits = []
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module == "inspect" and any(a.name == "signature" for a in n.names):
            hits.append(n.lineno)
        if isinstance(n, ast.Attribute) and n.attr == "signature" and isinstance(n.value, ast.Name) \
                and n.value.id == "inspect":
            hits.append(n.lineno)
    return hits


def weak_side_tables(tree: ast.AST) -> list[int]:
    hits = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id in ("WeakKeyDictionary", "WeakValueDictionary"):
            hits.append(n.lineno)
        elif isinstance(n, ast.Attribute) and n.attr in ("WeakKeyDictionary", "WeakValueDictionary"):
            hits.append(n.lineno)
        elif isinstance(n, ast.ImportFrom) and n.module == "weakref" and any(
                a.name in ("WeakKeyDictionary", "WeakValueDictionary") for a in n.names):
            hits.append(n.lineno)
    return hits


_STATE_NAMES = ("state", "outcome", "o", "s", "state_", "out")


def bare_outcome_codes(tree: ast.AST) -> list[int]:
    """Lines comparing a state/outcome array or element with a bare 0-3, or storing one into it."""
    def is_state(node: ast.AST) -> bool:
        if isinstance(node, ast.Subscript):
            node = node.value
        if isinstance(node, ast.Attribute):
            return node.attr in ("state", "outcome")
        return isinstance(node, ast.Name) and node.id in _STATE_NAMES

    def is_code(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= 3

    hits = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Compare) and len(n.comparators) == 1 and isinstance(n.ops[0], (ast.Eq, ast.NotEq)):
            if (is_state(n.left) and is_code(n.comparators[0])) or (is_code(n.left) and is_state(n.comparators[0])):
                hits.append(n.lineno)
        elif isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Subscript):
            if is_state(n.targets[0]) and is_code(n.value):
                hits.append(n.lineno)
    return hits


_OUTCOME_MODULES = ("eval/_kernels.py", "eval/_vectorised.py", "eval/matching.py", "eval/evaluator.py",
                    "diagnose/", "compare/")


# ----------------------------------------------------------------------------------------------- the checks fire
def test_checks_find_what_they_look_for():
    long_src = "def f():\n    '''doc'''\n" + "    x = 1\n" * (MAX_BODY_LINES + 1)
    assert long_functions(ast.parse(long_src)) == [("f", MAX_BODY_LINES + 1)]
    ok_src = "def f():\n    '''doc'''\n" + "    x = 1\n" * MAX_BODY_LINES
    assert long_functions(ast.parse(ok_src)) == []
    assert reflection_calls(ast.parse("import inspect\np = inspect.signature(k).parameters")) == [2]
    assert reflection_calls(ast.parse("from inspect import signature")) == [1]
    assert weak_side_tables(ast.parse("import weakref\n_T = weakref.WeakKeyDictionary()")) == [2]
    assert weak_side_tables(ast.parse("from weakref import WeakKeyDictionary")) == [1]
    bare = "m = state == 1\nstate[d] = 3\nx = outcome[i] != 2\nk = n == 1"
    assert sorted(bare_outcome_codes(ast.parse(bare))) == [1, 2, 3]
    assert bare_outcome_codes(ast.parse("m = state == OUTCOME_TP\nstate[d] = OUTCOME_IGNORED")) == []


# ----------------------------------------------------------------------------------------------- on the tree
def test_no_long_functions_outside_kernel_modules():
    bad = []
    for path in _sources():
        if _is_kernel_module(path):
            continue
        for name, n in long_functions(ast.parse(path.read_text(), str(path))):
            bad.append(f"{path.relative_to(ROOT)}: {name}() has a {n}-line body")
    assert not bad, "split into named steps (STYLE.md):\n" + "\n".join(bad)


def test_no_kernel_called_by_reflection():
    bad = [f"{p.relative_to(ROOT)}:{line}" for p in _sources() for line in reflection_calls(ast.parse(p.read_text()))]
    assert not bad, "call kernels by name, never through inspect.signature: " + ", ".join(bad)


def test_no_identity_keyed_side_tables():
    bad = [f"{p.relative_to(ROOT)}:{line}" for p in _sources() for line in weak_side_tables(ast.parse(p.read_text()))]
    assert not bad, "a structure carries its own meaning as fields, not in a weak side table: " + ", ".join(bad)


@pytest.mark.parametrize("part", _OUTCOME_MODULES)
def test_outcomes_are_named_constants(part):
    paths = [p for p in _sources() if f"vocbench/{part}" in p.as_posix()]
    assert paths, part
    bad = [f"{p.relative_to(ROOT)}:{line}" for p in paths for line in bare_outcome_codes(ast.parse(p.read_text()))]
    assert not bad, "use vocbench.eval.outcomes.OUTCOME_* instead of bare codes: " + ", ".join(bad)
