"""Static checks of the code's shape, shared by ``tests/test_architecture.py``: the import graph of
the packages (read from the source with ``ast``, nothing imported) and function lengths."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("sandbox", "rlvr_envs", "agents")
# What each layer may import from this repository: each layer depends only on those below it.
ALLOWED = {
    "sandbox": {"sandbox"},
    "rlvr_envs": {"rlvr_envs", "sandbox"},
    "agents": {"agents", "rlvr_envs", "sandbox"},
}


@dataclass(frozen=True)
class Import:
    """One import statement of a module (``lazy``: inside a function body)."""

    source: str
    target: str
    path: Path
    line: int
    lazy: bool


def module_files(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Dotted module names of every ``.py`` file of the packages (``pkg/__init__.py`` is ``pkg``)."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """The longest prefix of ``name`` that is a module of the repository ('' if none)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return ""


def _walk(node: ast.AST, lazy: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield child, inner
        yield from _walk(child, inner)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import of a repository module by ``module``, resolved to module names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node, lazy in _walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
            names = [n if _resolve(n, modules) == n else base for n in names]
        for name in names:
            target = _resolve(name, modules)
            if target and target != module:
                found.append(Import(module, target, path, node.lineno, lazy))
    return found


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> list[Import]:
    """Every import between the repository's modules."""
    modules = module_files(root, packages)
    return [edge for name, path in modules.items() for edge in imports_of(name, path, modules)]


def layer_violations(edges: Iterable[Import], allowed: dict[str, set[str]] = ALLOWED) -> list[str]:
    """Imports of a higher layer by a lower one, as ``file:line: a imports b`` lines."""
    lines = [
        f"{e.path}:{e.line}: {e.source} imports {e.target}"
        + (" (inside a function)" if e.lazy else "")
        for e in edges
        if e.target.split(".")[0] not in allowed.get(e.source.split(".")[0], set())
    ]
    return list(dict.fromkeys(lines))


def import_cycles(edges: Iterable[Import]) -> list[list[str]]:
    """Groups of modules that import each other, directly or not (Tarjan's components)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
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
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def long_functions(root: Path, limit: int, skip: Iterable[str] = ()) -> list[str]:
    """Functions longer than ``limit`` lines (decorators to last line), as ``file:line: name (n)``."""
    skipped = {root / s for s in skip}
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if path in skipped:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    length = node.end_lineno - first + 1
                    if length > limit:
                        found.append(f"{path}:{node.lineno}: {node.name} ({length} lines)")
    return found
