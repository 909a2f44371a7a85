"""Changes the flow makes to the DVC workspace before running it: parameter overrides.

Overrides are written into params.yaml (as `dvc exp run --set-param` does), so `dvc repro`,
`dvc params diff` and the stages all see the same values. ruamel.yaml (a DVC dependency) keeps
the file's comments and order; the key checking is the stages' own (`apply_override`).

A profile's value wins over the base section's (crisol/core/params.py), so an override of a
key that the active profile also sets is written into that profile's entry too: a `--set` always
takes effect, whatever the profile holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from crisol.core.params import MISSING, apply_override, lookup, resolve_tree


def _is_profile_key(assignment: str) -> bool:
    return assignment.partition("=")[0].strip() == "profile"


def _profile_holds(tree: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The active profile's entry when it sets `key` (a dotted path), else None."""
    table = (tree.get("profiles") or {}).get(tree.get("profile"))
    return table if lookup(table, key, MISSING) is not MISSING else None


def apply_param_overrides(params_file: Path, overrides: list[str]) -> None:
    """Apply `section.key=value` assignments to params.yaml in place; unknown keys are errors.
    The profile is set first, since it decides which profile entry a later key must reach."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long value onto a second line
    # Keep `null` spelled out, as people write it (ruamel would leave the value empty).
    yaml.representer.add_representer(type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    # The stages' reading first (UTF-8, valid YAML, no repeated key, a profile name, known keys): a
    # mistake is their one-line error, and params.yaml is left as it was.
    resolve_tree(params_file, overrides)
    tree = yaml.load(params_file.read_text())
    ordered = [a for a in overrides if _is_profile_key(a)] + [a for a in overrides if not _is_profile_key(a)]
    for assignment in ordered:
        apply_override(tree, assignment)
        profile_entry = _profile_holds(tree, assignment.partition("=")[0].strip())
        if profile_entry is not None and not _is_profile_key(assignment):
            apply_override(profile_entry, assignment)
    with params_file.open("w") as fh:
        yaml.dump(tree, fh)
