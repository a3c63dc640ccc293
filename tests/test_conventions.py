"""Conventions of docs/development.md that hold for every layer and hall package.

- Naming: a coroutine method's (or function's) name starts with ``async_``; every other
  public method blocks, so none is named ``async_*``, ``*_async`` or ``aclose``.
  Dunders (``__aenter__``, ``__aexit__``, ``__anext__``) are exempt, and so is a method
  returning an async iterator, which is named for what it yields (``sightings()``).
- No import cycles inside ``edgekit/``, not even lazy ones (an import inside a function,
  or a layer's ``lazy_kernels("layer")``) or type-only ones (under ``if TYPE_CHECKING:``).
  Other imports through ``importlib`` are not seen.

Known breaches are listed below, each with the reason it is still there. Both lists
must only shrink: an entry that no longer breaks the rule fails the test, so that it
is removed with the fix.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import edgekit

PACKAGE_DIR = Path(edgekit.__file__).resolve().parent

#: Public names (``package.Name.method``) that break the naming rule today.
KNOWN_VIOLATIONS: set[str] = set()

#: Import edges (importer, imported) that close a cycle today.
KNOWN_CYCLES: set[tuple[str, str]] = set()


# -- naming ------------------------------------------------------------------------------


def _public_packages() -> list[str]:
    """``edgekit`` and every public layer, hall package and module directly under it."""
    found = pkgutil.iter_modules(edgekit.__path__)
    return ["edgekit", *sorted(f"edgekit.{m.name}" for m in found if not m.name.startswith("_"))]


def _exported(package: str) -> Iterator[tuple[str, Any]]:
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        yield name, getattr(module, name)


def _methods(cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    """Functions defined on ``cls`` or its edgekit bases (first definition wins)."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("edgekit"):
            continue
        for name, attr in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            if inspect.isfunction(attr):
                yield name, attr


def _breach(name: str, fn: Callable[..., Any]) -> str | None:
    """Why ``name`` breaks the naming rule, or ``None``."""
    if name.startswith("_"):  # private, and dunders
        return None
    if inspect.iscoroutinefunction(fn):
        return None if name.startswith("async_") else "a coroutine function without async_"
    if name.startswith("async_") or name.endswith("_async") or name == "aclose":
        return "not a coroutine function, named like one"
    return None


def naming_violations() -> dict[str, str]:
    """Every public function and method exported by a public package that breaks the rule."""
    found: dict[str, str] = {}
    for package in _public_packages():
        for name, obj in _exported(package):
            if inspect.isclass(obj) and obj.__module__.startswith("edgekit"):
                for method, fn in _methods(obj):
                    why = _breach(method, fn)
                    if why:
                        found[f"{package}.{name}.{method}"] = why
            elif inspect.isfunction(obj):
                why = _breach(name, obj)
                if why:
                    found[f"{package}.{name}"] = why
    return found


def test_coroutines_and_only_coroutines_are_named_async() -> None:
    found = naming_violations()
    new = {name: why for name, why in found.items() if name not in KNOWN_VIOLATIONS}
    assert not new, "names that break the async_ rule (docs/development.md):\n" + "\n".join(
        f"  {name}: {why}" for name, why in sorted(new.items())
    )
    fixed = KNOWN_VIOLATIONS - set(found)
    assert not fixed, f"no longer break the rule; remove them from KNOWN_VIOLATIONS: {fixed}"


def test_the_naming_check_sees_what_it_should() -> None:
    """The walk covers the scan layer's scanners and tells coroutines from the rest."""

    class Sample:
        async def async_go(self) -> None: ...
        async def go(self) -> None: ...
        def go_async(self) -> None: ...
        def aclose(self) -> None: ...
        async def __aenter__(self) -> None: ...
        async def items(self) -> Any:  # an async generator: named for what it yields
            yield 1

    breaches = {name for name, fn in vars(Sample).items() if callable(fn) and _breach(name, fn)}
    assert breaches == {"go", "go_async", "aclose"}
    walked = {f"{p}.{n}" for p in _public_packages() for n, _ in _exported(p)}
    assert {"edgekit.scan.BleScanner", "edgekit.scan.MdnsScanner", "edgekit.warmup"} <= walked


# -- import cycles -----------------------------------------------------------------------


def _module_files(root: Path) -> dict[str, Path]:
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _nearest(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` or its closest enclosing module within edgekit."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _lazy_kernels_layer(node: ast.AST) -> str | None:
    """``layer`` of a call ``lazy_kernels("layer")``, a lazy import of ``edgekit.layer._kernels``."""
    if not isinstance(node, ast.Call) or len(node.args) != 1:
        return None
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    arg = node.args[0]
    if name == "lazy_kernels" and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


def import_graph(root: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Every module of the package at ``root`` and the modules of it that it imports,
    anywhere in its source."""
    modules = _module_files(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(_nearest(alias.name, modules) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in modules else _nearest(base, modules))
            elif layer := _lazy_kernels_layer(node):
                targets.add(_nearest(f"{root.name}.{layer}._kernels", modules))
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def _path(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A shortest import chain from ``start`` to ``goal``, or ``None``."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            chain = [node]
            while (back := previous[chain[-1]]) is not None:
                chain.append(back)
            return chain[::-1]
        for nxt in sorted(graph[node]):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def import_cycles(graph: dict[str, set[str]]) -> list[tuple[list[str], set[str]]]:
    """For each group of modules that import each other (a strongly connected component),
    a shortest cycle through its first module, and the whole group."""
    reach = {node: _reachable(graph, node) for node in graph}
    grouped: set[str] = set()
    found = []
    for node in sorted(graph):
        if node in grouped or node not in reach[node]:
            continue
        group = {other for other in reach[node] if node in reach[other]}
        grouped |= group
        chains = (_path(graph, nxt, node) for nxt in graph[node] if nxt in group)
        cycle = min((chain for chain in chains if chain), key=len)
        found.append(([node, *cycle], group))
    return found


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph[node])
    return seen


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert "edgekit.scan.recognize" in graph["edgekit.scan.inventory"]  # the walk sees imports
    stale = {
        edge
        for edge in KNOWN_CYCLES
        if edge[1] not in graph.get(edge[0], ()) or _path(graph, edge[1], edge[0]) is None
    }
    assert not stale, f"no longer close a cycle; remove them from KNOWN_CYCLES: {stale}"
    for importer, imported in KNOWN_CYCLES:
        graph[importer].discard(imported)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles in edgekit/:\n" + "\n".join(
        f"  {' -> '.join(cycle)} (modules in that tangle: {', '.join(sorted(group))})"
        for cycle, group in cycles
    )


def test_the_cycle_check_sees_lazy_and_type_only_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from pkg import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n"
    )
    (package / "c.py").write_text("import pkg.a\nimport os\nk = lazy_kernels('d')\n")
    (package / "d").mkdir()
    (package / "d" / "__init__.py").write_text("")
    (package / "d" / "_kernels.py").write_text("")
    graph = import_graph(package)
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.a"},
        "pkg.c": {"pkg.a", "pkg.d._kernels"},
        "pkg.d": set(),
        "pkg.d._kernels": set(),
    }
    assert import_cycles(graph) == [(["pkg.a", "pkg.b", "pkg.a"], {"pkg.a", "pkg.b"})]
