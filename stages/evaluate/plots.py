"""PNG figures for the evaluation report card: training curves and model-against-model bars.

`read_curve` reads the step-indexed CSVs the training stages write for `dvc plots`
(crisol/core/plots.py: a `step` column, then one or more value columns); `training_curves`
draws one PNG per stage found under a data/plots directory (pretrain, sft, reward, ppo), from
the files and columns listed in TRAINING_FIGURES; `curves_png` is one axes of named lines;
`comparison_bars` draws grouped bars, one group per metric and one bar per model, with stderr
error bars and a dashed chance-level marker per group.

Rendering is matplotlib's Agg canvas on a `Figure` of its own (no pyplot, no display, no global
backend or rcParams change), at a fixed size and dpi, and the PNG is written without the
"Software" text chunk (the only metadata matplotlib adds), so the same data makes byte-identical
files: DVC hashes outputs, and a figure that changed on every run would make every repro look
changed. Files are written atomically (crisol/core/atomic.py).
"""

from __future__ import annotations

import csv
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from crisol.core.atomic import atomic_file

DPI = 100
CURVES_SIZE = (8.0, 4.5)  # inches: 800 x 450 pixels
PANELS_SIZE = (8.0, 7.0)  # two panels, one above the other: 800 x 700 pixels
BARS_SIZE = (8.0, 5.0)  # 800 x 500 pixels
PNG_METADATA = {"Software": None}  # matplotlib's version string out: nothing else varies
MARKERS_UP_TO = 60  # a curve with at most this many points gets a marker per point
BASELINE_LABEL = "chance"

Points = Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Line:
    """One curve of a training figure: its legend label, its CSV (in the stage's directory) and column."""

    label: str
    file: str
    column: str
    color: str | None = None  # a matplotlib colour ("C0"...); None: the next in the cycle
    faint: bool = False  # thin and translucent, no markers (noisy per-step figures)


@dataclass(frozen=True)
class Panel:
    """One axes of a training figure."""

    ylabel: str
    lines: tuple[Line, ...]
    title: str = ""


# Stage -> (figure title, panels), by the names the stages write (stages/*/outputs.py PLOTS,
# stages/ppo/stage.py); tests check them against dvc.yaml's plots.
TRAINING_FIGURES: dict[str, tuple[str, tuple[Panel, ...]]] = {
    "pretrain": (
        "pretraining",
        (
            Panel(
                "loss (nats/token)",
                (Line("train", "train_loss.csv", "loss"), Line("validation", "validation.csv", "loss")),
            ),
            Panel("accuracy", (Line("fact probes", "facts.csv", "accuracy"),), "memorised facts"),
        ),
    ),
    "sft": (
        "supervised fine-tuning",
        (
            Panel(
                "loss (nats/token)",
                (Line("train", "train_loss.csv", "loss"), Line("validation", "validation_loss.csv", "loss")),
            ),
            Panel(
                "exact match",
                (Line("validation", "validation_exact_match.csv", "exact_match"),),
                "validation exact match",
            ),
        ),
    ),
    "reward": (
        "reward model",
        (
            Panel("loss", (Line("train", "train_loss.csv", "loss"),)),
            Panel(
                "accuracy",
                (Line("held-out pairs", "validation_accuracy.csv", "accuracy"),),
                "held-out preference accuracy",
            ),
        ),
    ),
    "ppo": (
        "PPO: proxy vs gold",
        (
            Panel(
                "score",
                (
                    Line("reward model, rollouts", "objective_rm_score.csv", "objective/rm_score", "C0", True),
                    Line("gold, rollouts", "objective_gold_score.csv", "objective/gold_score", "C1", True),
                    Line("reward model, held-out", "heldout_rm_score.csv", "rm_score", "C0"),
                    Line("gold, held-out", "heldout_gold_score.csv", "gold_score", "C1"),
                ),
                "reward-model (proxy) score and gold score",
            ),
            Panel(
                "KL",
                (
                    Line("rollouts", "objective_kl.csv", "objective/kl", "C2", True),
                    Line("held-out", "heldout_kl.csv", "kl", "C2"),
                ),
                "KL to the reference policy",
            ),
        ),
    ),
}


