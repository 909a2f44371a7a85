"""PNG figures for the report card: valid files of the fixed size, byte-identical renders, CSV reading,
training figures for the stages present only, grouped bars, and clear errors on bad input."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from PIL import Image

from kit.paths import REPO_ROOT
from stages.evaluate.plots import (
    BARS_SIZE,
    CURVES_SIZE,
    DPI,
    PANELS_SIZE,
    TRAINING_FIGURES,
    comparison_bars,
    curves_png,
    read_curve,
    training_curves,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SERIES = {"train": [(0, 8.0), (10, 4.0), (20, 2.5)], "validation": [(0, 8.2), (20, 3.0)]}
TABLE = {
    "closed-book EM": {"base": (0.05, 0.01), "sft": (0.31, 0.02), "rlhf": (0.35, None)},
    "hallucination rate": {"base": (0.60, 0.03), "sft": (0.40, math.nan), "rlhf": (0.20, 0.02)},
    "HellaSwag acc_norm": {"base": (0.27, 0.02), "sft": (0.28, 0.02)},  # no rlhf: a gap
}


def pixels(size: tuple[float, float]) -> tuple[int, int]:
    return round(size[0] * DPI), round(size[1] * DPI)


def check_png(path: Path, size: tuple[float, float]) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == pixels(size)
        assert "Software" not in image.info  # no matplotlib version string in the file


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_curves_png_writes_a_png_of_the_fixed_size(tmp_path):
    out = curves_png(SERIES, tmp_path / "figs" / "loss.png", title="loss", ylabel="loss")
    assert out == tmp_path / "figs" / "loss.png"
    check_png(out, CURVES_SIZE)
    log = curves_png(SERIES, tmp_path / "log.png", title="loss", ylabel="loss", log_y=True)
    check_png(log, CURVES_SIZE)
    assert log.read_bytes() != out.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figs", "log.png"]  # no temporary left over


def test_rendering_the_same_data_twice_is_byte_identical(tmp_path):
    first = curves_png(SERIES, tmp_path / "a.png", title="loss", ylabel="loss").read_bytes()
    second = curves_png(SERIES, tmp_path / "b.png", title="loss", ylabel="loss").read_bytes()
    assert first == second
    moved = {**SERIES, "train": [(0, 8.0), (10, 4.0), (20, 2.4)]}
    assert curves_png(moved, tmp_path / "c.png", title="loss", ylabel="loss").read_bytes() != first

    bars = [
        comparison_bars(TABLE, tmp_path / f"bars{i}.png", title="models", baselines={"HellaSwag acc_norm": 0.25})
        for i in range(2)
    ]
    assert bars[0].read_bytes() == bars[1].read_bytes()

    plots = tmp_path / "plots"
    write_csv(plots / "reward" / "train_loss.csv", "step,loss\n1,0.7\n2,0.6\n3,0.5\n")
    write_csv(plots / "reward" / "validation_accuracy.csv", "step,accuracy\n0,0.5\n3,0.8\n")
    runs = [training_curves(plots, tmp_path / f"figs{i}") for i in range(2)]
    assert [p.name for p in runs[0]] == ["reward.png"]
    assert runs[0][0].read_bytes() == runs[1][0].read_bytes()


def test_read_curve_by_column_skipping_blank_and_non_numeric_values(tmp_path):
    path = write_csv(
        tmp_path / "validation.csv",
        "step,loss,bits_per_byte\n0,8.27,2.31\n250,,0.25\n500,0.90,\nsix,1.0,1.0\n750,nan,0.2\n1000,0.8,x\n",
    )
    assert read_curve(path, "loss") == [(0.0, 8.27), (500.0, 0.90), (1000.0, 0.8)]
    assert read_curve(path, "bits_per_byte") == [(0.0, 2.31), (250.0, 0.25), (750.0, 0.2)]
    assert read_curve(path) == read_curve(path, "loss")  # the first value column
    ppo = write_csv(tmp_path / "objective_rm_score.csv", "step,objective/rm_score\n1,0.13\n2,-0.27\n")
    assert read_curve(ppo, "objective/rm_score") == [(1.0, 0.13), (2.0, -0.27)]
    assert read_curve(write_csv(tmp_path / "empty.csv", "step,loss\n")) == []
    with pytest.raises(ValueError, match=r"no column 'accuracy' \(columns: step, loss, bits_per_byte\)"):
        read_curve(path, "accuracy")
    with pytest.raises(ValueError, match="no 'step' column"):
        read_curve(write_csv(tmp_path / "nostep.csv", "epoch,loss\n1,2\n"))


def test_training_curves_draws_only_the_stages_and_files_present(tmp_path):
    plots = tmp_path / "plots"
    # pretrain without facts.csv: the accuracy panel goes, a one-panel figure stays.
    write_csv(plots / "pretrain" / "train_loss.csv", "step,loss\n50,6.3\n100,2.2\n")
    write_csv(plots / "pretrain" / "validation.csv", "step,loss,bits_per_byte\n0,8.2,2.3\n100,0.9,0.25\n")
    write_csv(plots / "pretrain" / "lr.csv", "step,lr\n50,0.0025\n")
    # sft: a directory with a header-only CSV and an empty file, nothing to draw.
    write_csv(plots / "sft" / "train_loss.csv", "step,loss\n")
    write_csv(plots / "sft" / "validation_loss.csv", "")
    # ppo: one file per panel.
    write_csv(plots / "ppo" / "objective_rm_score.csv", "step,objective/rm_score\n1,0.1\n2,0.3\n")
    write_csv(plots / "ppo" / "heldout_kl.csv", "step,kl\n0,0.0\n10,0.14\n")
    write_csv(plots / "unknown" / "train_loss.csv", "step,loss\n1,1\n")  # not a training stage
    # reward: absent.
    out = tmp_path / "figures"
    written = training_curves(plots, out)
    assert written == [out / "pretrain.png", out / "ppo.png"]
    assert sorted(p.name for p in out.iterdir()) == ["ppo.png", "pretrain.png"]
    check_png(out / "pretrain.png", CURVES_SIZE)
    check_png(out / "ppo.png", PANELS_SIZE)
    assert training_curves(tmp_path / "nothing", tmp_path / "none") == []
    assert not (tmp_path / "none").exists()


def test_training_figures_read_the_files_and_columns_dvc_declares():
    declared = {}
    for stage in yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"].values():
        for entry in stage.get("plots", []):
            for path, spec in entry.items():
                declared[path] = spec.get("y")  # image plots (a directory of PNGs) have no columns
    for stage, (_, panels) in TRAINING_FIGURES.items():
        for panel in panels:
            for line in panel.lines:
                assert declared.get(f"${{{stage}.plots}}/{line.file}") == line.column, (stage, line)


def test_comparison_bars_with_missing_stderr_and_baselines(tmp_path):
    out = comparison_bars(
        TABLE,
        tmp_path / "bars.png",
        title="closed-book QA",
        baselines={"HellaSwag acc_norm": 0.25, "a metric not in this table": 0.5},
    )
    check_png(out, BARS_SIZE)
    plain = comparison_bars(TABLE, tmp_path / "plain.png", title="closed-book QA")
    check_png(plain, BARS_SIZE)
    assert plain.read_bytes() != out.read_bytes()  # the baseline is drawn
    lower = comparison_bars(
        TABLE, tmp_path / "lower.png", title="closed-book QA", baselines={"HellaSwag acc_norm": 0.2}
    )
    assert lower.read_bytes() != out.read_bytes()  # ... where it belongs
    # None and NaN stderr both mean no error bar (not even the caps a zero stderr draws); a stderr draws one.
    none = {"bits per byte": {"base": (1.2, None), "sft": (0.9, None)}}
    nan = {"bits per byte": {"base": (1.2, math.nan), "sft": (0.9, math.nan)}}
    zero = {"bits per byte": {"base": (1.2, 0.0), "sft": (0.9, 0.0)}}
    some = {"bits per byte": {"base": (1.2, 0.05), "sft": (0.9, None)}}
    rendered = [
        comparison_bars(t, tmp_path / f"bpb{i}.png", title="bpb").read_bytes()
        for i, t in enumerate((none, nan, zero, some))
    ]
    assert rendered[0] == rendered[1]
    assert rendered[0] != rendered[2] and rendered[0] != rendered[3]


def test_bad_input_is_a_clear_value_error(tmp_path):
    out = tmp_path / "bad.png"
    with pytest.raises(ValueError, match="series 'validation' has no points"):
        curves_png({"train": [(0, 1.0)], "validation": []}, out, title="loss", ylabel="loss")
    with pytest.raises(ValueError, match="no series to draw"):
        curves_png({}, out, title="loss", ylabel="loss")
    with pytest.raises(ValueError, match="series 'train' has a value <= 0"):
        curves_png({"train": [(0, 1.0), (1, 0.0)]}, out, title="loss", ylabel="loss", log_y=True)
    with pytest.raises(ValueError, match="no metrics"):
        comparison_bars({}, out, title="models")
    with pytest.raises(ValueError, match="metric 'closed-book EM' has no models"):
        comparison_bars({"closed-book EM": {}}, out, title="models")
    assert list(tmp_path.iterdir()) == []
