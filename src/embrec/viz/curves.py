"""Curves and distributions: training history, per-user diversity and novelty, the re-ranking
trade-off, and metric means with their intervals. Each function returns a matplotlib
``Figure`` (never shown); write it with :func:`embrec.viz.save.save_figure`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from embrec.errors import ConfigError, DataError
from embrec.viz.save import new_figure

__all__ = ["training_curves", "metric_distributions", "tradeoff_figure", "metric_intervals"]

_TRAIN, _VAL = "#1f77b4", "#d62728"
#: Labels to place in one axes: ``(ax, x, y, texts)``.
_LabelJob = tuple[Any, Any, Any, list[str]]
_MODEL_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


def _label(metric: str) -> str:
    """The axis label of a catalogue metric (the name itself for anything else, such as ``lambda``)."""
    from embrec.evaluation.catalog import METRICS

    for entry in METRICS:
        if entry.name == metric:
            return entry.axis_label
    return metric


def _tidy(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, color="#e5e5e5", lw=0.8)
    ax.set_axisbelow(True)


def training_curves(
    history: Sequence[Mapping[str, float]], *, title: str | None = None, best_epoch: int | None = None
) -> Any:
    """Training and validation figures per epoch (``model.history_``): loss, and RMSE in stars
    when recorded. The best epoch (lowest validation loss, or ``best_epoch``) is marked."""
    if not history:
        raise DataError(
            "the training history is empty (closed-form models such as popularity or EASE have none); "
            "there are no curves to draw."
        )
    frame = pd.DataFrame(list(history))
    if "epoch" not in frame.columns:
        frame["epoch"] = np.arange(1, len(frame) + 1)
    panels = [("loss", "loss")]
    if frame.filter(like="rmse").notna().any().any():
        panels.append(("rmse", "RMSE (stars)"))
    fig = new_figure((5.2 * len(panels) + 0.6, 4.0), layout="constrained")
    if best_epoch is None:
        best_epoch = lowest_val_loss_epoch(history)
    for i, (key, ylabel) in enumerate(panels):
        _history_panel(fig.add_subplot(1, len(panels), i + 1), frame, key, ylabel, best_epoch)
    fig.suptitle(title or "Training curves", x=0.01, ha="left", fontsize=12)
    return fig


def lowest_val_loss_epoch(history: Sequence[Mapping[str, float]]) -> int | None:
    """The epoch of the lowest finite validation loss in ``history`` (None without one)."""
    scored = [
        (h["val_loss"], int(h.get("epoch", i + 1)))
        for i, h in enumerate(history)
        if isinstance(h.get("val_loss"), (int, float)) and math.isfinite(h["val_loss"])
    ]
    return min(scored)[1] if scored else None


def _history_panel(ax: Any, frame: pd.DataFrame, key: str, ylabel: str, best_epoch: int | None) -> None:
    """Training and validation ``key`` per epoch, the best epoch marked."""
    for split, color, name in (("train", _TRAIN, "training"), ("val", _VAL, "validation")):
        column = f"{split}_{key}"
        if column in frame and frame[column].notna().any():
            ax.plot(frame["epoch"], frame[column], marker="o", ms=3.5, lw=1.6, color=color, label=name)
    if best_epoch is not None:
        ax.axvline(best_epoch, color="#555555", ls="--", lw=1, label=f"best epoch ({best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    _tidy(ax)
    ax.legend(frameon=False, fontsize=9)


def _per_user_tables(source: Any) -> dict[str, pd.DataFrame]:
    """``{label: per-user table}`` from an EvaluationResult, a mapping, or one frame."""
    if hasattr(source, "models") and hasattr(source, "summary_frame"):
        return {m.label: m.per_user for m in source.models}
    if isinstance(source, pd.DataFrame):
        return {"model": source}
    if isinstance(source, Mapping):
        return {str(k): v for k, v in source.items()}
    raise ConfigError(
        f"expected an EvaluationResult, a per-user DataFrame or a mapping of them, got {type(source).__name__}."
    )


def metric_distributions(
    source: Any, metrics: Sequence[str] = ("diversity", "novelty"), *, bins: int = 30, title: str | None = None
) -> Any:
    """How ``metrics`` spread across users, one panel per metric, one outline per model.

    ``source`` is an :class:`~embrec.evaluation.EvaluationResult` (its per-user tables), a
    per-user ``DataFrame``, or a mapping ``label -> DataFrame``. The dashed line is each model's mean.
    """
    tables = _per_user_tables(source)
    shown = [(m, _values(tables, m)) for m in metrics]
    shown = [(m, values) for m, values in shown if any((~np.isnan(v)).any() for v in values.values())]
    if not shown:
        raise DataError("none of the requested metrics has a value for any user; nothing to draw.")
    fig = new_figure((5.0 * len(shown) + 0.6, 3.9), layout="constrained")
    for i, (metric, values) in enumerate(shown):
        _distribution_panel(fig.add_subplot(1, len(shown), i + 1), metric, values, bins)
    n_users = max(len(t) for t in tables.values())
    fig.suptitle(title or f"Across {n_users:,} users: how each user's list scores", x=0.01, ha="left", fontsize=12)
    return fig


def _values(tables: dict[str, pd.DataFrame], metric: str) -> dict[str, np.ndarray]:
    """Each model's per-user values of ``metric`` (models without it left out)."""
    return {label: t[metric].to_numpy(dtype=np.float64) for label, t in tables.items() if metric in t}


