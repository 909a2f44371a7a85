"""The code a stage runs, as DVC dependencies: every project package its modules import,
transitively, found by reading the imports (ast), not by hand.

    code_deps(Path("."), "sft")  ->  ["crisol/chat", "crisol/core", ..., "stages/sft"]

A package is a directory DVC hashes whole: `stages/<name>` for the stage itself and each
`crisol/<package>` it reaches. The graph renderer (flows/graph.py) puts these in front of each
stage's data dependencies, so a change to any code a stage runs reruns it and nothing else does;
a test checks every dvc.yaml of the repository against the same reading (tests/flows/test_code_deps.py).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

PROJECT = ("crisol", "stages")
STAGE_CMD = re.compile(r"python -m stages\.(\w+)")


def package_of(module: str) -> str | None:
    """The directory a dotted module lives in, at package depth 2 (crisol.core.cli -> crisol/core);
    None outside the project or for the top-level package itself."""
    parts = module.split(".")
    if parts[0] not in PROJECT or len(parts) < 2:
        return None
    return f"{parts[0]}/{parts[1]}"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute imports, anywhere in the file: lazy ones count)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@lru_cache(maxsize=None)
def _package_imports(root: Path, package: str) -> frozenset[str]:
    """Packages the modules of one package directory import directly."""
    out = set()
    for path in sorted((root / package).rglob("*.py")):
        for module in imported_modules(path):
            found = package_of(module)
            if found and (root / found).is_dir():
                out.add(found)
    return frozenset(out)


def code_deps(root: Path, stage: str) -> list[str]:
    """Every project package `stages/<stage>` reaches through its imports, itself included."""
    root = root.resolve()
    seen, todo = set(), [f"stages/{stage}"]
    while todo:
        package = todo.pop()
        if package not in seen:
            seen.add(package)
            todo.extend(_package_imports(root, package) - seen)
    return sorted(seen)


def stage_of(cmd: str) -> str | None:
    """The stage package a dvc.yaml command runs (`python -m stages.<name>`), if any."""
    match = STAGE_CMD.search(cmd)
    return match.group(1) if match else None
