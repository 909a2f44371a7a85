"""Params of the `web` stage: defaults are valid, and a wrong key or value stops with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crisol.core.cli import EXIT_PARAMS, main
from stages.web.params import WebParams
from stages.web.stage import run

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def params_file(tmp_path) -> Path:
    path = tmp_path / "params.yaml"
    out = tmp_path / "out"
    path.write_text(yaml.safe_dump({"profile": "micro", "web": {
        "site": str(out / "site"), "facts": str(out / "facts.parquet"),
        "pages": str(out / "pages.parquet"), "metrics": str(out / "web.json")}}))
    return path


def test_defaults_are_valid_and_name_the_outputs():
    params = WebParams()
    assert params.site == Path("data/web/site") and params.metrics == Path("data/metrics/web.json")
    assert 0 < params.crawl_delay <= 1


@pytest.mark.parametrize("override, key", [
    ("web.bogus=1", "web.bogus"),
    ("web.mirror_fraction=1.5", "web.mirror_fraction"),
    ("web.people=1", "web.people"),
    ("web.oversized_page_bytes=1000", "web.oversized_page_bytes"),
    ("web.foreign_langs=[de,it]", "foreign_langs"),
    ("web.filler_min_words=500", "filler_min_words"),
])
def test_a_wrong_key_or_value_is_one_line_and_exit_2(params_file, capsys, override, key):
    code = main("web", WebParams, run, ["--params", str(params_file), "--set", override])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_PARAMS
    assert len(err.splitlines()) == 1 and key in err
    assert not (params_file.parent / "out").exists(), "nothing is written before params are valid"


def test_the_module_entry_point_exits_2_on_a_wrong_key(params_file):
    proc = subprocess.run([sys.executable, "-m", "stages.web", "--params", str(params_file),
                           "--set", "web.no_such_key=3"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == EXIT_PARAMS
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "web.no_such_key" in proc.stderr
