"""Rules the test suite keeps about itself: a test body has no branches (no `if`, no conditional
expression, no filtering comprehension); a choice belongs in parametrization or a named helper."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def branches(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """(test name, line) of every if, conditional expression or comprehension filter inside a
    `test_*` function, nested functions and lambdas included."""
    tests = (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    for test in (t for t in tests if t.name.startswith("test")):
        for node in ast.walk(test):
            match node:
                case ast.If() | ast.IfExp():
                    yield test.name, node.lineno
                case ast.ListComp() | ast.SetComp() | ast.DictComp() | ast.GeneratorExp():
                    yield from ((test.name, node.lineno) for g in node.generators if g.ifs)


def branching_tests(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line} {name}"
        for path in sorted(root.rglob("test_*.py"))
        for name, line in branches(ast.parse(path.read_text(), str(path)))
    ]


def test_no_test_body_branches() -> None:
    found = branching_tests(TESTS)
    assert found == [], "\n".join(found)


def test_the_check_sees_ifs_conditionals_and_filters(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "def helper(x):\n    return x if x else 0\n\n"
        "def test_a(x):\n    if x:\n        pass\n\n"
        "def test_b(xs):\n    assert [x for x in xs if x] == (1 if xs else 2)\n"
    )
    assert branching_tests(tmp_path) == [
        "test_x.py:5 test_a",
        "test_x.py:9 test_b",
        "test_x.py:9 test_b",
    ]
