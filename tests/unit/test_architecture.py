"""The library's shape: it never imports Airflow, its packages import only the stages below them, it has no
import circle and no module over ~300 lines. Read from the source (AST), lazy imports inside functions too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

LIBRARY = ROOT / "pipelines"
# bottom-up, as the pipeline's story: a package may import only the ones before it
LAYERS = [
    "errors",
    "faults",
    "config",
    "data",
    "demo",
    "quality",
    "registry",
    "model",
    "decision",
    "drift",
    "performance",
    "reports",
    "alerts",
    "jobs",
    "commands",
    "cli",
    "__main__",
]
MAX_LINES = 300


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(LIBRARY.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imported(path: Path) -> Iterator[str]:
    """Every module name an import statement in ``path`` names, wherever the statement is."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def internal_edges() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {m for m in imported(path) if m in known and m not in (name, "pipelines")} for name, path in known.items()
    }


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_the_library_never_imports_airflow() -> None:
    offenders = {
        name: sorted({m for m in imported(path) if m == "airflow" or m.startswith("airflow.")})
        for name, path in modules().items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_every_package_is_placed_in_the_layers() -> None:
    assert {layer(name) for name in modules()} - {"pipelines"} <= set(LAYERS)


def test_packages_import_only_the_stages_below_them() -> None:
    upward = sorted(
        f"{source} imports {target}"
        for source, targets in internal_edges().items()
        for target in targets
        if layer(source) in LAYERS and LAYERS.index(layer(target)) > LAYERS.index(layer(source))
    )
    assert upward == []


def test_no_import_circle() -> None:
    edges = internal_edges()
    circles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_over_300_lines(name: str) -> None:
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"
