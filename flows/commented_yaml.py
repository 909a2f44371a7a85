"""YAML written line by line, so that each key carries its comment: above it, or beside it at a
common column. Values are one-line YAML (scalars, flow-style lists, `{}`); floats are spelled so that
YAML 1.1 (PyYAML, DVC) reads them back as the same floats."""

from __future__ import annotations

from typing import Any

import yaml

from flows.params_comments import Comment

COMMENT_COLUMN = 36  # where a comment beside a value starts
WIDTH = 120  # a comment that would pass this goes above its key instead


def yaml_float(value: float) -> str:
    """A float as YAML 1.1 reads back as the same float: the shorter of the positional and the
    scientific spelling (the latter with the dot and signed exponent PyYAML needs)."""
    text = repr(value)
    if text in ("inf", "-inf", "nan"):
        return {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}[text]
    digits = next(p for p in range(17) if float(f"{value:.{p}e}") == value)
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    scientific = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"
    positional = f"{value:.{max(0, digits - int(exponent))}f}"
    positional = positional if "." in positional else positional + ".0"
    return positional if len(positional) <= len(scientific) else scientific


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, with floats spelled by yaml_float."""


_Dumper.add_representer(
    float, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:float", yaml_float(value))
)


def flow(value: Any) -> str:
    """A scalar, list or empty mapping on one line, as YAML."""
    text = yaml.dump(value, Dumper=_Dumper, default_flow_style=True, width=1 << 30, sort_keys=False)
    return text.removesuffix("\n...\n").rstrip("\n")


def _with_comment(line: str, comment: Comment, pad: str) -> list[str]:
    above = [f"{pad}# {text}".rstrip() for text in comment.above]
    if not comment.beside:
        return [*above, line]
    beside = f"{line.ljust(COMMENT_COLUMN - 2)}  # {comment.beside}"
    if len(beside) <= WIDTH:
        return [*above, beside]
    return [*above, f"{pad}# {comment.beside}", line]


def block(
    mapping: dict[str, Any], comments: dict[tuple[str, ...], Comment], path: tuple[str, ...] = (), indent: int = 0
) -> list[str]:
    """A mapping as block YAML, each key with its comment; lists and empty mappings on one line."""
    pad = " " * indent
    lines: list[str] = []
    for key, value in mapping.items():
        comment = comments.get((*path, key), Comment())
        if isinstance(value, dict) and value:
            lines += _with_comment(f"{pad}{flow(key)}:", comment, pad)
            lines += block(value, comments, (*path, key), indent + 2)
        else:
            lines += _with_comment(f"{pad}{flow(key)}: {flow(value)}", comment, pad)
    return lines


def comment_lines(text: str) -> list[str]:
    """Text as YAML comment lines, one per line of it."""
    return [f"# {line}".rstrip() for line in text.splitlines()]
