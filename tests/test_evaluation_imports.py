"""The evaluation package's own modules import each other without cycles (issue 13, item 10).

Imports under ``if TYPE_CHECKING:`` are for annotations only and are left out; imports inside
functions count (a lazy import hides a cycle, it does not remove it).
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import studentprofile.evaluation as evaluation
from studentprofile.evaluation import BacktestResult, EvaluationReport

PACKAGE = "studentprofile.evaluation"
FOLDER = Path(evaluation.__file__).parent


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:
                found.update(f"{PACKAGE}.{a.name}" for a in node.names)
            elif node.module.startswith(PACKAGE + "."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PACKAGE + "."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(FOLDER.glob("_*.py")):
        name = f"{PACKAGE}.{path.stem}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = {m for m in _imports(tree) if m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles = []
    for start in graph:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(path + [start])
                elif nxt not in path and nxt in graph:
                    stack.append((nxt, path + [nxt]))
    return cycles


def test_no_import_cycle_inside_evaluation():
    graph = _graph()
    assert f"{PACKAGE}._report" in graph[f"{PACKAGE}._backtest"]  # the backtest builds reports
    assert _cycles(graph) == []


def test_backtest_report_has_a_real_return_type():
    hints = typing.get_type_hints(BacktestResult.report)
    assert hints["return"] is EvaluationReport
