"""What each path in a params section is to its stage: an output it writes or an input it reads.

A stage's params.py declares it in the field's type, so the declaration cannot drift from the field:

    input: InputPath = Path("data/ingest/documents")
    documents: OutputDir = Path("data/dedup/documents")
    metrics: OutputFile = Path("data/metrics/dedup.json")
    inputs: list[InputPath] = []

The output guards (crisol/core/output_guards.py) read these before a stage starts; a test checks
that every path field of every stage has a role (undeclared_path_fields).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Iterator, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from crisol.core.params import is_path_type


class Role(Enum):
    OUTPUT_DIR = "output_dir"  # a directory the stage makes, replaced whole on each run
    # A directory the stage keeps across runs and writes into (checkpoints, a sweep's runs), deleting
    # only entries it names itself (step-000100/, a run id's work/): never replaced whole.
    WORK_DIR = "work_dir"
    OUTPUT_FILE = "output_file"  # one file the stage replaces
    INPUT = "input"  # a file or directory the stage reads
    # A folder the stage reads other stages' files from by name (data/metrics, data/plots): its own
    # outputs may sit inside it, but never be it or hold it.
    INPUT_FOLDER = "input_folder"


OUTPUTS = (Role.OUTPUT_DIR, Role.WORK_DIR, Role.OUTPUT_FILE)

OutputDir = Annotated[Path, Role.OUTPUT_DIR]
OutputFile = Annotated[Path, Role.OUTPUT_FILE]
WorkDir = Annotated[Path, Role.WORK_DIR]
InputPath = Annotated[Path, Role.INPUT]
InputFolder = Annotated[Path, Role.INPUT_FOLDER]
InputName = Annotated[str, Role.INPUT]  # a local path, glob or URL (ingest's inputs)


def _role_in(annotation: Any) -> Role | None:
    """The Role in an annotation's Annotated metadata, at any depth (list[InputPath], InputPath | None)."""
    if get_origin(annotation) is Annotated:
        found = [m for m in annotation.__metadata__ if isinstance(m, Role)]
        if found:
            return found[0]
    return next((r for r in map(_role_in, get_args(annotation)) if r is not None), None)


def role_of(field: FieldInfo) -> Role | None:
    # pydantic moves a top-level Annotated's metadata onto the field and keeps the bare type
    found = [m for m in field.metadata if isinstance(m, Role)]
    return found[0] if found else _role_in(field.annotation)


def _sections(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str, FieldInfo]]:
    """(dotted name, field name, field) of every field, nested sections' fields included."""
    for name, field in model.model_fields.items():
        nested = [a for a in (field.annotation, *get_args(field.annotation)) if isinstance(a, type)]
        sub = next((a for a in nested if issubclass(a, BaseModel)), None)
        if sub is not None:
            yield from _sections(sub, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", name, field


def undeclared_path_fields(model: type[BaseModel]) -> list[str]:
    """The dotted names of path fields without a role: each one a path the guards would not see."""
    return [dotted for dotted, _, field in _sections(model) if is_path_type(field.annotation) and not role_of(field)]


def declared_paths(section: BaseModel, prefix: str = "") -> list[tuple[str, Role, Any]]:
    """(dotted name, role, value) of every declared path of a section's values; a list field gives
    one entry per item, a None value none."""
    found = []
    for name, field in type(section).model_fields.items():
        value = getattr(section, name)
        if isinstance(value, BaseModel):
            found += declared_paths(value, f"{prefix}{name}.")
            continue
        role = role_of(field)
        if role is None or value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            found.append((f"{prefix}{name}", role, item))
    return found
