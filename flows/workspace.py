"""Changes the flow makes to the DVC workspace before running it: parameter overrides.

Overrides are written into params.yaml (as `dvc exp run --set-param` does), so `dvc repro`,
`dvc params diff` and the stages all see the same values. ruamel.yaml (a DVC dependency) keeps
the file's comments and order; the key checking is the stages' own (`apply_override`).
"""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from stages.common.params import apply_override


def apply_param_overrides(params_file: Path, overrides: list[str]) -> None:
    """Apply `section.key=value` assignments to params.yaml in place; unknown keys are errors."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long value onto a second line
    # Keep `null` spelled out, as people write it (ruamel would leave the value empty).
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    tree = yaml.load(params_file.read_text())
    for assignment in overrides:
        apply_override(tree, assignment)
    with params_file.open("w") as fh:
        yaml.dump(tree, fh)
