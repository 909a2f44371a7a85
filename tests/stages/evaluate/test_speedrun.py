"""The speedrun line: the report card's first table (each stage's wall time, the total, the machine,
the headline figures) and its JSON, from metrics files written here; a user's own data gives n/a
cells, not a crash. RLHF's gold gain over SFT carries a paired standard error."""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path
from types import SimpleNamespace

from crisol.core.source import DataSource
from stages.evaluate import alignment
from stages.evaluate.report import render
from stages.evaluate.speedrun import cpu_model, speedrun_line
from stages.evaluate.stage import read_stage_metrics

SECONDS = {"web": 0.9, "crawl": 11.6, "ingest": 4.0, "dedup": 1.1, "tokenizer": 0.9}
SECONDS |= {"pretrain": 862.8, "sft": 157.3, "reward": 130.6, "ppo": 159.3}
MODELS = {
    "base": {"heldout_documents": {"bits_per_byte": 0.27365}, "closed_book_0shot": {"exact_match": 0.01887}},
    "sft": {
        "closed_book": {"exact_match": 0.51572, "exact_match_stderr": 0.03976, "n": 159},
        "hallucination": {"hallucination_rate": 0.075, "hallucination_rate_stderr": 0.01867},
        "alignment": {"gold_score": -0.02646, "gold_score_stderr": 0.05293},
    },
    "rlhf": {
        "closed_book": {"exact_match": 0.49057, "exact_match_stderr": 0.03977, "n": 159},
        "hallucination": {"hallucination_rate": 0.0, "hallucination_rate_stderr": 0.0},
        "alignment": {
            "gold_score": 0.34401,
            "gold_score_stderr": 0.05,
            "gold_gain_vs_sft": 0.37047,
            "gold_gain_vs_sft_stderr": 0.04,
        },
    },
}
OWN_MODELS = {
    "base": {"heldout_documents": {"bits_per_byte": 1.9}},
    "sft": {"alignment": {"rm_score": 0.1}},
    "rlhf": {"alignment": {"rm_score": 0.3}},
}


def _metrics_dir(tmp_path: Path, source: DataSource) -> Path:
    directory = tmp_path / "metrics"
    directory.mkdir()
    for stage, seconds in SECONDS.items():
        metrics = {"stage": stage, "seconds": seconds, **source.to_dict()}
        (directory / f"{stage}.json").write_text(json.dumps(metrics))
    return directory


def _card(tmp_path: Path, models: dict, source: DataSource) -> tuple[dict, str]:
    stage_metrics, _ = read_stage_metrics(_metrics_dir(tmp_path, source), source)
    line = speedrun_line(
        stage_metrics=stage_metrics,
        models=models,
        evaluate_seconds=36.4,
        commit="abc1234",
        profile="tiny",
        source=source,
    )
    report = render(
        commit="abc1234",
        profile="tiny",
        params={},
        stage_metrics=stage_metrics,
        evaluation_rows=[],
        evaluation_headers=["metric"],
        figures=[],
        samples={},
        skipped={},
        watts_per_core=10.0,
        source=source,
        speedrun=line,
    )
    return line, report


def _first_table(report: str) -> dict[str, str]:
    rows = [line for line in report.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows[:3]]
    assert set(rows[1]) <= {"|", "-"}, "a header, its rule, then one row"
    return dict(zip(cells[0], cells[2]))


