"""A user's mistake in params is one line on stderr and exit 2, never a traceback: each case through a
stage's own command line, on a copy of the checkout's params.yaml."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from crisol.core.cli import EXIT_PARAMS
from kit.paths import REPO_ROOT
from kit.stages import stage_command


def _profiles(text: str, table: str) -> str:
    """The file with its `profiles` table (the last top-level key) replaced by `table`."""
    return text[: text.index("\nprofiles:")] + f"\n{table}\n"


def _non_utf8(params_file: Path) -> None:
    params_file.write_bytes(params_file.read_bytes() + b"# caf\xe9 in Latin-1\n")


def _edit(change):
    def write(params_file: Path) -> None:
        params_file.write_text(change(params_file.read_text()))

    return write


CASES = {
    "profile as a list": (None, ["profile=[micro]"], "error: profile: must be a profile name, got ['micro']"),
    "profile as a mapping": (None, ["profile={a: 1}"], "error: profile: must be a profile name, got {'a': 1}"),
    "unbalanced YAML value": (None, ['ingest.inputs=["a"'], "error: --set ingest.inputs: not valid YAML (expected"),
    "unparseable value": (None, ["ingest.max_files=: :"], "error: --set ingest.max_files: not valid YAML ("),
    "unparseable value, unknown key": (
        None,
        ["ingest.min_words=: :"],
        "error: --set ingest.min_words: unknown parameter",
    ),
    "empty path": (None, ["ingest.documents="], "error: ingest.documents: Value error, a path cannot be empty"),
    "non-UTF-8 file": (_non_utf8, [], "not UTF-8 text (byte 0xe9 at offset"),
    "profiles as a list": (
        _edit(lambda text: _profiles(text, "profiles: [micro, tiny]")),
        [],
        "error: profiles: must map each profile to its overrides, got list",
    ),
    "a profile as a number": (
        _edit(lambda text: _profiles(text, "profiles: {micro: 5}")),
        ["profile=micro"],
        "error: profiles.micro: must map sections to their overrides, got 5",
    ),
    "section repeated": (
        _edit(lambda text: text + "ingest:\n  max_files: 3\n"),
        [],
        "not valid YAML (key 'ingest' at line",
    ),
    "key repeated inside a section": (
        _edit(lambda text: text.replace("\ningest:\n", "\ningest:\n  max_files: 3\n", 1)),
        [],
        "not valid YAML (key 'max_files' at line",
    ),
}


@pytest.mark.parametrize("change, overrides, message", CASES.values(), ids=CASES.keys())
def test_params_mistake_is_one_line_and_exit_2(change, overrides, message, tmp_path):
    params_file = tmp_path / "params.yaml"
    params_file.write_bytes((REPO_ROOT / "params.yaml").read_bytes())
    if change:
        change(params_file)
    # Run in tmp_path: were the mistake to slip through, the stage's relative paths land there.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = stage_command("ingest", params_file, *overrides)
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert message in proc.stderr
    assert proc.returncode == EXIT_PARAMS
    assert list(tmp_path.iterdir()) == [params_file]  # no work started


def test_a_repeated_key_names_both_lines(tmp_path):
    from crisol.core.errors import ParamsError
    from crisol.core.params import resolve_tree

    params_file = tmp_path / "params.yaml"
    params_file.write_text("toy:\n  size: 1\n  name: a\n  size: 2\n")
    with pytest.raises(ParamsError, match=r"key 'size' at line 4 repeats line 2"):
        resolve_tree(params_file)
