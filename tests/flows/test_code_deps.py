"""Every dvc.yaml stage lists the code it runs: each project package its stage package imports,
transitively (read from the imports themselves, flows/code_deps.py), and, for a stage that
starts another stage's command (scaling runs pretrain), that stage's packages too. A package
missing from `deps` means a change there would leave the stage's outputs stale."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.code_deps import code_deps, package_of, stage_of
from kit.paths import REPO_ROOT as REPO

PIPELINES = [REPO / "dvc.yaml", REPO / "stages" / "scaling" / "dvc.yaml"]


def stages_of(pipeline: Path):
    for name, stage in yaml.safe_load(pipeline.read_text())["stages"].items():
        yield f"{pipeline.relative_to(REPO)}:{name}", stage


def required(stage: dict) -> set[str]:
    """The stage's own packages, and those of every stage whose code it lists (and so runs)."""
    deps = [str(d) for d in stage.get("deps") or []]
    runs = {stage_of(stage["cmd"])} | {d.split("/")[1] for d in deps if d.startswith("stages/")}
    return set().union(*(code_deps(REPO, name) for name in runs if name))


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_stage_lists_every_package_it_imports(pipeline):
    missing = {}
    for where, stage in stages_of(pipeline):
        lacking = sorted(required(stage) - set(stage.get("deps") or []))
        if lacking:
            missing[where] = lacking
    assert not missing, f"packages imported but not in deps: {missing}"


def test_imports_are_read_transitively(tmp_path):
    """A stage importing a library that imports another library depends on both; other stages
    and libraries nobody reaches are not dependencies."""
    for package, source in {
        "stages/alpha": "from crisol.one import x\n",
        "stages/beta": "import crisol.two\n",
        "crisol/one": "def f():\n    from crisol.two.sub import y\n",
        "crisol/two": "import numpy\n",
        "crisol/three": "",
    }.items():
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "__init__.py").write_text(source)
    assert code_deps(tmp_path, "alpha") == ["crisol/one", "crisol/two", "stages/alpha"]
    assert package_of("crisol.core.cli") == "crisol/core" and package_of("numpy.linalg") is None
