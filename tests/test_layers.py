"""The layer order of DESIGN.md, checked by reading every module's imports (``ast``).

Rules (DESIGN.md "Layers"):

* an import points to the same layer or one below (``LAYERS``, bottom first), never up;
* no import cycle between modules, even one hidden in a function;
* ``importlib.import_module("studentprofile...")`` and ``__import__`` hide an import from readers
  and tools: only the package face ``studentprofile/__init__.py`` (PEP 562 lazy attributes) may
  use them;
* ``_kernels.py`` modules import only numpy and numba; nothing below ``tracking/`` imports mlflow;
  nothing below ``io/`` imports SQLAlchemy; nothing but ``spark/`` imports pyspark; matplotlib is
  imported inside functions only.

Imports inside functions count: a lazy import is still a dependency, only a deferred one. Imports in
an ``if TYPE_CHECKING:`` block are allowed to point anywhere: they are never executed, so they
create neither a runtime dependency nor a cycle; they exist for annotations only.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "studentprofile"

# Bottom first. A name is a top-level module or sub-package of studentprofile; every module inside a
# sub-package has the sub-package's layer. A private top-level module not listed (``_typing.py``,
# ...) is a leaf helper and sits in the bottom layer; a public one must be placed here.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "_files", "_version"),
    ("tables", "datasets"),
    ("io",),
    ("features", "labels"),
    ("models",),
    ("compiled",),
    ("explain",),
    ("evaluation",),
    ("warning",),
    ("tracking", "spark"),
    ("pipeline", "cli", "__main__"),
    # the package face: ``import studentprofile`` loads errors and tables, the rest on first use
    ("",),
)

# The only upward imports allowed: (importing module, function, imported package). They must sit
# inside that function, as a plain ``import``/``from`` statement (not importlib).
ALLOWED_UPWARD: frozenset[tuple[str, str, str]] = frozenset(
    {
        # ``model.explain(X)`` is the documented one-line way from a fitted model to SHAP reasons
        # (DESIGN.md "Public surface"); importing models never loads explain/ or shap.
        ("studentprofile.models._risk_model", "RiskModel.explain", "studentprofile.explain"),
        # ``model.compile()`` hands the fitted model to the numba scorer the same way.
        ("studentprofile.models._risk_model", "RiskModel.compile", "studentprofile.compiled"),
    }
)

# TEMPORARY. Violations that exist on main today and are being fixed on other branches (issue 13,
# item 10). The test fails on anything not listed here AND on any entry that no longer occurs, so
# the lead deletes each entry when its fix is merged; the set must end up empty.
PENDING_FIXES: frozenset[str] = frozenset()

# Third-party rules: module name -> the layers (by name) allowed to import it.
KERNEL_MODULES_MAY_IMPORT = ("numpy", "numba", "__future__", "typing")  # typing: annotations only


@dataclass(frozen=True)
class Import:
    """One import statement (or importlib call) found in a module."""

    importer: str  # dotted module name
    target: str  # dotted module imported (resolved; for ``from a import b`` a.b if b is a module)
    line: int
    function: str  # qualified name of the enclosing function, "" at module level
    type_checking: bool  # inside ``if TYPE_CHECKING:``
    dynamic: bool  # importlib.import_module / __import__


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def iter_modules(root: Path, package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((root / package).rglob("*.py")):
        yield module_name(path, root), path


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _dynamic_target(call: ast.Call) -> str | None:
    """The module named by ``importlib.import_module(...)``/``__import__(...)``, or None."""
    func = call.func
    is_import_module = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}
    )
    if not is_import_module or not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):  # f"studentprofile.{name}": keep the literal prefix
        head = arg.values[0] if arg.values else None
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            return head.value.rstrip(".") + ".*"
        return "*"
    return "*"  # a name computed at run time


class _Collector(ast.NodeVisitor):
    def __init__(self, importer: str, is_package: bool, known: set[str]) -> None:
        self.importer = importer
        self.package = importer if is_package else importer.rpartition(".")[0]
        self.known = known
        self.scope: list[str] = []
        self.type_checking = 0
        self.found: list[Import] = []

    def _add(self, target: str, node: ast.AST, dynamic: bool = False) -> None:
        self.found.append(
            Import(
                importer=self.importer,
                target=target,
                line=getattr(node, "lineno", 0),
                function=".".join(self.scope),
                type_checking=self.type_checking > 0,
                dynamic=dynamic,
            )
        )

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_checking += 1
            for child in node.body:
                self.visit(child)
            self.type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            # ``from pkg import _mod`` imports module pkg._mod; ``from pkg import Name`` the face
            self._add(sub if sub in self.known else module, node)

    def visit_Call(self, node: ast.Call) -> None:
        target = _dynamic_target(node)
        if target is not None:
            self._add(target, node, dynamic=True)
        self.generic_visit(node)


def collect_imports(root: Path, package: str) -> list[Import]:
    modules = dict(iter_modules(root, package))
    known = set(modules)
    found: list[Import] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        collector = _Collector(name, path.name == "__init__.py", known)
        collector.visit(tree)
        found.extend(collector.found)
    return found


def layer_of(module: str, package: str, layers: tuple[tuple[str, ...], ...]) -> tuple[int, str]:
    """(rank, layer name) of a module of ``package``; raises LookupError if it has no place."""
    rest = module[len(package) :].lstrip(".")
    head = rest.split(".")[0]
    for rank, names in enumerate(layers):
        if head in names:
            return rank, head or package
    if head.startswith("_"):
        return 0, head
    raise LookupError(
        f"{module} has no layer: add {head!r} to LAYERS in tests/test_layers.py "
        "(DESIGN.md 'Layers')"
    )


def _top(name: str) -> str:
    return name.split(".")[0]


def _owning_module(target: str, known: Iterable[str]) -> str:
    """The longest known module that ``target`` names or lies in (``a.b.Name`` -> ``a.b``)."""
    best = ""
    for module in known:
        if (target == module or target.startswith(module + ".")) and len(module) > len(best):
            best = module
    return best


def find_violations(
    root: Path,
    package: str,
    layers: tuple[tuple[str, ...], ...] = LAYERS,
    allowed: frozenset[tuple[str, str, str]] = ALLOWED_UPWARD,
    third_party: Mapping[str, tuple[str, ...]] | None = None,
) -> set[str]:
    """Every broken rule, one stable sentence each (no line numbers, so the set survives edits)."""
    imports = collect_imports(root, package)
    known = {name for name, _ in iter_modules(root, package)}
    third_party = DEFAULT_THIRD_PARTY if third_party is None else third_party
    violations: set[str] = set()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name in known:
        layer_of(name, package, layers)  # every module has a place, even one that imports nothing

    for imp in imports:
        where = f"{imp.importer} in {imp.function}" if imp.function else imp.importer
        rank, layer = layer_of(imp.importer, package, layers)
        internal = _top(imp.target) == package
        if imp.dynamic:
            if imp.importer != package and (internal or imp.target == "*"):
                violations.add(
                    f"hidden import: {where} imports {imp.target!r} through importlib"
                )
            if not internal:
                continue
            target = _owning_module(imp.target.removesuffix(".*"), known)
        elif internal:
            target = _owning_module(imp.target, known)
        else:
            target = ""
        if internal and not imp.type_checking:
            t_rank, t_layer = layer_of(target, package, layers)
            facade = any(
                imp.importer == a_mod and imp.function == a_fun
                and (target == a_pkg or target.startswith(a_pkg + "."))
                for a_mod, a_fun, a_pkg in allowed
            )
            if t_rank > rank and not facade:
                violations.add(
                    f"upward import: {where} ({layer}) imports {target} ({t_layer})"
                )
            if not facade and target != imp.importer:
                edges[imp.importer].add(target)
            continue
        if internal:
            continue
        # third-party rules
        top = _top(imp.target)
        if imp.importer.rpartition(".")[2] == "_kernels" and top not in KERNEL_MODULES_MAY_IMPORT:
            violations.add(f"kernel import: {imp.importer} imports {top} (numpy and numba only)")
        if top in third_party and not imp.type_checking:
            permitted = third_party[top]
            if layer not in permitted:
                violations.add(
                    f"third-party import: {where} ({layer}) imports {top} "
                    f"(allowed in {', '.join(permitted)} only)"
                )
        if top == "matplotlib" and not imp.function and not imp.type_checking:
            violations.add(f"eager matplotlib: {imp.importer} imports matplotlib at module level")

    violations.update(_cycles(edges))
    return violations


def _cycles(edges: Mapping[str, set[str]]) -> set[str]:
    """One sentence per import cycle (Tarjan's strongly connected components, one cycle each)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(edges):
        if node not in index:
            strongconnect(node)

    found = set()
    for component in components:
        if len(component) < 2:
            continue
        members = set(component)
        start = min(component)
        # shortest path back to start inside the component (breadth first), for a readable cycle
        paths = {start: [start]}
        queue = [start]
        cycle: list[str] = []
        while queue and not cycle:
            node = queue.pop(0)
            for nxt in sorted(edges[node] & members):
                if nxt == start:
                    cycle = paths[node] + [start]
                    break
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    queue.append(nxt)
        found.add("cycle: " + " -> ".join(cycle))
    return found


DEFAULT_THIRD_PARTY: dict[str, tuple[str, ...]] = {
    "mlflow": ("tracking", "spark", "pipeline", "cli", "__main__", PACKAGE),
    "sqlalchemy": ("io", "features", "labels", "models", "compiled", "explain", "evaluation",
                   "warning", "tracking", "spark", "pipeline", "cli", "__main__", PACKAGE),
    "pyspark": ("spark",),
}


# --------------------------------------------------------------------------------------------------
# the real package


@pytest.fixture(scope="module")
def violations() -> set[str]:
    return find_violations(SRC, PACKAGE)


def test_every_module_has_a_layer() -> None:
    for name, _ in iter_modules(SRC, PACKAGE):
        layer_of(name, PACKAGE, LAYERS)


def test_imports_follow_the_layers(violations: set[str]) -> None:
    new = sorted(violations - PENDING_FIXES)
    assert not new, "imports against DESIGN.md's layers:\n" + "\n".join(new)


def test_pending_fixes_are_still_pending(violations: set[str]) -> None:
    fixed = sorted(PENDING_FIXES - violations)
    assert not fixed, (
        "fixed, so delete from PENDING_FIXES in tests/test_layers.py:\n" + "\n".join(fixed)
    )


def test_allow_list_names_real_functions() -> None:
    """An allow-list entry whose function was renamed or removed must not linger."""
    functions = {(i.importer, i.function) for i in collect_imports(SRC, PACKAGE)}
    for module, function, _ in ALLOWED_UPWARD:
        assert (module, function) in functions, f"{module}:{function} imports nothing any more"


# --------------------------------------------------------------------------------------------------
# the checker itself, on a tiny fake package

FAKE_LAYERS: tuple[tuple[str, ...], ...] = (("errors",), ("low",), ("mid",), ("high",), ("",))


def _fake_package(tmp_path: Path, files: Mapping[str, str]) -> Path:
    root = tmp_path / "src"
    for rel, text in {"fake/__init__.py": "", "fake/errors.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not (path.parent / "__init__.py").exists():
            (path.parent / "__init__.py").write_text("")
        path.write_text(textwrap.dedent(text))
    return root


def _check(root: Path, allowed: frozenset[tuple[str, str, str]] = frozenset()) -> set[str]:
    return find_violations(root, "fake", FAKE_LAYERS, allowed, DEFAULT_THIRD_PARTY)


def test_checker_accepts_downward_imports(tmp_path: Path) -> None:
    root = _fake_package(
        tmp_path,
        {
            "fake/low/__init__.py": "from fake.errors import *\n",
            "fake/mid/__init__.py": "from fake.mid._work import thing\n",
            "fake/mid/_work.py": "from fake.low import x\nfrom fake.mid import _other\n",
            "fake/mid/_other.py": "from . import _helpers\nfrom ..low import y\n",
            "fake/mid/_helpers.py": "import numpy\n",
        },
    )
    assert _check(root) == set()


def test_checker_catches_an_upward_import(tmp_path: Path) -> None:
    root = _fake_package(
        tmp_path,
        {
            "fake/low/__init__.py": "from fake.high import thing\n",
            "fake/high/__init__.py": "",
        },
    )
    assert _check(root) == {"upward import: fake.low (low) imports fake.high (high)"}


def test_checker_sees_relative_and_lazy_imports(tmp_path: Path) -> None:
    root = _fake_package(
        tmp_path,
        {
            "fake/low/__init__.py": "",
            "fake/low/_a.py": """
                class Model:
                    def explain(self):
                        from ..high import _b
                        return _b
            """,
            "fake/high/__init__.py": "",
            "fake/high/_b.py": "",
        },
    )
    assert _check(root) == {
        "upward import: fake.low._a in Model.explain (low) imports fake.high._b (high)"
    }
    # the same import, allow-listed as a facade, passes
    allowed = frozenset({("fake.low._a", "Model.explain", "fake.high")})
    assert _check(root, allowed) == set()


def test_checker_allows_type_checking_imports_only(tmp_path: Path) -> None:
    root = _fake_package(
        tmp_path,
        {
            "fake/low/__init__.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from fake.high import Thing
                else:
                    from fake.mid import Other
            """,
            "fake/mid/__init__.py": "",
            "fake/high/__init__.py": "from fake.low import x\n",
        },
    )
    assert _check(root) == {"upward import: fake.low (low) imports fake.mid (mid)"}


def test_checker_flags_importlib_and_cycles(tmp_path: Path) -> None:
    root = _fake_package(
        tmp_path,
        {
            "fake/mid/__init__.py": "",
            "fake/mid/_a.py": """
                import importlib
                def f():
                    return importlib.import_module("fake.mid._b")
            """,
            "fake/mid/_b.py": "from fake.mid._a import f\n",
        },
    )
    assert _check(root) == {
        "hidden import: fake.mid._a in f imports 'fake.mid._b' through importlib",
        "cycle: fake.mid._a -> fake.mid._b -> fake.mid._a",
    }


def test_checker_third_party_rules(tmp_path: Path) -> None:
    root = _fake_package(
        tmp_path,
        {
            "fake/low/__init__.py": "import matplotlib.pyplot\n",
            "fake/low/_kernels.py": "import numpy\nfrom numba import njit\nimport pandas\n",
            "fake/mid/__init__.py": "def f():\n    import mlflow\n    import pyspark.sql\n",
        },
    )
    assert _check(root) == {
        "eager matplotlib: fake.low imports matplotlib at module level",
        "kernel import: fake.low._kernels imports pandas (numpy and numba only)",
        "third-party import: fake.mid in f (mid) imports mlflow "
        "(allowed in tracking, spark, pipeline, cli, __main__, studentprofile only)",
        "third-party import: fake.mid in f (mid) imports pyspark (allowed in spark only)",
    }


def test_checker_asks_for_a_layer_for_new_public_modules(tmp_path: Path) -> None:
    root = _fake_package(tmp_path, {"fake/newthing.py": "", "fake/_private.py": ""})
    with pytest.raises(LookupError, match="add 'newthing' to LAYERS"):
        _check(root)
