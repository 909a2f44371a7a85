"""The `#` comments that explain each parameter, read from the code where the value lives.

A field of a params section (a pydantic class) and a key of a stage's `PROFILES` literal carry their
comment beside them in Python: the comment-only lines directly above (at the same indentation) and
the comment at the end of the line. params.yaml is generated with the same comments
(flows/params_file.py), so a value and its explanation are written once.
"""

from __future__ import annotations

import ast
import inspect
import io
import tokenize
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from crisol.core.params import Section


@dataclass(frozen=True)
class Comment:
    """What explains one value: lines above it, and text beside it."""

    above: tuple[str, ...] = ()
    beside: str = ""


@dataclass(frozen=True)
class _Source:
    """A module's comments by line, with their column: those alone on their line, those after code."""

    alone: dict[int, tuple[int, str]]
    after_code: dict[int, tuple[int, str]]
    tree: ast.Module


def _text(token: tokenize.TokenInfo) -> str:
    return token.string[1:].removeprefix(" ").rstrip()


@cache
def _source(path: str) -> _Source:
    text = Path(path).read_text()
    alone: dict[int, tuple[int, str]] = {}
    after_code: dict[int, tuple[int, str]] = {}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type != tokenize.COMMENT:
            continue
        row, column = token.start
        (after_code if token.line[:column].strip() else alone)[row] = (column, _text(token))
    return _Source(alone, after_code, ast.parse(text))


def _comment(source: _Source, node: ast.AST, rows: range) -> Comment:
    """The comment of a node whose code spans `rows`: the block above it (same column, no gap) and
    the text after code on those rows, with the comment lines aligned under it that continue it."""
    above: list[str] = []
    row = node.lineno - 1
    while row in source.alone and source.alone[row][0] == node.col_offset:
        above.insert(0, source.alone[row][1])
        row -= 1
    beside = [source.after_code[r] for r in rows if r in source.after_code]
    row = rows.stop
    while beside and row in source.alone and source.alone[row][0] == beside[-1][0]:
        beside.append(source.alone[row])
        row += 1
    return Comment(tuple(above), " ".join(text for _, text in beside))


def _class_node(source: _Source, name: str) -> ast.ClassDef:
    return next(node for node in source.tree.body if isinstance(node, ast.ClassDef) and node.name == name)


def field_comments(model: type[Section]) -> dict[str, Comment]:
    """Each field's comment, wherever in the class's ancestry the field is declared."""
    comments: dict[str, Comment] = {}
    for klass in reversed(model.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, Section)) or klass is Section:
            continue
        source = _source(inspect.getsourcefile(klass))
        for stmt in _class_node(source, klass.__name__).body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                comments[stmt.target.id] = _comment(source, stmt, range(stmt.lineno, stmt.end_lineno + 1))
    return comments


def _assigned(stmt: ast.stmt) -> list[str]:
    """The names a module-level assignment binds (`X = ...`, `X: T = ...`)."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
    return [target.id for target in targets if isinstance(target, ast.Name)]


def literal_comments(module: Any, name: str) -> dict[tuple[str, ...], Comment]:
    """The comment of every key of the module-level dict literal `name`, by its path of keys. A
    comment after code belongs to the first key on its line."""
    source = _source(inspect.getsourcefile(module))
    value = next((stmt.value for stmt in source.tree.body if name in _assigned(stmt)), None)
    comments: dict[tuple[str, ...], Comment] = {}
    claimed: set[int] = set()

    def walk(node: ast.AST, path: tuple[str, ...]) -> None:
        if not isinstance(node, ast.Dict):
            return
        for key, child in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                continue
            rows = range(key.lineno, key.lineno + 1) if key.lineno not in claimed else range(0)
            claimed.add(key.lineno)
            comments[(*path, key.value)] = _comment(source, key, rows)
            walk(child, (*path, key.value))

    walk(value, ())
    return comments
