"""The shape of the code, checked from its source: the import rule and the length of functions.

The import rule (docs: DESIGN §5): the graph flows

    bot, simulator  ->  handlers, scheduler, api  ->  ui  ->  loyalty  ->  models

and nothing imports upward; handlers, scheduler and api do not import one another; sandbox (the
stand-in for Telegram) imports nothing of ours and only the composition layer uses it. There is no
cycle between modules, and no module imports one of ours inside a function (a function-local import
is how a cycle hides). Every import counts: module level, inside functions and under
``if TYPE_CHECKING:``. tests/ and bench/ are exempt; they may import anything.

Run alone: ``python -m pytest tests/test_layers.py -q``; each failure lists the offending imports as
``file:line  importer -> imported``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXEMPT = frozenset({"tests", "bench"})
# Highest first; a package may import its own modules and the packages of lower layers.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"bot", "simulator"}),  # composition: config, CLI, runners, the demo, the simulator
    frozenset({"handlers", "scheduler", "api"}),  # the three ways in: chat, clock, HTTP
    frozenset({"ui"}),  # presentation shared by handlers and the scheduler
    frozenset({"loyalty"}),  # the domain, no aiogram
    frozenset({"models"}),  # tables, sessions, queries
)
# The composition layer is one room: the CLI may run the simulator and the simulator builds the bot.
SHARED_LAYERS = frozenset({"bot", "simulator"})
SANDBOX = "sandbox"  # Telegram's stand-in: imports nothing of ours; the composition layer uses it
MAX_FUNCTION_LINES = 80


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name, one of ours
    path: Path
    line: int
    local: bool  # inside a function

    def __str__(self) -> str:
        where = f"{self.path.relative_to(ROOT)}:{self.line}"
        return f"{where:<40} {self.importer} -> {self.imported}"


def _packages() -> set[str]:
    return {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in EXEMPT and not path.parent.name.startswith(".")
    }


def _modules() -> dict[str, Path]:
    """Every production module by dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for package in _packages():
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _ours(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that `name` (a module, or a name inside one) comes from."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _walk(tree: ast.AST, *, in_function: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(tree):
        yield child, in_function
        nested = in_function or isinstance(child, _FUNCTIONS)
        yield from _walk(child, in_function=nested)


def _imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, local in _walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif not isinstance(node, ast.ImportFrom):
            continue
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from a import b`: the module a.b if there is one, else a name inside a
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        for target in targets:
            imported = _ours(target, modules)
            if imported is not None and imported != module:
                yield Import(module, imported, path, node.lineno, local)


def _all_imports() -> list[Import]:
    modules = _modules()
    found = {imp for module, path in modules.items() for imp in _imports_of(module, path, modules)}
    return sorted(found, key=lambda imp: (str(imp.path), imp.line, imp.imported))


def _layer(package: str) -> int:
    for rank, layer in enumerate(LAYERS):
        if package in layer:
            return rank
    raise AssertionError(f"package {package!r} is in no layer: add it to LAYERS in {__file__}")


def _allowed(importer: str, imported: str) -> bool:
    source, target = importer.split(".")[0], imported.split(".")[0]
    if source == target:
        return True
    if SANDBOX in (source, target):
        return source in SHARED_LAYERS  # sandbox imports nothing of ours; only composition uses it
    if source in SHARED_LAYERS and target in SHARED_LAYERS:
        return True
    return _layer(source) < _layer(target)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a cycle path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
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
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_cycle_path(component, edges) for component in components]


def _cycle_path(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One cycle through the component's first module: a -> b -> ... -> a (breadth first)."""
    inside = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(edges.get(node, set()) & inside):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return component  # unreachable for a strongly connected component


def _fail_listing(header: str, lines: Iterable[object]) -> None:
    """Fail with one offending import, cycle or function a line (no assertion rewriting noise)."""
    found = [str(line) for line in lines]
    if found:
        pytest.fail(f"{header}:\n" + "\n".join(found), pytrace=False)


def test_no_import_goes_up_a_layer() -> None:
    order = " -> ".join("/".join(sorted(layer)) for layer in LAYERS)
    _fail_listing(
        f"imports against the layers ({order}; sandbox imports nothing of ours)",
        (imp for imp in _all_imports() if not _allowed(imp.importer, imp.imported)),
    )


def test_no_import_cycle_between_modules() -> None:
    edges: dict[str, set[str]] = {}
    for imp in _all_imports():
        edges.setdefault(imp.importer, set()).add(imp.imported)
    _fail_listing("import cycles between modules", (" -> ".join(c) for c in _cycles(edges)))


def test_no_function_local_import_of_our_modules() -> None:
    _fail_listing(
        "imports of our modules inside functions (move them to the top)",
        (imp for imp in _all_imports() if imp.local),
    )


def _long_functions() -> Iterator[str]:
    for module, path in sorted(_modules().items()):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    yield f"{where:<40} {module}.{node.name}: {length} lines"


def test_no_production_function_is_longer_than_80_lines() -> None:
    _fail_listing(f"functions longer than {MAX_FUNCTION_LINES} lines", _long_functions())


def test_the_checks_see_every_kind_of_import(tmp_path: Path) -> None:
    """The parser finds imports at module level, in functions, under TYPE_CHECKING, relative."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "import loyalty.money\n"
        "from . import sibling\n"
        "from .sibling import thing\n"
        "if TYPE_CHECKING:\n"
        "    from handlers import start\n"
        "def f() -> None:\n"
        "    from models.tables import Member\n"
    )
    path = ROOT / "ui" / "example.py"
    modules = {
        "ui": ROOT / "ui" / "__init__.py",
        "ui.example": path,
        "ui.sibling": ROOT / "ui" / "sibling.py",
        "loyalty": ROOT / "loyalty" / "__init__.py",
        "loyalty.money": ROOT / "loyalty" / "money.py",
        "handlers": ROOT / "handlers" / "__init__.py",
        "handlers.start": ROOT / "handlers" / "start.py",
        "models": ROOT / "models" / "__init__.py",
        "models.tables": ROOT / "models" / "tables.py",
    }
    file = tmp_path / "example.py"
    file.write_text(source, encoding="utf-8")
    found = {(imp.imported, imp.local) for imp in _imports_of("ui.example", file, modules)}
    assert found == {
        ("loyalty.money", False),
        ("ui.sibling", False),
        ("handlers.start", False),
        ("models.tables", True),
    }
    assert not _allowed("ui.example", "handlers.start")
    assert _allowed("ui.example", "loyalty.money")
    assert not _allowed("handlers.start", "scheduler.core")
    assert not _allowed("sandbox.client", "models.tables")
    assert _allowed("bot.cli", "sandbox")
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
