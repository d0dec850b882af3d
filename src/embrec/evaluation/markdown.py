"""The Markdown report of an evaluation: metrics as rows, models as columns, then the paired comparisons.

:meth:`~embrec.evaluation.results.EvaluationResult.to_markdown` and ``write_markdown`` render
through :func:`result_markdown`; like every table, it iterates the metric catalogue.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from embrec.evaluation.catalog import METRICS, Metric
from embrec.evaluation.stats import format_interval, format_p_value

if TYPE_CHECKING:
    from embrec.evaluation.results import EvaluationResult, ModelEvaluation

__all__ = ["result_markdown", "PAIR_COUNTS", "pair_count"]

#: The counts of test pairs shown after RMSE and MAE: (key of ``ModelEvaluation.lists``, what it counts).
PAIR_COUNTS: tuple[tuple[str, str], ...] = (
    ("rated_pairs", "test pairs scored by RMSE and MAE"),
    ("cold_pairs", "test pairs whose user or item has no training data, not scored"),
)


def result_markdown(result: EvaluationResult, *, digits: int = 4) -> str:
    """``result`` as Markdown: a ``mean [lo, hi]`` (or figure) per metric and model, metrics no model
    has left out, then the paired comparisons against the first model when there are several."""
    lines = [f"# Evaluation at k = {result.k}", "", _setting(result), ""]
    lines += _metric_rows(result, digits)
    if len(result.models) > 1:
        lines += ["", *_comparison_rows(result, digits)]
    return "\n".join(lines) + "\n"


def _setting(result: EvaluationResult) -> str:
    rel = "every test item" if result.threshold is None else f"test rating >= {result.threshold:g}"
    reranked = f"; re-ranked with {result.rerank}" if result.rerank is not None else ""
    return (
        f"{len(result.user_ids):,} users with at least one relevant test item (relevant: {rel}); "
        f"{result.level:.0%} bootstrap intervals ({result.n_resamples} resamples, seed {result.seed}){reranked}. "
        f"Coverage and Gini over the {result.catalog_items:,} items with training data."
    )


def _metric_rows(result: EvaluationResult, digits: int) -> list[str]:
    """The metric table: intervals of the per-user metrics first, then the list figures."""
    lines = [
        "| metric | " + " | ".join(_md(m.label) for m in result.models) + " |",
        "|---|" + "---|" * len(result.models),
    ]
    for metric in [m for kind in ("per_user", "list") for m in METRICS if m.kind == kind]:
        cells = [_cell(m, metric, digits) for m in result.models]
        if any(c != "-" for c in cells):
            lines.append(f"| {metric.name} ({metric.description}) | " + " | ".join(cells) + " |")
    for key, what in PAIR_COUNTS:
        cells = [pair_count(m, key) for m in result.models]
        if any(c != "-" for c in cells):
            lines.append(f"| {key} ({what}) | " + " | ".join(cells) + " |")
    return lines


def pair_count(model: ModelEvaluation, key: str) -> str:
    """``model``'s count of test pairs ``key`` (see :data:`PAIR_COUNTS`), or ``-`` when it predicts no ratings."""
    if not (model.lists.get("rated_pairs", 0) or model.lists.get("cold_pairs", 0)):
        return "-"
    return f"{int(model.lists.get(key, 0)):,}"


def _cell(model: ModelEvaluation, metric: Metric, digits: int) -> str:
    if metric.kind == "per_user":
        ci = model.summary[metric.name]
        return format_interval(ci.mean, ci.low, ci.high, digits)
    value = model.lists.get(metric.name, float("nan"))
    return f"{value:.{digits}f}" if math.isfinite(value) else "-"


def _comparison_rows(result: EvaluationResult, digits: int) -> list[str]:
    lines = [
        f"## Paired comparison against {_md(result.models[0].label)}",
        "",
        "| model | metric | difference | p (bootstrap) | p (Wilcoxon) |",
        "|---|---|---|---|---|",
    ]
    for row in result.compare().itertuples(index=False):
        lines.append(
            f"| {_md(str(row.model))} | {row.metric} | "
            f"{format_interval(row.difference, row.low, row.high, digits)} | "
            f"{format_p_value(row.p_bootstrap)} | {format_p_value(row.p_wilcoxon)} |"
        )
    return lines


def _md(text: str) -> str:
    return text.replace("|", "\\|")
