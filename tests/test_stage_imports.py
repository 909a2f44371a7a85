"""The house rule: a stage never imports another stage, only libraries (stages talk through
artifacts on disk). A stage is a package under stages/ with a __main__.py."""

from __future__ import annotations

import ast
from pathlib import Path

STAGES_DIR = Path(__file__).resolve().parents[1] / "stages"
STAGES = sorted(p.name for p in STAGES_DIR.iterdir() if (p / "__main__.py").is_file())


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_stage_imports_another_stage():
    crossings = []
    for stage in STAGES:
        for path in sorted((STAGES_DIR / stage).rglob("*.py")):
            for module in _imported(path):
                parts = module.split(".")
                if parts[0] == "stages" and len(parts) > 1 and parts[1] in STAGES and parts[1] != stage:
                    crossings.append(f"{path.relative_to(STAGES_DIR.parent)} imports {module}")
    assert len(STAGES) >= 10 and not crossings, crossings
