"""The results log (results/speedrun.jsonl): one line per pipeline run, appended from the evaluate
stage's speedrun.json, never twice for the same run; `--show` prints the last runs as a table."""

from __future__ import annotations

import json
from pathlib import Path

from flows import speedrun_log

LINE = {
    "date": "2026-12-07T10:00:00Z",
    "commit": "abc1234",
    "profile": "tiny",
    "source": "synthetic",
    "machine": {"processor": "x86_64", "cpus": "2", "accelerator": "no GPU"},
    "seconds": {"pretrain": 862.8, "evaluate": 36.5},
    "total_seconds": 899.3,
    "figures": {"sft_closed_book_exact_match": 0.51572, "base_bits_per_byte": 0.27365},
}


def _workspace(tmp_path: Path, line: dict = LINE) -> Path:
    (tmp_path / "params.yaml").write_text("evaluate:\n  out: data/ev\n")
    out = tmp_path / "data" / "ev"
    out.mkdir(parents=True)
    (out / "speedrun.json").write_text(json.dumps(line))
    return tmp_path


def _log(root: Path) -> list[dict]:
    return [json.loads(s) for s in (root / "results" / "speedrun.jsonl").read_text().splitlines()]


def test_a_run_is_appended_once(tmp_path, capsys):
    root = _workspace(tmp_path)
    assert speedrun_log.main(["--root", str(root)]) == 0
    assert "results/speedrun.jsonl" in capsys.readouterr().out
    assert speedrun_log.main(["--root", str(root)]) == 0, "the same run again: nothing added"
    assert "already" in capsys.readouterr().out
    entries = _log(root)
    assert len(entries) == 1 and entries[0]["figures"] == LINE["figures"] and entries[0]["id"]
    (root / "data" / "ev" / "speedrun.json").write_text(json.dumps({**LINE, "date": "2026-12-08T10:00:00Z"}))
    speedrun_log.main(["--root", str(root)])
    assert [e["date"] for e in _log(root)] == [LINE["date"], "2026-12-08T10:00:00Z"]


def test_no_speedrun_line_is_a_note_not_an_error(tmp_path, capsys):
    (tmp_path / "params.yaml").write_text("evaluate:\n  out: data/ev\n")
    assert speedrun_log.main(["--root", str(tmp_path)]) == 0
    assert "no speedrun line" in capsys.readouterr().out
    assert not (tmp_path / "results").exists()


def test_show_prints_the_last_runs_as_a_table(tmp_path, capsys):
    root = _workspace(tmp_path)
    speedrun_log.main(["--root", str(root)])
    capsys.readouterr()
    assert speedrun_log.main(["--root", str(root), "--show", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| date |") and "| `abc1234` |" in out and "863" in out
