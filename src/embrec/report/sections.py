"""The report's sections, one builder each: what the template shows, as plain values.

Each builder returns the template variables of its section (:mod:`embrec.report.build` merges
them): the data summary, training, the evaluation tables, the figures, the best-rated films,
the embedding map and the users. Numbers are formatted here; the template escapes every value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.interactions import Interactions
from embrec.data.splits import Split
from embrec.models.base import Recommender

__all__ = [
    "data_section",
    "training_section",
    "evaluation_section",
    "figures_section",
    "best_rated_section",
    "map_section",
    "users_section",
    "run_labels",
]

# The per-user metrics of the catalogue the report tests pairwise (all of them would crowd the table).
_COMPARED = ("ndcg", "recall", "diversity", "genre_diversity", "novelty")


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "-"
    return f"{number:.{digits}f}"


def run_labels(run: Path, baselines: Sequence[str]) -> list[str]:
    """The column label of the run (its folder's name) and of each baseline, repeats numbered."""
    from embrec.evaluation.labels import unique_labels

    return unique_labels([run.resolve().name or "run", *baselines])


# --------------------------------------------------------------------------- data
def data_section(summary: dict[str, Any], split: Split) -> dict[str, Any]:
    """The data's summary table and the split."""
    return {"summary_rows": _summary_rows(summary), "split": split.summary()}


def _summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("ratings", _fmt(summary["n_ratings"])),
        ("users", _fmt(summary["n_users"])),
        ("items", _fmt(summary["n_items"])),
        ("density", f"{summary['density']:.4%}"),
        ("feedback", "implicit" if summary["implicit"] else "explicit ratings"),
    ]
    if summary.get("rating_scale"):
        lo, hi = summary["rating_scale"]
        rows.append(("rating scale", f"{lo:g} to {hi:g}"))
    for key, label in (("ratings_per_user", "ratings per user"), ("ratings_per_item", "ratings per item")):
        s = summary[key]
        spread = f"min {s['min']:g}, median {s['median']:g}, mean {s['mean']:.1f}, 90% {s['q90']:g}, max {s['max']:g}"
        rows.append((label, spread))
    if summary.get("first_timestamp"):
        rows.append(("time span", f"{summary['first_timestamp'][:10]} to {summary['last_timestamp'][:10]}"))
    rows.append(("items with titles", _fmt(summary["n_items_with_metadata"])))
    return rows


# --------------------------------------------------------------------------- training
def training_section(model: Recommender) -> dict[str, Any]:
    """The settings training used, and how many epochs it ran."""
    from embrec.viz.curves import lowest_val_loss_epoch

    config = model.resolved_config_.to_dict()  # what training used, defaults filled in
    keep = ("objective", "embedding_dim", "learning_rate", "weight_decay", "batch_size", "epochs", "seed")
    rows = [(key, str(config[key])) for key in keep if key in config]
    if getattr(model, "history_", None):
        rows.append(("epochs run", str(len(model.history_))))
        best = getattr(model, "best_epoch_", None) or lowest_val_loss_epoch(model.history_)
        if config.get("refit") and best:
            rows.append(("refit", f"on all training rows for {best} epochs"))
    return {"config_rows": rows}


# --------------------------------------------------------------------------- evaluation
def evaluation_section(result: Any, labels: list[str], timings: list[tuple[str, str]]) -> dict[str, Any]:
    """Every model's metric means with intervals, and the paired differences to the run."""
    return {
        "labels": labels,
        "metric_rows": _metric_rows(result),
        "level": f"{result.level:.0%}",
        "k": result.k,
        "threshold": result.threshold,
        "n_eval_users": len(result.user_ids),
        "n_resamples": result.n_resamples,
        "comparisons": _comparisons(result),
        "timings": timings,
        "pairs": _scored_pairs(result),
    }


def _scored_pairs(result: Any) -> dict[str, str] | None:
    """How many test pairs RMSE and MAE scored, and how many they left out (cold user or item); ``None`` without RMSE."""
    for model in result.models:
        rated, cold = model.lists.get("rated_pairs"), model.lists.get("cold_pairs")
        if rated is not None and rated == rated and rated > 0:  # NaN-safe: a ranking-only model has none
            return {"rated": f"{int(rated):,}", "cold": f"{int(cold or 0):,}"}
    return None


