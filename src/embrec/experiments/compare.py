"""The comparison table of an experiment: means over seeds and folds, paired tests against the baseline.

One table per dataset x protocol; one row per metric and model (:data:`COLUMNS`):

* ``mean``, ``low``, ``high``: the model's mean over its cells (seeds x folds) with a Student-t
  interval over the cells (:func:`~embrec.experiments.stats.t_interval`). A cell's figure is its
  mean over evaluated users (per-user metrics) or its list figure (RMSE, coverage...).
* ``difference``, ``difference_low``, ``difference_high``, ``test``, ``p_value``, ``p_wilcoxon``:
  the model against the baseline, paired. For a per-user metric the pairs are users: in each cell
  both models are scored on the same users, and each user's values are averaged over the seeds and
  folds they were evaluated in, so every user counts once; the interval and ``p_value`` are the
  paired bootstrap's (``test = "bootstrap"``, :func:`embrec.evaluation.stats.paired_comparison`).
  For a list figure (RMSE, coverage...) the pairs are cells (same fold, same seed), usually a
  handful, where a bootstrap says nothing: the interval and ``p_value`` are the paired t-test's
  (``test = "t"``, :func:`~embrec.experiments.stats.paired_t`). ``p_wilcoxon`` is the Wilcoxon
  signed-rank test of the same pairs either way.
* ``p_value_holm``, ``p_wilcoxon_holm``: the p-values adjusted with Holm's method
  (:func:`~embrec.experiments.stats.holm`) over all comparisons of the table (every model but
  the baseline, every metric); ``significant`` is ``p_value_holm <= 1 - level``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from embrec.evaluation.stats import paired_comparison, wilcoxon_p
from embrec.experiments.cells import Cell
from embrec.experiments.spec import Experiment, MetricSpec
from embrec.experiments.stats import holm, paired_t, t_interval

__all__ = ["COLUMNS", "INTERVAL_RULE", "TEST_RULE", "compare_cells"]

#: The columns of the comparison table, in order.
COLUMNS = (
    "dataset",
    "protocol",
    "metric",
    "model",
    "model_type",
    "is_baseline",
    "cells",
    "mean",
    "low",
    "high",
    "sd",
    "difference",
    "difference_low",
    "difference_high",
    "pairs",
    "paired_over",
    "test",
    "p_value",
    "p_wilcoxon",
    "p_value_holm",
    "p_wilcoxon_holm",
    "significant",
)
#: How ``low`` and ``high`` are computed (written beside the table).
INTERVAL_RULE = (
    "mean over cells (seeds x folds) of each cell's figure (its mean over users, or its list figure), "
    "with a Student-t interval over the cells: mean +/- t(n-1) s / sqrt(n); undefined for a single cell"
)
#: How the comparisons are made (written beside the table).
TEST_RULE = (
    "each model against the baseline: per-user metrics paired over users (each user's values averaged over "
    "the seeds and folds they were evaluated in) with the paired bootstrap's interval and p-value; list figures "
    "(RMSE, coverage...) paired over cells with the paired t-test's; the Wilcoxon signed-rank p-value of the "
    "same pairs; p-values Holm-adjusted over all comparisons of one dataset x protocol table"
)
#: The seed of the comparisons' bootstrap (a fixed one: the same cells give the same table).
_BOOTSTRAP_SEED = 0


def compare_cells(experiment: Experiment, cells: Sequence[Cell]) -> pd.DataFrame:
    """The comparison table of ``cells`` (see the module docs), in the file's order of datasets,
    protocols, metrics and models."""
    by_key: defaultdict[tuple[str, str, str], list[Cell]] = defaultdict(list)
    for cell in cells:
        by_key[(cell.key.dataset, cell.key.protocol, cell.key.model)].append(cell)
    frames = []
    for dataset in experiment.datasets:
        for protocol in experiment.protocols:
            groups = {m.label: by_key.get((dataset.label, protocol.name, m.label), []) for m in experiment.models}
            if not any(groups.values()):
                continue
            frames.append(_table(experiment, dataset.label, protocol.name, protocol.metrics, groups))
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(frames, ignore_index=True)


def _table(
    experiment: Experiment,
    dataset: str,
    protocol: str,
    metrics: Sequence[MetricSpec],
    groups: dict[str, list[Cell]],
) -> pd.DataFrame:
    level = experiment.evaluation.level
    base = groups[experiment.baseline]
    rows = []
    for metric in metrics:
        for model in experiment.models:
            own = groups[model.label]
            ci = t_interval([c.value(metric.label, metric.kind) for c in own], level)
            row = {
                "dataset": dataset,
                "protocol": protocol,
                "metric": metric.label,
                "model": model.label,
                "model_type": model.model,
                "is_baseline": model.label == experiment.baseline,
                "cells": len(own),
                "mean": ci.mean,
                "low": ci.low,
                "high": ci.high,
                "sd": ci.sd,
            }
            if model.label != experiment.baseline:
                row |= _paired(base, own, metric, experiment)
            rows.append(row)
    frame = pd.DataFrame(rows).reindex(columns=list(COLUMNS))
    for column in ("p_value", "p_wilcoxon"):
        frame[f"{column}_holm"] = holm(frame[column].to_numpy(dtype=np.float64))
    alpha = 1.0 - level
    frame["significant"] = np.where(
        frame["p_value_holm"].notna(), frame["p_value_holm"] <= alpha, None
    )  # None on the baseline rows and where no test could be made
    return frame


def _paired(base: list[Cell], own: list[Cell], metric: MetricSpec, experiment: Experiment) -> dict[str, object]:
    """The comparison of ``own`` with ``base``, paired as the module docs say."""
    a, b, over = _pairs(base, own, metric)
    nan = float("nan")
    test = "bootstrap" if over == "users" else "t"
    out: dict[str, object] = {"paired_over": over, "test": test, "pairs": 0}
    defined = ~(np.isnan(a) | np.isnan(b))
    if not defined.any():
        return out | dict.fromkeys(("difference", "difference_low", "difference_high", "p_value", "p_wilcoxon"), nan)
    level = experiment.evaluation.level
    if test == "t":
        difference, low, high, p_value, n = paired_t(a, b, level)
        return out | {
            "pairs": n,
            "difference": difference,
            "difference_low": low,
            "difference_high": high,
            "p_value": p_value,
            "p_wilcoxon": wilcoxon_p(a, b),
        }
    c = paired_comparison(a, b, level=level, n_resamples=experiment.evaluation.n_resamples, seed=_BOOTSTRAP_SEED)
    return out | {
        "pairs": c.n,
        "difference": c.difference,
        "difference_low": c.low,
        "difference_high": c.high,
        "p_value": c.p_bootstrap,
        "p_wilcoxon": c.p_wilcoxon,
    }


def _pairs(base: list[Cell], own: list[Cell], metric: MetricSpec) -> tuple[np.ndarray, np.ndarray, str]:
    """The baseline's and the model's paired values, and what the pairs are (``users`` or ``cells``)."""
    by_place = {(c.key.fold, c.key.seed): c for c in base}
    matched = [(by_place[(c.key.fold, c.key.seed)], c) for c in own if (c.key.fold, c.key.seed) in by_place]
    if metric.kind == "list":
        values = np.array([[x.value(metric.label, "list"), y.value(metric.label, "list")] for x, y in matched])
        values = values.reshape(-1, 2)
        return values[:, 0], values[:, 1], "cells"
    pieces = []
    for x, y in matched:
        if metric.label not in x.per_user or metric.label not in y.per_user:
            continue
        left = x.per_user[["user", metric.label]].rename(columns={metric.label: "a"})
        right = y.per_user[["user", metric.label]].rename(columns={metric.label: "b"})
        pieces.append(left.merge(right, on="user", how="inner"))
    if not pieces:
        return np.array([]), np.array([]), "users"
    joined = pd.concat(pieces, ignore_index=True)
    # a user evaluated in several cells (seeds, or folds that reuse users) counts once: the mean of their values
    per_user = joined.groupby("user", sort=True)[["a", "b"]].mean()
    return per_user["a"].to_numpy(dtype=np.float64), per_user["b"].to_numpy(dtype=np.float64), "users"
