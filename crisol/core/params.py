"""Typed, validated parameters: params.yaml, a profile, then `--set section.key=value` overrides.

params.yaml holds the base value of every section, a `profile` name and a `profiles` table whose
entries override the base per profile. Switching profile is one setting (`--set profile=micro`).
Each stage validates its own section (a pydantic model with `extra="forbid"`) plus the shared
`executor` section; any error becomes one line naming the key, raised before work starts.

The sections' defaults, their comments and each stage's profile overrides (`PROFILES` in
stages/<stage>/params.py) are the one home of every value: params.yaml is generated from them
(flows/params_file.py).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crisol.core.errors import ParamsError

DEFAULT_PARAMS_FILE = Path("params.yaml")

# The sections' defaults are this profile's values; the others override them per stage.
DEFAULT_PROFILE = "tiny"
# Every profile, smallest first, and what it is for. A stage changes its section per profile in the
# `PROFILES` of its params.py; params.yaml names every stage in every profile (`{}`: no change).
PROFILE_NOTES = {
    "micro": "the whole pipeline in ~2-3 minutes on 2 CPU cores, for CI: correctness, not learning",
    DEFAULT_PROFILE: "the base values",
    "small": "one GPU: a GPT-2-small-class model (depth 12, d_model 768, ~124M with a 50k vocabulary)",
    "large": "torchrun --nproc_per_node N: global batch = batch_size x grad_accum x N sequences",
}


class Section(BaseModel):
    """Base for every params section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ExecutorParams(Section):
    """Where sharded work runs: workers=1 in-process, N local processes, or a Dask cluster's address.
    Outputs are identical whatever runs them, so this is not a DVC dependency of any stage."""

    workers: int = Field(2, ge=1, le=256)
    dask_address: str | None = None


S = TypeVar("S", bound=Section)


def _deep_merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


MISSING = object()


def lookup(tree: Any, key: str, default: Any = None) -> Any:
    """The value at a dotted path (`section.key.sub`) of nested mappings, or `default` where the
    path does not lead to one."""
    node = tree
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def apply_override(tree: dict, assignment: str) -> None:
    """Set one `section.key=value` (value parsed as YAML) in a nested mapping; unknown keys are errors."""
    key, sep, raw_value = assignment.partition("=")
    if not sep or not key:
        raise ParamsError(f"--set {assignment!r}: expected section.key=value")
    value = yaml.safe_load(raw_value) if raw_value != "" else ""
    node = tree
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            known = ".".join(parts[: depth + 1])
            raise ParamsError(f"--set {key}: unknown parameter section '{known}'")
        node = child
    if parts[-1] not in node:
        raise ParamsError(f"--set {key}: unknown parameter '{key}'")
    node[parts[-1]] = value


def resolve_tree(params_file: Path, overrides: list[str] = ()) -> dict[str, Any]:
    """Return the fully merged params tree: base, then the chosen profile, then `--set` overrides."""
    if not params_file.is_file():
        raise ParamsError(f"params file not found: {params_file}")
    try:
        raw = yaml.safe_load(params_file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{params_file}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(raw, dict):
        raise ParamsError(f"{params_file}: top level must be a mapping")
    profiles = raw.pop("profiles", {}) or {}
    # The profile itself may be overridden, and it decides which table applies next.
    profile_overrides = [o for o in overrides if o.partition("=")[0] == "profile"]
    for assignment in profile_overrides:
        apply_override(raw, assignment)
    profile = raw.get("profile", DEFAULT_PROFILE)
    # With a profiles table, only its profiles exist: a typo must not silently run the base values.
    # (A file without one, like a test's, has only base values and the profile is a label.)
    if profiles and profile not in profiles:
        raise ParamsError(f"profile: {profile!r} is not one of {', '.join(profiles)}")
    table = profiles.get(profile) or {}
    unknown = sorted(set(table) - set(raw))
    if unknown:
        raise ParamsError(f"profiles.{profile}.{unknown[0]}: unknown parameter section")
    raw = _deep_merge(raw, table)
    for assignment in overrides:
        if assignment not in profile_overrides:
            apply_override(raw, assignment)
    return raw


def _one_line(section: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(part for part in [section, *(str(p) for p in err["loc"])] if part)
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    more = f" [+{exc.error_count() - 1} more]" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{shown}{more}"


def validate_section(tree: dict[str, Any], section: str, model: type[S]) -> S:
    """Validate one section of a resolved tree; the error names the offending key."""
    if section not in tree:
        raise ParamsError(f"{section}: section missing from params")
    data = tree[section]
    if not isinstance(data, dict):
        raise ParamsError(f"{section}: must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ParamsError(_one_line(section, exc)) from None


def load(
    section: str, model: type[S], params_file: Path = DEFAULT_PARAMS_FILE, overrides: list[str] = ()
) -> tuple[S, ExecutorParams, str]:
    """Load a stage's section, the executor section and the active profile name."""
    tree = resolve_tree(params_file, list(overrides))
    executor = validate_section(tree, "executor", ExecutorParams) if "executor" in tree else ExecutorParams()
    return validate_section(tree, section, model), executor, tree.get("profile", DEFAULT_PROFILE)