def _distribution_panel(ax: Any, metric: str, values: dict[str, np.ndarray], bins: int) -> None:
    """One outlined histogram per model over shared bins, each with its mean dashed."""
    finite = {label: v[np.isfinite(v)] for label, v in values.items()}
    pooled = np.concatenate(list(finite.values()))
    lo, hi = float(pooled.min()), float(pooled.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    for j, (label, v) in enumerate(finite.items()):
        if not len(v):
            continue
        color = _MODEL_COLORS[j % len(_MODEL_COLORS)]
        ax.hist(v, bins=edges, histtype="stepfilled", alpha=0.18, color=color)
        ax.hist(v, bins=edges, histtype="step", lw=1.6, color=color, label=f"{label} (mean {v.mean():.3f})")
        ax.axvline(float(v.mean()), color=color, ls="--", lw=1)
    ax.set_xlabel(_label(metric))
    ax.set_ylabel("users")
    _tidy(ax)
    ax.legend(frameon=False, fontsize=8.5)


def tradeoff_figure(
    sweep: pd.DataFrame,
    *,
    accuracy: str = "ndcg",
    beyond: Sequence[str] = ("diversity", "novelty"),
    title: str | None = None,
) -> Any:
    """The accuracy / diversity / novelty trade-off of a re-ranking sweep.

    ``sweep`` is :func:`embrec.evaluation.sweep`'s frame (a ``lambda`` column and metric
    columns). One panel per ``beyond`` metric, accuracy on the y axis, each point labelled with
    its λ; the line follows λ from 0 (the model's own order) upwards.
    """
    shown = _tradeoff_metrics(sweep, accuracy, beyond)
    frame = sweep.sort_values("lambda")
    fig = new_figure((5.0 * len(shown) + 0.6, 4.1), layout="constrained")
    panels = [_tradeoff_panel(fig.add_subplot(1, len(shown), i + 1), frame, m, accuracy) for i, m in enumerate(shown)]
    fig.colorbar(panels[-1][0], ax=fig.axes, label="λ (0 = the model's order)", shrink=0.85)
    fig.suptitle(
        title or "Re-ranking trade-off: accuracy against diversity and novelty", x=0.01, ha="left", fontsize=12
    )
    _label_after_layout(fig, [job for _, job in panels])
    return fig


def _tradeoff_metrics(sweep: Any, accuracy: str, beyond: Sequence[str]) -> list[str]:
    """The ``beyond`` metrics of a sweep frame that have values, after checking the frame."""
    if not isinstance(sweep, pd.DataFrame) or "lambda" not in sweep.columns:
        raise DataError(
            "tradeoff_figure takes the DataFrame returned by embrec.evaluation.sweep (with a 'lambda' column)."
        )
    if accuracy not in sweep.columns:
        raise DataError(f"the sweep has no {accuracy!r} column; it has {', '.join(map(str, sweep.columns))}.")
    shown = [m for m in beyond if m in sweep.columns and sweep[m].notna().any()]
    if not shown:
        raise DataError(f"the sweep has none of {', '.join(beyond)} with values; nothing to plot against {accuracy}.")
    return shown


def _tradeoff_panel(ax: Any, frame: pd.DataFrame, metric: str, accuracy: str) -> tuple[Any, _LabelJob]:
    """Accuracy against ``metric`` along λ; returns the points coloured by λ and the labels to place."""
    x = frame[metric].to_numpy(dtype=np.float64)
    y = frame[accuracy].to_numpy(dtype=np.float64)
    ax.plot(x, y, color="#888888", lw=1.2, zorder=1)
    points = ax.scatter(
        x, y, c=frame["lambda"], cmap="viridis", vmin=0, vmax=1, s=42, edgecolors="black", linewidths=0.6, zorder=2
    )
    ok = np.isfinite(x) & np.isfinite(y)
    ax.set_xlabel(_label(metric))
    ax.set_ylabel(_label(accuracy))
    ax.margins(x=0.15, y=0.12)
    _tidy(ax)
    return points, (ax, x[ok], y[ok], [f"λ={lam:g}" for lam in frame["lambda"].to_numpy()[ok]])


def _label_after_layout(fig: Any, jobs: list[_LabelJob]) -> None:
    """Settle the layout, then place non-overlapping labels in the finished axes."""
    from embrec.viz.labels import label_points

    fig.canvas.draw()
    for ax, x, y, texts in jobs:
        ax.set_xlim(ax.get_xlim())
        ax.set_ylim(ax.get_ylim())
        if len(texts):
            label_points(ax, x, y, texts, fontsize=8, background=False, point_radius=5)
    fig.set_layout_engine("none")


def metric_intervals(
    result: Any, metrics: Sequence[str] = ("ndcg", "recall", "genre_diversity", "novelty"), *, title: str | None = None
) -> Any:
    """Each model's mean per metric with its bootstrap interval (one panel per metric)."""
    if not (hasattr(result, "models") and hasattr(result, "level")):
        raise ConfigError(
            f"metric_intervals takes an EvaluationResult (see embrec.evaluation.evaluate), got {type(result).__name__}."
        )
    shown = [m for m in metrics if any(math.isfinite(mod.summary[m].mean) for mod in result.models if m in mod.summary)]
    if not shown:
        raise DataError("none of the requested metrics has a value; nothing to draw.")
    n_models = len(result.models)
    fig = new_figure((3.4 * len(shown) + 1.6, 0.45 * n_models + 1.7), layout="constrained")
    for i, metric in enumerate(shown):
        _interval_panel(fig.add_subplot(1, len(shown), i + 1), result, metric, name_models=i == 0)
    fig.suptitle(
        title or f"Means over users with {result.level:.0%} bootstrap intervals (k = {result.k})",
        x=0.01,
        ha="left",
        fontsize=11,
    )
    return fig


def _interval_panel(ax: Any, result: Any, metric: str, *, name_models: bool) -> None:
    """Each model's mean of ``metric`` with its interval, one row per model (named when ``name_models``)."""
    from matplotlib.ticker import MaxNLocator

    labels = [m.label for m in result.models]
    for j, model in enumerate(result.models):
        ci = model.summary[metric]
        if not math.isfinite(ci.mean):
            continue
        low = ci.low if math.isfinite(ci.low) else ci.mean
        high = ci.high if math.isfinite(ci.high) else ci.mean
        color = _MODEL_COLORS[j % len(_MODEL_COLORS)]
        ax.errorbar(ci.mean, j, xerr=[[ci.mean - low], [high - ci.mean]], fmt="o", color=color, capsize=3, ms=5)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels if name_models else [""] * len(labels))
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlabel(_label(metric).split(" (")[0])
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.margins(x=0.15)
    _tidy(ax)