def _interval(ci: Any, digits: int = 4) -> dict[str, str]:
    mean = _fmt(ci.mean, digits)
    if mean == "-" or not (math.isfinite(ci.low) and math.isfinite(ci.high)):
        return {"mean": mean, "interval": ""}
    return {"mean": mean, "interval": f"[{ci.low:.{digits}f}, {ci.high:.{digits}f}]"}


def _metric_rows(result: Any) -> list[dict[str, Any]]:
    """One row per catalogue metric with a value for some model: per-user means, then list metrics."""
    from embrec.evaluation.catalog import LIST_METRICS, PER_USER_METRICS

    rows: list[dict[str, Any]] = [
        {"metric": m, "cells": [_interval(model.summary[m]) for model in result.models]} for m in PER_USER_METRICS
    ]
    rows += [{"metric": m, "cells": [_list_cell(model.lists, m) for model in result.models]} for m in LIST_METRICS]
    return [row for row in rows if any(cell["mean"] != "-" for cell in row["cells"])]


def _list_cell(lists: dict[str, float], metric: str) -> dict[str, str]:
    return {"mean": _fmt(lists.get(metric, float("nan"))), "interval": ""}


def _comparisons(result: Any) -> list[dict[str, str]]:
    """The run minus each baseline, per compared metric, over the same users."""
    if len(result.models) <= 1:
        return []
    return [
        {
            "model": str(row.model),
            "metric": str(row.metric),
            "difference": f"{-row.difference:+.4f}",
            "interval": f"[{-row.high:+.4f}, {-row.low:+.4f}]",
            "p": "< 0.001" if row.p_wilcoxon < 0.001 else _fmt(row.p_wilcoxon, 3),
        }
        for row in result.compare(baseline=0, metrics=_COMPARED).itertuples(index=False)
    ]


# --------------------------------------------------------------------------- figures
def figures_section(model: Recommender, summary: dict[str, Any], result: Any, run_label: str) -> dict[str, Any]:
    """The pictures, as inline PNG data URIs: rating histogram, training curves, intervals, distributions."""
    from embrec.viz.curves import metric_distributions, metric_intervals, training_curves
    from embrec.viz.save import figure_data_uri

    curves = None
    if getattr(model, "history_", None):
        best_epoch = getattr(model, "best_epoch_", None)
        figure = training_curves(model.history_, best_epoch=best_epoch, title=f"Training curves of {run_label}")
        curves = figure_data_uri(figure)
    histogram = summary["rating_histogram"]
    figures = {
        "histogram": figure_data_uri(_histogram_figure(histogram)) if histogram else None,
        "curves": curves,
        "intervals": figure_data_uri(metric_intervals(result)),
        "distributions": figure_data_uri(metric_distributions(result, ("diversity", "genre_diversity", "novelty"))),
    }
    return {"figures": figures}


