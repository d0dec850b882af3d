"""The plot of one dataset x protocol table: each model's mean per metric with its t-interval over cells."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from embrec.viz.save import new_figure

if TYPE_CHECKING:
    from embrec.experiments.outputs import Section

__all__ = ["section_figure"]

_BASELINE, _MODEL = "#7f7f7f", "#1f77b4"


def section_figure(section: Section, *, level: float = 0.95) -> Any | None:
    """A matplotlib ``Figure`` (never shown): a panel per metric, a row per model, the baseline in grey.

    ``None`` when no metric of the table has a value.
    """
    frame = section.frame
    metrics = [m for m in section.metrics if frame.loc[frame["metric"] == m, "mean"].notna().any()]
    if not metrics:
        return None
    models = [row["model"] for row in section.means]
    baseline = next((row["model"] for row in section.means if row["baseline"]), None)
    fig = new_figure((3.0 * len(metrics) + 1.6, 0.42 * len(models) + 1.6), layout="constrained")
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        rows = frame[frame["metric"] == metric].set_index("model")
        for j, model in enumerate(models):
            if model not in rows.index or not math.isfinite(float(rows.at[model, "mean"])):
                continue
            mean, low, high = (float(rows.at[model, c]) for c in ("mean", "low", "high"))
            err = [[mean - low], [high - mean]] if math.isfinite(low) and math.isfinite(high) else None
            color = _BASELINE if model == baseline else _MODEL
            ax.errorbar(mean, j, xerr=err, fmt="o", color=color, capsize=3, ms=5)
        ax.set_yticks(range(len(models)))
        ax.set_yticklabels(models if i == 0 else [""] * len(models))
        ax.set_ylim(len(models) - 0.5, -0.5)
        ax.set_xlabel(metric)
        ax.margins(x=0.15)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.grid(True, color="#e5e5e5", lw=0.8)
        ax.set_axisbelow(True)
    fig.suptitle(
        f"{section.dataset} · {section.protocol}: means over cells, {level:.0%} t-intervals",
        x=0.01,
        ha="left",
        fontsize=10,
    )
    return fig
