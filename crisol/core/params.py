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
from typing import Any, Hashable, Mapping, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

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


def is_path_type(annotation: Any) -> bool:
    """Whether a field holds a path: Path itself, or Path inside list[Path], Path | None, ..."""
    return annotation is Path or any(is_path_type(arg) for arg in get_args(annotation))


class Section(BaseModel):
    """Base for every params section: unknown keys are errors, values are immutable, paths are not empty."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_empty_path(cls, value: Any, info: ValidationInfo) -> Any:
        # Path("") is ".", the working directory: `--set ingest.documents=` would read or write the
        # checkout itself instead of stopping at the typo.
        empty = value == "" or (isinstance(value, list) and "" in value)
        if empty and is_path_type(cls.model_fields[info.field_name].annotation):
            raise ValueError("a path cannot be empty")
        return value


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


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key repeated at any depth: plain YAML keeps the last one, so a
    section pasted twice into params.yaml would silently replace the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` is meant to be overridden
                continue
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            if not isinstance(key, Hashable):  # SafeLoader's own error names it
                continue
            if key in first_line:
                problem = f"key {key!r} at line {line} repeats line {first_line[key]}"
                raise yaml.constructor.ConstructorError(problem=problem)
            first_line[key] = line
        return super().construct_mapping(node, deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error as one line: what is wrong and where (its own str() spans several lines)."""
    problem = getattr(exc, "problem", None) or exc.__class__.__name__
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}" if mark is not None else problem


def parse_yaml(text: str, where: str) -> Any:
    """Parse params YAML (a file, or one `--set` value); an unparseable text or a repeated key is a
    ParamsError naming `where`."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{where}: not valid YAML ({_yaml_problem(exc)})") from None


def read_params_file(params_file: Path) -> dict[str, Any]:
    """The mapping a params file holds; a missing, non-UTF-8 or unparseable file, or a repeated key, is a
    ParamsError."""
    if not params_file.is_file():
        raise ParamsError(f"params file not found: {params_file}")
    try:
        text = params_file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParamsError(
            f"{params_file}: not UTF-8 text (byte {exc.object[exc.start]:#x} at offset {exc.start})"
        ) from None
    raw = parse_yaml(text, str(params_file)) or {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{params_file}: top level must be a mapping")
    return raw


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
    # Parsed once the key is known, so a typo in the key is named as such whatever the value.
    node[parts[-1]] = parse_yaml(raw_value, f"--set {key}") if raw_value != "" else ""


def _profiles_table(profiles: Any) -> dict[str, dict]:
    """The `profiles` table checked for shape: profile name -> the sections it overrides (null: none)."""
    if not profiles:
        return {}
    if not isinstance(profiles, dict):
        raise ParamsError(f"profiles: must map each profile to its overrides, got {type(profiles).__name__}")
    for name, table in profiles.items():
        if table is not None and not isinstance(table, dict):
            raise ParamsError(f"profiles.{name}: must map sections to their overrides, got {table!r}")
    return profiles


def resolve_tree(params_file: Path, overrides: list[str] = ()) -> dict[str, Any]:
    """Return the fully merged params tree: base, then the chosen profile, then `--set` overrides."""
    raw = read_params_file(params_file)
    profiles = _profiles_table(raw.pop("profiles", {}))
    # The profile itself may be overridden, and it decides which table applies next.
    profile_overrides = [o for o in overrides if o.partition("=")[0] == "profile"]
    for assignment in profile_overrides:
        apply_override(raw, assignment)
    profile = raw.get("profile", DEFAULT_PROFILE)
    if not isinstance(profile, str):
        raise ParamsError(f"profile: must be a profile name, got {profile!r}")
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
