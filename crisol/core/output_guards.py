"""Output-path guards: what the stage CLI checks after loading params and before any work, so that
no typed path can destroy data. Each violation is a ParamsError (one line, exit 2).

- Confined: an output is inside the workspace (the directory the stage runs in, or the one holding
  its params file) or inside a root listed in `outputs.allow_roots`; never the workspace itself.
- Apart: no output is, or is inside, an input; no input is inside an output; a stage's outputs
  never overlap one another (crisol/core/path_roles.py says which params are which).
- Owned: an existing directory output must be one this stage made. Claiming it writes a marker
  beside it, `.<name>.crisol-owner` naming the stage: beside, not inside, so the outputs (and their
  DVC hashes) are unchanged and a directory swapped in by atomic_dir needs no copy of it.
  Outputs made before the markers existed are accepted at the field's default path (the one place
  the pipeline puts them, dvc.yaml's out for this stage) or when empty: elsewhere nothing tells a
  stage's old output from a user's folder, so the error asks for a new path instead. A work
  directory (checkpoints, a sweep's runs: kept and written into, never replaced) is refused only
  when another stage's marker names it.
- A file output may replace a file, never a directory; a directory output never replaces a file.
"""

from __future__ import annotations

import os
from itertools import takewhile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from crisol.core.atomic import write_text
from crisol.core.errors import ParamsError
from crisol.core.params import Section, validate_section
from crisol.core.path_roles import OUTPUTS, Role, declared_paths
from crisol.core.source import DataSource

MARKER_SUFFIX = ".crisol-owner"
GLOB_CHARS = "*?["


class OutputsParams(Section):
    """Where stages may write: inside the workspace (the directory a stage runs in, or the one holding
    the params file), and inside these roots (docs/contract.md)."""

    # Directories outside the workspace that outputs may be written under (a scratch disk, say).
    allow_roots: list[Path] = []


def marker_path(target: Path) -> Path:
    return target.with_name(f".{target.name}{MARKER_SUFFIX}")


def owner_of(target: Path) -> str | None:
    """The stage whose marker sits beside `target`, or None."""
    try:
        return marker_path(target).read_text().strip().split(".", 1)[0] or None
    except OSError:
        return None


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _local(field: str, role: Role, value: Any) -> tuple[str, Role, Path] | None:
    """A declared path as a local one: a URL is none; a glob is the folder before its first pattern,
    read for the files that match, so an output may sit inside it (like an INPUT_FOLDER)."""
    text = str(value)
    if "://" in text:
        return None
    if not any(c in text for c in GLOB_CHARS):
        return field, role, Path(text)
    parts = takewhile(lambda part: not any(c in part for c in GLOB_CHARS), Path(text).parts)
    return field, Role.INPUT_FOLDER, Path(*parts)


def _confine(field: str, path: Path, roots: list[Path]) -> None:
    where = Path(os.path.abspath(path))  # lexical: a symlink the user made inside the workspace counts as inside
    if where in roots:
        raise ParamsError(f"{field}: {path} is the workspace itself (an output must be inside it)")
    if not any(_within(where, root) for root in roots):
        shown = ", ".join(map(str, dict.fromkeys(roots)))
        raise ParamsError(f"{field}: {path} is outside the workspace ({shown}); outputs.allow_roots lists other roots")


def _apart(field: str, path: Path, others: list[tuple[str, Role, Path]]) -> None:
    """No overlap between an output and the inputs and other outputs (real paths: symlinks followed)."""
    real = Path(os.path.realpath(path))
    for other, role, value in others:
        kind = "output" if role in OUTPUTS else "input"
        theirs = Path(os.path.realpath(value))
        if real == theirs:
            raise ParamsError(f"{field}: {path} is the {kind} {other}")
        if _within(theirs, real):
            raise ParamsError(f"{field}: {path} holds the {kind} {other} ({value})")
        if _within(real, theirs) and role is not Role.INPUT_FOLDER:
            raise ParamsError(f"{field}: {path} is inside the {kind} {other} ({value})")


def _owned(stage: str, field: str, role: Role, path: Path, default: Any) -> None:
    """An existing target is of the output's kind and, for a directory, this stage's (see the docstring)."""
    if role is Role.OUTPUT_FILE:
        if path.is_dir():
            raise ParamsError(f"{field}: {path} is a directory; a file output never replaces one")
        return
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir():
        raise ParamsError(f"{field}: {path} is a file; a directory output never replaces one")
    owner = owner_of(path)
    if owner == stage:
        return
    if owner is not None:
        raise ParamsError(f"{field}: {path} was made by stage {owner}; choose another path")
    if role is Role.WORK_DIR:  # kept and written into, never replaced: only another stage's is refused
        return
    at_default = isinstance(default, (str, Path)) and os.path.abspath(path) == os.path.abspath(default)
    if not (at_default or not any(path.iterdir())):
        raise ParamsError(
            f"{field}: {path} exists and was not made by stage {stage} (no {marker_path(path).name} beside it); "
            "choose a new path, or remove it yourself"
        )


def workspace_roots(params_file: Path, tree: dict[str, Any]) -> list[Path]:
    allowed = validate_section(tree, "outputs", OutputsParams).allow_roots if "outputs" in tree else []
    return [Path.cwd(), Path(os.path.abspath(Path(params_file).parent)), *(Path(os.path.abspath(r)) for r in allowed)]


def claim(stage: str, owned: list[tuple[str, Path]], made_only: bool = False) -> None:
    """Write the marker beside each directory output whose parent exists (no directory is created
    for it: a stage stopped by a bad input leaves nothing new). The CLI claims before the run and,
    `made_only`, the directories that exist after it, whatever its end: one made in a new parent."""
    for field, path in owned:
        if (path.is_dir() if made_only else path.parent.is_dir()) and owner_of(path) != stage:
            write_text(marker_path(path), f"{field}\n")


def guard_outputs(stage: str, params: BaseModel, roots: list[Path], source: DataSource) -> list[tuple[str, Path]]:
    """Check every declared output of `params` (ParamsError on the first violation), claim its
    directory outputs (see `claim`) and return them."""
    declared = [(f"{stage}.{name}", role, value) for name, role, value in declared_paths(params)]
    if source.is_own:
        declared.append(("own.root", Role.INPUT, source.root))
    paths = [local for declaration in declared if (local := _local(*declaration)) is not None]
    outputs = [(field, role, path) for field, role, path in paths if role in OUTPUTS]
    fields = type(params).model_fields
    for field, role, path in outputs:
        _confine(field, path, roots)
        _apart(field, path, [other for other in paths if other[0] != field])
        default = fields[field.split(".", 1)[1]].default if field.count(".") == 1 else None
        _owned(stage, field, role, path, default)
    owned = [(field, path) for field, role, path in outputs if role is not Role.OUTPUT_FILE]
    claim(stage, owned)
    return owned
