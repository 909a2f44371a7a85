"""The house rules of imports: `stages/` holds only runnable stages (each a package with a
__main__.py), a stage never imports another stage (stages talk through artifacts on disk), and
the library `crisol/` never imports a stage or the orchestration in `flows/`."""

from __future__ import annotations

from flows.code_deps import imported_modules
from kit.paths import REPO_ROOT as REPO

STAGES_DIR = REPO / "stages"
PACKAGES = sorted(p for p in STAGES_DIR.iterdir() if (p / "__init__.py").is_file())


def test_every_package_under_stages_is_a_runnable_stage():
    assert len(PACKAGES) >= 10
    assert [p.name for p in PACKAGES if not (p / "__main__.py").is_file()] == []


def test_no_stage_imports_another_stage():
    names = {p.name for p in PACKAGES}
    crossings = []
    for stage in PACKAGES:
        for path in sorted(stage.rglob("*.py")):
            for module in imported_modules(path):
                parts = module.split(".")
                if parts[0] == "stages" and len(parts) > 1 and parts[1] in names and parts[1] != stage.name:
                    crossings.append(f"{path.relative_to(REPO)} imports {module}")
    assert not crossings, crossings


def test_the_library_imports_no_stage_and_no_flow():
    reaching = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in sorted((REPO / "crisol").rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in ("stages", "flows")
    ]
    assert not reaching, reaching
