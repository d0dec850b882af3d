"""The package's shape: no import circles, and `embrec --help` stays light.

The import graph is read from the source with :mod:`ast`: every ``import embrec...`` counts,
at module level or inside a function, except those under ``if TYPE_CHECKING:`` (they never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            for alias in node.names:  # `from embrec.models import config` imports a module
                if f"{target}.{alias.name}" in known:
                    found.add(f"{target}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    """Module -> the embrec modules it imports (a package's ``__init__`` is the package)."""
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    known = set(files)
    return {
        name: _imports(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py", known) - {name}
        for name, path in files.items()
    }


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(groups)


def _without_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph with edges into a package's own ``__init__`` from inside it left out.

    ``embrec/models/ease.py`` importing ``embrec.models.base`` also runs ``embrec/models/__init__``,
    which may re-export ``ease``: that is how packages work, not a circle of our making.
    """
    return {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}


def test_no_import_circles() -> None:
    cycles = import_cycles(_without_packages(import_graph()))
    assert cycles == [], f"import circles: {cycles}"


def test_the_graph_reader_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]


def _imported_by(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('MODULES:' + ' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in out.stdout.splitlines() if line.startswith("MODULES:"))  # help text goes first
    return set(line.removeprefix("MODULES:").split())


def test_help_imports_neither_torch_nor_pandas() -> None:
    modules = _imported_by(
        "import sys\nfrom embrec.cli.main import app\n"
        "sys.argv = ['embrec', '--help']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "for cmd in ('train', 'evaluate', 'serve', 'split', 'report'):\n"
        "    sys.argv = ['embrec', cmd, '--help']\n"
        "    try:\n        app()\n    except SystemExit:\n        pass\n"
    )
    heavy = sorted(m for m in ("torch", "pandas", "numpy", "scipy", "sklearn", "pyarrow") if m in modules)
    assert heavy == [], f"`embrec --help` imported {heavy}"