def test_the_first_table_is_the_speedrun_line(tmp_path):
    line, report = _card(tmp_path, MODELS, DataSource("synthetic"))
    assert report.index("## Speedrun") < report.index("## Data funnel")
    row = _first_table(report)
    assert row["commit"] == "`abc1234`" and row["profile"] == "tiny"
    assert row["pretrain s"] == "863" and row["web s"] == "0.9" and row["evaluate s"] == "36"
    total = sum(SECONDS.values()) + 36.4
    assert row["total"] == f"{total:,.0f} s ({total / 60:.1f} min)"
    assert row["closed-book EM SFT"] == "0.516 ± 0.040"
    assert row["closed-book EM RLHF"] == "0.491 ± 0.040"
    assert row["gold RLHF − SFT"] == "0.370 ± 0.040"
    assert row["hallucination SFT"] == "0.075 ± 0.019" and row["hallucination RLHF"] == "0.000 ± 0.000"
    assert row["base bits per byte"] == "0.274"
    assert "CPUs" in row["machine"]
    assert line["seconds"]["pretrain"] == 862.8 and math.isclose(line["total_seconds"], total)
    assert line["figures"]["rlhf_minus_sft_gold_score_stderr"] == 0.04
    assert line["commit"] == "abc1234" and line["source"] == "synthetic" and "date" in line


def test_gold_gain_without_a_paired_error_falls_back_to_the_two_errors(tmp_path):
    models = json.loads(json.dumps(MODELS))
    for key in ("gold_gain_vs_sft", "gold_gain_vs_sft_stderr"):
        del models["rlhf"]["alignment"][key]
    line, _ = _card(tmp_path, models, DataSource("synthetic"))
    figures = line["figures"]
    assert math.isclose(figures["rlhf_minus_sft_gold_score"], 0.34401 + 0.02646, abs_tol=1e-5)
    assert math.isclose(figures["rlhf_minus_sft_gold_score_stderr"], math.hypot(0.05, 0.05293), abs_tol=1e-5)


def test_own_data_gives_na_cells_not_a_crash(tmp_path):
    source = DataSource("own", tmp_path / "own")
    line, report = _card(tmp_path, OWN_MODELS, source)
    row = _first_table(report)
    for column in ("closed-book EM SFT", "gold RLHF − SFT", "hallucination RLHF"):
        assert row[column] == "n/a (own data)", column
    assert row["base bits per byte"] == "1.900"
    assert line["figures"]["sft_closed_book_exact_match"] is None
    json.dumps(line, allow_nan=False)


def test_rlhf_gold_gain_over_sft_has_a_paired_standard_error():
    def sampled(i: int, gold: float) -> alignment.Sampled:
        example = SimpleNamespace(id=f"q{i}")
        return alignment.Sampled(example, [], [], "", True, gold, 0.0, 0.0)

    sft = [sampled(i, g) for i, g in enumerate([0.0, 0.5, 1.0, 0.2])]
    rlhf = [sampled(i, g + d) for i, (g, d) in enumerate(zip([0.0, 0.5, 1.0, 0.2], [0.1, 0.2, 0.1, 0.2]))]
    figures = alignment.figures(rlhf, sft)
    assert math.isclose(figures["gold_gain_vs_sft"], 0.15)
    diffs = [0.1, 0.2, 0.1, 0.2]
    mean = sum(diffs) / 4
    stderr = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3 / 4)
    assert math.isclose(figures["gold_gain_vs_sft_stderr"], stderr)
    assert "gold_gain_vs_sft" not in alignment.figures(sft, None)


def test_the_cpu_model_is_read_from_cpuinfo_and_falls_back_to_the_architecture(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n")
    assert cpu_model(cpuinfo) == "Intel(R) Xeon(R) Processor"
    core = "cpu family\t: 6\nmodel\t\t: 207\nmodel name\t: Intel(R) Xeon(R) Processor\ncache size\t: 307200 KB\n"
    cpuinfo.write_text(core + core.replace("207", "143"))  # the first processor's figures
    assert cpu_model(cpuinfo) == "Intel(R) Xeon(R) Processor (family 6, model 207, cache 307200 KB)"
    cpuinfo.write_text("model name\t:\nmodel name\t: Intel(R) Xeon(R) Processor\n")  # an empty first value
    assert cpu_model(cpuinfo) == "Intel(R) Xeon(R) Processor"
    assert cpu_model(tmp_path / "missing") == (platform.processor() or platform.machine())