def _histogram_figure(histogram: dict[Any, int]) -> Any:
    from embrec.viz.save import new_figure

    fig = new_figure((5.6, 2.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    keys = [str(k) if not isinstance(k, float) else f"{k:g}" for k in histogram]
    ax.bar(range(len(keys)), list(histogram.values()), color="#1f77b4")
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(keys, fontsize=8)
    ax.set_xlabel("rating")
    ax.set_ylabel("ratings")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title("Rating histogram", loc="left", fontsize=10)
    return fig


# --------------------------------------------------------------------------- best-rated films
def best_rated_section(best: Any, data: Interactions) -> dict[str, Any]:
    """The best-rated table (``best``: a :class:`~embrec.viz.best_rated.BestRated`, None without
    ratings) and how many films a raw mean would put on top."""
    if best is None:
        return {"best_rows": [], "best": None, "perfect": None}
    from embrec.viz.best_rated import perfect_score_films

    rows = [
        {
            "rank": row.rank,
            "title": row.title,
            "year": "" if pd.isna(row.year) else str(row.year),
            "n": f"{row.n_ratings:,}",
            "mean": f"{row.mean_rating:.2f}",
            "damped": f"{row.damped_mean:.3f}",
        }
        for row in best.table.itertuples(index=False)
    ]
    pf = perfect_score_films(data)
    perfect = {
        "films": int(pf["films"].sum()),
        "one_rating": int(pf.loc[pf["n_ratings"] == 1, "films"].sum()),
        "top": f"{data.rating_scale[1]:g}" if data.rating_scale else "top",
    }
    best_info = {"m": f"{best.m:g}", "rule": best.m_rule, "c": f"{best.global_mean:.3f}"}
    return {"best_rows": rows, "best": best_info, "perfect": perfect}


# --------------------------------------------------------------------------- map
def map_section(
    model: Recommender, data: Interactions, best: Any, *, method: str, n_best: int, seed: int
) -> dict[str, Any]:
    """The interactive embedding map (a plotly ``<div>``; plotly.js once for the page), or why there is none."""
    from embrec.viz.projection import METHOD_NAMES

    section: dict[str, Any] = {"map_html": None, "map_note": None, "map_method": METHOD_NAMES[method]}
    if model.item_vectors() is None:
        section["map_note"] = f"model {model.name!r} has no item embeddings, so there is no map."
        return section
    from plotly.offline import get_plotlyjs

    from embrec.viz.maps import embedding_map, map_html_figure
    from embrec.viz.save import plotly_html

    emap = embedding_map(model, data=data, method=method, best=best, n_best=n_best, seed=seed)  # type: ignore[arg-type]
    figure = map_html_figure(emap)
    section["map_html"] = plotly_html(figure, full_html=False, include_plotlyjs=False, div_id="embedding-map")
    section["plotly_js"] = get_plotlyjs()
    return section


# --------------------------------------------------------------------------- users
def users_section(result: Any, split: Split, *, n_users: int, k: int) -> dict[str, Any]:
    """The recommendations of ``n_users`` evaluated users next to the films they rated highly."""
    rows = _pick_users(result, split, n_users)
    return {"users": [_user_block(result, row, split, k, result.threshold, n_liked=k) for row in rows]}


def _pick_users(result: Any, split: Split, n_users: int) -> list[int]:
    """Rows of the evaluated users to show: spread over activity (25th, 50th, 75th percentile...)."""
    if n_users <= 0 or len(result.user_ids) == 0:
        return []
    counts = split.train.items_per_user()[split.train.user_index(result.user_ids)]
    order = np.argsort(counts, kind="stable")
    qs = np.linspace(0.25, 0.75, n_users) if n_users > 1 else np.array([0.5])
    rows = []
    for q in qs:
        row = int(order[min(len(order) - 1, int(round(q * (len(order) - 1))))])
        if row not in rows:
            rows.append(row)
    return rows


def _user_block(result: Any, row: int, split: Split, k: int, threshold: float | None, n_liked: int) -> dict[str, Any]:
    train = split.train
    user_id = result.user_ids[row]
    u = int(train.user_index(user_id)[0])
    mine = np.flatnonzero(train.users == u)
    relevant = _relevant(split.test, u, threshold)
    recs = result.models[0].recs[row]
    recs = recs[recs >= 0][:k]
    recommended = [
        {"rank": j + 1, "title": t, "hit": int(i) in relevant} for j, (t, i) in enumerate(zip(train.titles(recs), recs))
    ]
    return {
        "user": str(user_id),
        "n_train": int(len(mine)),
        "n_relevant": len(relevant),
        "hits": sum(r["hit"] for r in recommended),
        "liked": _liked(train, mine, n_liked),
        "recommended": recommended,
    }


def _liked(train: Interactions, mine: np.ndarray, n_liked: int) -> list[dict[str, str]]:
    """The user's ``n_liked`` highest-rated training films (rows ``mine``), the more popular first on ties."""
    popularity = train.users_per_item()
    if train.ratings is not None:
        keys = np.lexsort((-popularity[train.items[mine]], -train.ratings[mine]))
    else:
        keys = np.argsort(-popularity[train.items[mine]], kind="stable")
    rows = mine[keys][:n_liked]
    return [
        {"title": t, "rating": "" if train.ratings is None else f"{float(train.ratings[r]):g}"}
        for t, r in zip(train.titles(train.items[rows]), rows)
    ]


def _relevant(test: Interactions, u: int, threshold: float | None) -> set[int]:
    """The user's relevant test items (rated at least ``threshold`` when there are ratings)."""
    rows = np.flatnonzero(test.users == u)
    if test.ratings is not None and threshold is not None:
        rows = rows[test.ratings[rows] >= threshold]
    return {int(i) for i in test.items[rows]}