def _number(text: str | None) -> float | None:
    """A finite float, or None for an empty, non-numeric, NaN or infinite cell."""
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def read_curve(csv_path: Path, column: str | None = None) -> list[tuple[float, float]]:
    """(step, value) pairs of one column of a step-indexed CSV (the first value column by default).

    A row whose step or value is empty, non-numeric or not finite is skipped: it is a gap in the
    curve, not an error. A file without a `step` column or without `column` is a ValueError.
    """
    csv_path = Path(csv_path)
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        if "step" not in header:
            raise ValueError(f"{csv_path}: no 'step' column (columns: {', '.join(header) or 'none'})")
        values = [name for name in header if name != "step"]
        if column is None:
            if not values:
                raise ValueError(f"{csv_path}: no value column besides 'step'")
            column = values[0]
        elif column not in values:
            raise ValueError(f"{csv_path}: no column {column!r} (columns: {', '.join(header)})")
        points = []
        for row in reader:
            step, value = _number(row.get("step")), _number(row.get(column))
            if step is not None and value is not None:
                points.append((step, value))
    return points


def _check_series(series: Mapping[str, Points], *, log_y: bool, where: str) -> None:
    if not series:
        raise ValueError(f"{where}: no series to draw")
    for name, points in series.items():
        if len(points) == 0:
            raise ValueError(f"{where}: series {name!r} has no points")
        if log_y and any(not y > 0 for _, y in points):
            raise ValueError(f"{where}: series {name!r} has a value <= 0, which a log scale cannot show")


def _draw_lines(
    ax: Axes,
    series: Mapping[str, Points],
    *,
    ylabel: str,
    log_y: bool,
    title: str = "",
    styles: Mapping[str, Line] | None = None,
) -> None:
    for name, points in series.items():
        xs = [float(x) for x, _ in points]
        ys = [float(y) for _, y in points]
        style = (styles or {}).get(name)
        faint = style is not None and style.faint
        marker = "o" if len(points) <= MARKERS_UP_TO and not faint else None
        ax.plot(
            xs,
            ys,
            label=name,
            linewidth=1.0 if faint else 1.5,
            alpha=0.45 if faint else 1.0,
            marker=marker,
            markersize=3,
            color=style.color if style is not None else None,
        )
    if log_y:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")


def _save(fig: Figure, out: Path) -> Path:
    """Render with Agg and write `out` atomically, without the metadata that would vary."""
    out = Path(out)
    FigureCanvasAgg(fig)
    with atomic_file(out) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata=PNG_METADATA)
    return out


