"""Params: profiles, --set overrides and one-line validation errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from crisol.core.cli import EXIT_PARAMS, main
from crisol.core.errors import ParamsError
from crisol.core.params import Section, load, resolve_tree
from kit.paths import REPO_ROOT


class ToyParams(Section):
    size: int = Field(ge=1)
    name: str = "x"
    metrics: Path = Path("metrics.json")


PARAMS = """\
profile: tiny
executor:
  workers: 2
  dask_address: null
toy:
  size: 10
  name: base
  metrics: {metrics}
profiles:
  micro:
    toy:
      size: 2
  tiny:
    toy:
      size: 20
"""


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(PARAMS.format(metrics=tmp_path / "m.json"))
    return path


def test_profile_applies_then_overrides(params_file):
    toy, executor, profile = load("toy", ToyParams, params_file)
    assert (toy.size, toy.name, profile, executor.workers) == (20, "base", "tiny", 2)
    toy, _, profile = load("toy", ToyParams, params_file, ["profile=micro"])
    assert (toy.size, profile) == (2, "micro")
    # --set wins over the profile, whatever the order on the command line
    toy, _, _ = load("toy", ToyParams, params_file, ["toy.size=7", "profile=micro"])
    assert toy.size == 7


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["toy.sise=3"], "unknown parameter 'toy.sise'"),
        (["toi.size=3"], "unknown parameter section 'toi'"),
        (["toy.size=0"], "toy.size: Input should be greater than or equal to 1"),
        (["toy.size=abc"], "toy.size: Input should be a valid integer"),
        (["profile=huge"], "profile: 'huge' is not one of"),
        (["executor.workers=0"], "executor.workers"),
        (["toy.size"], "expected section.key=value"),
    ],
)
def test_bad_values_are_one_line_errors(params_file, overrides, message):
    with pytest.raises(ParamsError) as info:
        load("toy", ToyParams, params_file, overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_key_in_file_is_named(params_file):
    params_file.write_text(params_file.read_text().replace("  name: base", "  nmae: base"))
    with pytest.raises(ParamsError, match=r"toy\.nmae: Extra inputs are not permitted"):
        load("toy", ToyParams, params_file)


def test_missing_params_file():
    with pytest.raises(ParamsError, match="params file not found"):
        resolve_tree(Path("/nonexistent/params.yaml"))


def test_cli_exit_codes_and_metrics(params_file, capsys):
    seen = {}

    def run(ctx):
        seen["size"] = ctx.params.size
        ctx.metrics["docs"] = 3

    assert main("toy", ToyParams, run, ["--params", str(params_file), "--set", "toy.size=4"]) == 0
    assert seen == {"size": 4}
    metrics = (params_file.parent / "m.json").read_text()
    assert '"docs": 3' in metrics and '"stage": "toy"' in metrics
    assert main("toy", ToyParams, run, ["--params", str(params_file), "--set", "toy.size=-1"]) == EXIT_PARAMS
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: toy.size:")


def test_every_profile_names_every_stage_of_the_graph():
    """dvc.yaml makes each stage depend on `profiles.${profile}.<stage>`: DVC refuses a missing key,
    so every profile must carry an entry ({} at least) for every stage."""
    import yaml

    root = REPO_ROOT
    stages = list(yaml.safe_load((root / "dvc.yaml").read_text())["stages"])
    profiles = yaml.safe_load((root / "params.yaml").read_text())["profiles"]
    missing = [
        f"profiles.{name}.{stage}" for name, table in profiles.items() for stage in stages if stage not in (table or {})
    ]
    assert not missing, f"add these entries ({{}} if nothing changes) to params.yaml: {missing}"
    graph = (root / "dvc.yaml").read_text()
    assert all(f"profiles.${{profile}}.{stage}" in graph for stage in stages)
