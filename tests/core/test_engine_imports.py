"""The engine's layout holds where import-linter does not look: no import cycle between
modules (not even inside one layer), no private name borrowed across modules, and every
import inside a function names something that exists.

Which part may import which is written as import-linter contracts in pyproject.toml
([tool.importlinter], run by `lint-imports`); docs/architecture.md draws them."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The modules at the bottom of the engine, which every part may use (docs/make_architecture_figure.py
# draws them as one box).
BASE = {"ddrcore", "ddrcore.base", "ddrcore.config", "ddrcore.errors", "ddrcore.progress"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph(package: str = "ddrcore") -> tuple[dict, list]:
    """(module -> set of ddrcore modules it imports, [(module, from, private name)]).

    Imports inside functions count too: a cycle through a lazy import is still a cycle.
    """
    files = {module_name(f): f for f in (ROOT / package).rglob("*.py")}
    graph, private = {}, []
    for mod, path in files.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith(package):
                    continue
                for alias in node.names:
                    if f"{target}.{alias.name}" in files:
                        deps.add(f"{target}.{alias.name}")
                    elif target in files:
                        deps.add(target)
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            private.append((mod, target, alias.name))
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in files)
        deps.discard(mod)
        graph[mod] = deps
    return graph, private


def part_of(mod: str) -> str:
    return mod.split(".")[1] if mod.count(".") else mod


def find_cycle(graph: dict):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep, stack)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_engine():
    graph, _ = import_graph()
    # A package's __init__ importing its own modules is how packages work, not a cycle.
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_private_names_across_modules():
    _, private = import_graph()
    assert private == []


def test_every_engine_import_names_something_that_exists():
    # Imports inside functions run only when the function does: a module moved in a refactor leaves
    # them pointing at nothing until a user runs that command.  Resolve them all here.
    import importlib

    files = {module_name(f): f for f in (ROOT / "ddrcore").rglob("*.py")}
    missing = []
    for mod, path in files.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("ddrcore") or target.endswith("__main__"):
                continue
            module = importlib.import_module(target)
            for alias in node.names:
                if not hasattr(module, alias.name) and f"{target}.{alias.name}" not in files:
                    missing.append(f"{mod}: from {target} import {alias.name}")
    assert missing == []
