"""dvc.yaml is rendered from flows/dvc.template.yaml for the data source: the committed file is
the synthetic rendering, and the own rendering drops the synthetic web and its world inputs."""

from __future__ import annotations

import shutil

import pytest
import yaml

from crisol.core.params import resolve_tree
from flows.graph import main, rendered_text, write_graph
from flows.workspace import apply_param_overrides
from kit.paths import REPO_ROOT


def _stages(text: str) -> dict:
    return yaml.safe_load(text)["stages"]


def _params(*overrides: str) -> dict:
    return resolve_tree(REPO_ROOT / "params.yaml", list(overrides))


def test_dvc_yaml_is_the_rendering_of_params_yaml():
    """In step with params.yaml: in a clean checkout (CI), the synthetic rendering."""
    assert (REPO_ROOT / "dvc.yaml").read_text() == rendered_text(REPO_ROOT, _params()), (
        "dvc.yaml is stale: run python -m flows.graph"
    )


def test_own_rendering_has_no_world_and_only_existing_kinds(tmp_path):
    own = tmp_path / "own"
    for kind in ("text", "instructions", "eval"):
        (own / kind).mkdir(parents=True)
    listed = tmp_path / "extra.jsonl"
    stages = _stages(
        rendered_text(
            REPO_ROOT, _params("source=own", f"own.root={own}", f"sft.user.inputs=[{listed}, https://x.org/a.jsonl]")
        )
    )
    assert "web" not in stages and "crawl" not in stages
    everything = yaml.safe_dump(stages)
    assert "${web." not in everything and "${crawl." not in everything
    assert "${sft.facts}" not in everything and "${own.root}/crawl" not in everything
    assert stages["ingest"]["deps"][-1] == "${own.root}/text"
    assert "${own.root}/instructions" in stages["sft"]["deps"]
    assert str(listed) in stages["sft"]["deps"] and not any("://" in d for d in stages["sft"]["deps"])
    assert "${own.root}/eval" in stages["evaluate"]["deps"]
    assert not any(d.startswith("${own.root}") for d in stages["reward"]["deps"])  # no preferences/ here
    for name in ("ingest", "sft", "evaluate"):
        assert stages[name]["params"][:2] == ["source", "own"]
    synthetic = _stages(rendered_text(REPO_ROOT, _params("source=synthetic")))
    assert "${crawl.out}" in synthetic["ingest"]["deps"] and "${web.facts}" in synthetic["pretrain"]["deps"]


def test_cli_writes_params_then_renders(tmp_path):
    root = tmp_path / "ws"
    (root / "flows").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "flows/dvc.template.yaml", root / "flows/dvc.template.yaml")
    shutil.copy2(REPO_ROOT / "params.yaml", root / "params.yaml")
    (tmp_path / "mine/text").mkdir(parents=True)
    assert main(["--root", str(root), "--set", "source=own", "--set", f"own.root={tmp_path / 'mine'}"]) == 0
    assert "web" not in _stages((root / "dvc.yaml").read_text())
    assert main(["--root", str(root), "--check"]) == 0
    apply_param_overrides(root / "params.yaml", ["source=synthetic"])
    assert main(["--root", str(root), "--check"]) == 1
    assert write_graph(root).kind == "synthetic" and "web" in _stages((root / "dvc.yaml").read_text())
    assert main(["--root", str(root), "--set", "source=elsewhere"]) == 2


def test_flow_set_reaches_the_active_profile(tmp_path):
    """A --set of a key the active profile also sets must win (the profile's value used to undo it)."""
    from crisol.core.params import resolve_tree

    params = tmp_path / "params.yaml"
    shutil.copy2(REPO_ROOT / "params.yaml", params)
    apply_param_overrides(params, ["pretrain.fact_probes=0", "profile=micro", "pretrain.max_steps=3"])
    tree = resolve_tree(params)
    assert (tree["profile"], tree["pretrain"]["fact_probes"], tree["pretrain"]["max_steps"]) == ("micro", 0, 3)


@pytest.mark.parametrize("stage", ["web", "crawl"])
def test_world_stages_refuse_own_source(stage, tmp_path, capsys):
    """A graph rendered for the other source must not quietly generate a world for own data."""
    import importlib

    from crisol.core.cli import main as stage_main

    params_module = importlib.import_module(f"stages.{stage}.params")
    model = getattr(params_module, f"{stage.capitalize()}Params")
    run = importlib.import_module(f"stages.{stage}.stage").run
    params = tmp_path / "params.yaml"
    shutil.copy2(REPO_ROOT / "params.yaml", params)
    code = stage_main(stage, model, run, ["--params", str(params), "--set", "source=own"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and "source is own" in errors[0]


@pytest.mark.parametrize(
    "text, overrides, message",
    [
        (None, ['ingest.inputs=["a"'], "error: --set ingest.inputs: not valid YAML ("),
        (None, ["profile=[micro]"], "error: profile: must be a profile name"),
        ("ingest:\n  max_files: 3\n", ["profile=micro"], "not valid YAML (key 'ingest' at line"),
    ],
)
def test_cli_set_mistakes_are_one_line_and_exit_2(text, overrides, message, tmp_path, capsys):
    """The flow's --set writer checks as a stage does; a mistake leaves params.yaml as it was."""
    shutil.copy2(REPO_ROOT / "params.yaml", tmp_path / "params.yaml")
    if text:
        (tmp_path / "params.yaml").write_text((tmp_path / "params.yaml").read_text() + text)
    before = (tmp_path / "params.yaml").read_text()
    argv = ["--root", str(tmp_path)]
    for assignment in overrides:
        argv += ["--set", assignment]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "params.yaml").read_text() == before
