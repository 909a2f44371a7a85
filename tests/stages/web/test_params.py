"""Params of the `web` stage: defaults are valid, and a wrong key or value stops with exit 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crisol.core.cli import EXIT_PARAMS
from kit.paths import REPO_ROOT
from kit.stages import run_stage, stage_command, write_stage_params
from stages.web.params import WebParams


@pytest.fixture
def params_file(tmp_path) -> Path:
    out = tmp_path / "out"
    return write_stage_params(
        tmp_path / "params.yaml",
        "web",
        {
            "site": str(out / "site"),
            "facts": str(out / "facts.parquet"),
            "pages": str(out / "pages.parquet"),
            "metrics": str(out / "web.json"),
        },
        profile="micro",
    )


def test_defaults_are_valid_and_name_the_outputs():
    params = WebParams()
    assert params.site == Path("data/web/site") and params.metrics == Path("data/metrics/web.json")
    assert 0 < params.crawl_delay <= 1


@pytest.mark.parametrize(
    "override, key",
    [
        ("web.bogus=1", "web.bogus"),
        ("web.mirror_fraction=1.5", "web.mirror_fraction"),
        ("web.people=1", "web.people"),
        ("web.oversized_page_bytes=1000", "web.oversized_page_bytes"),
        ("web.foreign_langs=[de,it]", "foreign_langs"),
        ("web.filler_min_words=500", "filler_min_words"),
    ],
)
def test_a_wrong_key_or_value_is_one_line_and_exit_2(params_file, capsys, override, key):
    code = run_stage("web", params_file, override)
    err = capsys.readouterr().err.strip()
    assert code == EXIT_PARAMS
    assert len(err.splitlines()) == 1 and key in err
    assert not (params_file.parent / "out").exists(), "nothing is written before params are valid"


def test_the_module_entry_point_exits_2_on_a_wrong_key(params_file):
    proc = subprocess.run(
        stage_command("web", params_file, "web.no_such_key=3"),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EXIT_PARAMS
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "web.no_such_key" in proc.stderr