def curves_png(
    series: Mapping[str, Points], out: Path, *, title: str, xlabel: str = "step", ylabel: str, log_y: bool = False
) -> Path:
    """One line per named series of (x, y) points on one axes, written to `out` as a PNG.

    ValueError when there is no series, a series has no points, or (log_y) a value is <= 0.
    """
    _check_series(series, log_y=log_y, where=f"curves_png({title!r})")
    fig = Figure(figsize=CURVES_SIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    _draw_lines(ax, series, ylabel=ylabel, log_y=log_y)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return _save(fig, out)


def _panels_png(
    panels: Sequence[Panel], series: Sequence[Mapping[str, Points]], out: Path, *, title: str, xlabel: str = "step"
) -> Path:
    """Panels one above the other sharing the x axis (two scales that differ: a loss, an accuracy)."""
    size = PANELS_SIZE if len(panels) > 1 else CURVES_SIZE
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, panel, drawn in zip(axes, panels, series):
        _check_series(drawn, log_y=False, where=f"{title!r} panel {panel.ylabel!r}")
        _draw_lines(
            ax,
            drawn,
            ylabel=panel.ylabel,
            log_y=False,
            title=panel.title,
            styles={line.label: line for line in panel.lines},
        )
    axes[-1].set_xlabel(xlabel)
    fig.suptitle(title)
    return _save(fig, out)


def training_curves(plots_dir: Path, out_dir: Path) -> list[Path]:
    """One PNG per training stage found under `plots_dir` (<stage>/*.csv), as `out_dir`/<stage>.png.

    Figures and panels are TRAINING_FIGURES'. A stage directory that is absent, a CSV that is
    absent, empty or has no usable row, leaves out that line; a panel with no line is left out
    (a figure left with one panel is CURVES_SIZE, not PANELS_SIZE), and a stage with no panel
    makes no file. A CSV without the expected column is a ValueError from read_curve (a stage's
    format changed). Returns the paths written, in TRAINING_FIGURES' order.
    """
    plots_dir, out_dir = Path(plots_dir), Path(out_dir)
    written = []
    for stage, (title, panels) in TRAINING_FIGURES.items():
        stage_dir = plots_dir / stage
        if not stage_dir.is_dir():
            continue
        kept, kept_series = [], []
        for panel in panels:
            series = {}
            for line in panel.lines:
                path = stage_dir / line.file
                if path.is_file() and path.stat().st_size > 0:
                    points = read_curve(path, line.column)
                    if points:
                        series[line.label] = points
            if series:
                kept.append(panel)
                kept_series.append(series)
        if kept:
            written.append(_panels_png(kept, kept_series, out_dir / f"{stage}.png", title=title))
    return written


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def comparison_bars(
    table: Mapping[str, Mapping[str, tuple[float, float | None]]],
    out: Path,
    *,
    title: str,
    baselines: Mapping[str, float] | None = None,
) -> Path:
    """Grouped bars: a group per metric (table's keys, in order), a bar per model, written to `out`.

    table[metric][model] = (value, stderr). Models are ordered (and coloured) by first appearance
    across the table; a model absent from a metric leaves a gap in that group. An error bar shows
    +-stderr where stderr is a finite number (None or NaN: no error bar); a NaN value draws no
    bar. `baselines[metric]` (random/chance level) is a dashed line across that group; baselines
    for metrics not in the table are ignored, so one mapping can serve several calls. Metrics on
    very different scales belong in separate calls (one y axis here).
    ValueError when the table has no metric or a metric has no model.
    """
    if not table:
        raise ValueError(f"comparison_bars({title!r}): no metrics in the table")
    models: list[str] = []
    for metric, row in table.items():
        if not row:
            raise ValueError(f"comparison_bars({title!r}): metric {metric!r} has no models")
        models.extend(m for m in row if m not in models)
    baselines = baselines or {}

    fig = Figure(figsize=BARS_SIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    group_width = 0.8
    width = group_width / len(models)
    colors = [f"C{i % 10}" for i in range(len(models))]
    for i, model in enumerate(models):
        xs, values, errors, labels = [], [], [], []
        for g, row in enumerate(table.values()):
            if model not in row or _finite(row[model][0]) is None:
                continue
            value, stderr = row[model]
            xs.append(g - group_width / 2 + (i + 0.5) * width)
            values.append(float(value))
            errors.append(math.nan if _finite(stderr) is None else float(stderr))
            labels.append(f"{value:.3g}")
        bars = ax.bar(
            xs,
            values,
            width * 0.92,
            color=colors[i],
            label=model,
            yerr=errors if any(math.isfinite(e) for e in errors) else None,
            capsize=3,
            ecolor="0.25",
        )
        ax.bar_label(bars, labels=labels, padding=2, fontsize="x-small")
    for g, metric in enumerate(table):
        if metric in baselines and _finite(baselines[metric]) is not None:
            ax.hlines(
                baselines[metric],
                g - group_width / 2 - 0.04,
                g + group_width / 2 + 0.04,
                colors="0.2",
                linestyles="dashed",
                linewidth=1.2,
            )
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_xticks(range(len(table)), [textwrap.fill(m, 18) for m in table])
    ax.set_xlim(-0.6, len(table) - 0.4)
    ax.margins(y=0.12)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    if any(m in baselines for m in table):
        handles.append(Line2D([], [], color="0.2", linestyle="dashed", linewidth=1.2))
        labels.append(BASELINE_LABEL)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6), fontsize="small")
    return _save(fig, out)
