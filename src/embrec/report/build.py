"""One self-contained HTML report of a run: :func:`build_report`.

The report re-creates the data and split the run was trained on (from ``extra.data`` and
``extra.split`` in its ``embrec.json``, as ``embrec evaluate`` does, and checks the training
fingerprint), fits the baselines on the same training part, evaluates everything on the same
test users, and writes one HTML file that works offline: images are inlined as base64 PNG,
plotly.js is inlined once, nothing is fetched from a CDN. Every title and label is escaped by
the template (titles are data, not markup).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.interactions import Interactions
from embrec.data.splits import Split
from embrec.errors import ConfigError
from embrec.models.base import Recommender

__all__ = ["build_report", "render_report", "ReportParts"]

log = logging.getLogger(__name__)

_TEMPLATE = "template.html.j2"
# The per-user metrics of the catalogue the report tests pairwise (all of them would crowd the table).
_COMPARED = ("ndcg", "recall", "diversity", "genre_diversity", "novelty")


# --------------------------------------------------------------------------- data of a run
def _combined(split: Split) -> Interactions:
    """Train and test rows together (the data a split was drawn from, less dropped rows)."""
    tr, te = split.train, split.test

    def cat(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        return None if a is None or b is None else np.concatenate([a, b])

    return Interactions(
        users=np.concatenate([tr.users, te.users]),
        items=np.concatenate([tr.items, te.items]),
        ratings=cat(tr.ratings, te.ratings),
        timestamps=cat(tr.timestamps, te.timestamps),
        user_ids=tr.user_ids,
        item_ids=tr.item_ids,
        item_metadata=tr.item_metadata,
        rating_scale=tr.rating_scale,
        name=tr.name,
    )


# --------------------------------------------------------------------------- pieces
@dataclass
class ReportParts:
    """Everything the template shows, computed; :func:`render_report` turns it into HTML."""

    context: dict[str, Any]


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


def _interval(ci: Any, digits: int = 4) -> dict[str, str]:
    mean = _fmt(ci.mean, digits)
    if mean == "-" or not (math.isfinite(ci.low) and math.isfinite(ci.high)):
        return {"mean": mean, "interval": ""}
    return {"mean": mean, "interval": f"[{ci.low:.{digits}f}, {ci.high:.{digits}f}]"}


def _labels(run: Path, baselines: Sequence[str]) -> list[str]:
    labels = [run.resolve().name or "run"]
    for name in baselines:
        label, n = name, 2
        while label in labels:
            label, n = f"{name}#{n}", n + 1
        labels.append(label)
    return labels


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
    train, test = split.train, split.test
    user_id = result.user_ids[row]
    u = int(train.user_index(user_id)[0])
    popularity = train.users_per_item()
    mine = np.flatnonzero(train.users == u)
    if train.ratings is not None:
        keys = np.lexsort((-popularity[train.items[mine]], -train.ratings[mine]))
    else:
        keys = np.argsort(-popularity[train.items[mine]], kind="stable")
    liked_rows = mine[keys][:n_liked]
    liked = [
        {"title": t, "rating": "" if train.ratings is None else f"{float(train.ratings[r]):g}"}
        for t, r in zip(train.titles(train.items[liked_rows]), liked_rows)
    ]
    test_rows = np.flatnonzero(test.users == u)
    if test.ratings is not None and threshold is not None:
        test_rows = test_rows[test.ratings[test_rows] >= threshold]
    relevant = {int(i) for i in test.items[test_rows]}
    model_eval = result.models[0]
    recs = model_eval.recs[row]
    recs = recs[recs >= 0][:k]
    recommended = [
        {"rank": j + 1, "title": t, "hit": int(i) in relevant} for j, (t, i) in enumerate(zip(train.titles(recs), recs))
    ]
    return {
        "user": str(user_id),
        "n_train": int(len(mine)),
        "n_relevant": len(relevant),
        "hits": sum(r["hit"] for r in recommended),
        "liked": liked,
        "recommended": recommended,
    }


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
        rows.append(
            (
                label,
                f"min {s['min']:g}, median {s['median']:g}, mean {s['mean']:.1f}, 90% {s['q90']:g}, max {s['max']:g}",
            )
        )
    if summary.get("first_timestamp"):
        rows.append(("time span", f"{summary['first_timestamp'][:10]} to {summary['last_timestamp'][:10]}"))
    rows.append(("items with titles", _fmt(summary["n_items_with_metadata"])))
    return rows


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


def _best_epoch(history: Sequence[dict[str, float]]) -> int | None:
    scored = [
        (h["val_loss"], int(h.get("epoch", i + 1)))
        for i, h in enumerate(history)
        if isinstance(h.get("val_loss"), (int, float)) and math.isfinite(h["val_loss"])
    ]
    return min(scored)[1] if scored else None


def _config_rows(model: Recommender) -> list[tuple[str, str]]:
    config = model.resolved_config_.to_dict()  # what training used, defaults filled in
    keep = ("objective", "embedding_dim", "learning_rate", "weight_decay", "batch_size", "epochs", "seed")
    rows = [(key, str(config[key])) for key in keep if key in config]
    if getattr(model, "history_", None):
        rows.append(("epochs run", str(len(model.history_))))
        best = getattr(model, "best_epoch_", None) or _best_epoch(model.history_)
        if config.get("refit") and best:
            rows.append(("refit", f"on all training rows for {best} epochs"))
    return rows


# --------------------------------------------------------------------------- the entry point
def build_report(
    run_path: str | Path,
    out_path: str | Path,
    *,
    baselines: Sequence[str] = ("popularity", "ease"),
    data: Interactions | None = None,
    split: Split | None = None,
    map_method: str = "pca",
    n_users: int = 3,
    k: int = 10,
    threshold: float | None = 4.0,
    n_best: int = 30,
    n_resamples: int = 1000,
    seed: int = 0,
) -> Path:
    """Write one self-contained HTML report of the run in ``run_path`` to ``out_path``.

    Sections: the data summary, training curves, the model against ``baselines`` (fitted on the
    same training part; means with bootstrap intervals, paired tests, per-user distributions of
    diversity and novelty), the embedding map (interactive), the best-rated films by damped
    mean, and the recommendations of ``n_users`` users next to what they rated highly.

    Args:
        run_path: a run folder written by ``embrec train`` (or ``Recommender.save``).
        out_path: the HTML file to write (atomically).
        baselines: registered model names fitted for comparison (``embrec models``).
        data, split: the data and split the run was trained on, when already in memory (the
            split's training fingerprint must match the run); default: re-created from the run.
        map_method: ``"pca"`` (fast), ``"tsne"`` or ``"umap"``.
        n_users: users whose recommendations are shown.
        k: list length of the evaluation and the recommendations shown.
        threshold: lowest relevant test rating.
        n_best: films in the best-rated table (and labelled on the map).
        n_resamples: bootstrap resamples of the intervals.
        seed: seed of the bootstrap and of the map.

    Returns:
        ``out_path``.
    """
    from embrec.runs import Run

    started = time.perf_counter()
    run = Path(run_path)
    out = Path(out_path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"the report is one HTML file; give a path ending in .html, not {str(out)!r}.")
    opened = Run.open(run)
    model = opened.model
    if split is None:
        data, split = opened.data_and_split()
    else:
        opened.check(split)
        if data is None:
            data = _combined(split)
    parts = _collect(
        model,
        run,
        data,
        split,
        baselines=baselines,
        map_method=map_method,
        n_users=n_users,
        k=k,
        threshold=threshold,
        n_best=n_best,
        n_resamples=n_resamples,
        seed=seed,
    )
    parts.context["seconds"] = f"{time.perf_counter() - started:.1f}"
    html_text = render_report(parts)
    from embrec.atomic import write_text  # honours the umask (a report is meant to be shared)

    written = write_text(out, html_text)
    log.info("report written to %s in %.1f s", written, time.perf_counter() - started)
    return written


def _collect(
    model: Recommender,
    run: Path,
    data: Interactions,
    split: Split,
    *,
    baselines: Sequence[str],
    map_method: str,
    n_users: int,
    k: int,
    threshold: float | None,
    n_best: int,
    n_resamples: int,
    seed: int,
) -> ReportParts:
    from embrec import __version__
    from embrec.data.summary import summarize
    from embrec.evaluation import evaluate
    from embrec.evaluation.catalog import METRICS
    from embrec.models import create
    from embrec.viz.best_rated import best_rated, perfect_score_films
    from embrec.viz.curves import metric_distributions, metric_intervals, training_curves
    from embrec.viz.maps import embedding_map, map_html_figure
    from embrec.viz.save import figure_data_uri, plotly_html

    if map_method not in ("pca", "tsne", "umap"):
        raise ConfigError(f"map method {map_method!r} is not allowed; use pca, tsne or umap.")
    summary = summarize(data)
    fitted: list[Recommender] = [model]
    timings: list[tuple[str, str]] = []
    for name in baselines:
        t0 = time.perf_counter()
        fitted.append(create(name).fit(split.train))
        timings.append((name, f"{time.perf_counter() - t0:.1f}"))
    labels = _labels(run, baselines)
    result = evaluate(fitted, split, k=k, threshold=threshold, names=labels, n_resamples=n_resamples, seed=seed)

    level = f"{result.level:.0%}"
    metric_rows = []
    for metric in (e.name for e in METRICS if e.kind == "per_user"):
        cells = [_interval(m.summary[metric]) for m in result.models]
        if all(c["mean"] == "-" for c in cells):
            continue
        metric_rows.append({"metric": metric, "cells": cells})
    for metric in (e.name for e in METRICS if e.kind == "list"):
        values = [m.lists.get(metric, float("nan")) for m in result.models]
        if all(not math.isfinite(v) for v in values):
            continue
        metric_rows.append({"metric": metric, "cells": [{"mean": _fmt(v), "interval": ""} for v in values]})
    comparisons = []
    if len(result.models) > 1:
        cmp = result.compare(baseline=0, metrics=_COMPARED)
        for row in cmp.itertuples(index=False):
            comparisons.append(
                {
                    "model": str(row.model),
                    "metric": str(row.metric),
                    "difference": f"{-row.difference:+.4f}",
                    "interval": f"[{-row.high:+.4f}, {-row.low:+.4f}]",
                    "p": "< 0.001" if row.p_wilcoxon < 0.001 else _fmt(row.p_wilcoxon, 3),
                }
            )

    curves = None
    if getattr(model, "history_", None):
        curves = figure_data_uri(
            training_curves(
                model.history_, best_epoch=getattr(model, "best_epoch_", None), title=f"Training curves of {labels[0]}"
            )
        )
    figures = {
        "histogram": figure_data_uri(_histogram_figure(summary["rating_histogram"]))
        if summary["rating_histogram"]
        else None,
        "curves": curves,
        "intervals": figure_data_uri(metric_intervals(result)),
        "distributions": figure_data_uri(metric_distributions(result, ("diversity", "genre_diversity", "novelty"))),
    }

    best = None
    best_rows: list[dict[str, Any]] = []
    perfect: dict[str, Any] | None = None
    if data.ratings is not None:
        best = best_rated(data, n=n_best)
        for row in best.table.itertuples(index=False):
            best_rows.append(
                {
                    "rank": row.rank,
                    "title": row.title,
                    "year": "" if pd.isna(row.year) else str(row.year),
                    "n": f"{row.n_ratings:,}",
                    "mean": f"{row.mean_rating:.2f}",
                    "damped": f"{row.damped_mean:.3f}",
                }
            )
        pf = perfect_score_films(data)
        total = int(pf["films"].sum())
        one = int(pf.loc[pf["n_ratings"] == 1, "films"].sum())
        perfect = {
            "films": total,
            "one_rating": one,
            "top": f"{data.rating_scale[1]:g}" if data.rating_scale else "top",
        }

    map_html = None
    map_note = None
    if model.item_vectors() is not None:
        emap = embedding_map(model, data=data, method=map_method, best=best, n_best=n_best, seed=seed)  # type: ignore[arg-type]
        map_html = plotly_html(map_html_figure(emap), full_html=False, include_plotlyjs=False, div_id="embedding-map")
    else:
        map_note = f"model {model.name!r} has no item embeddings, so there is no map."

    users = [
        _user_block(result, row, split, k, result.threshold, n_liked=k) for row in _pick_users(result, split, n_users)
    ]
    info = getattr(model, "run_info_", {}) or {}
    split_summary = split.summary()
    context = {
        "run": str(run),
        "run_label": labels[0],
        "model": model.name,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "data_name": data.name,
        "summary_rows": _summary_rows(summary),
        "split": split_summary,
        "config_rows": _config_rows(model),
        "figures": figures,
        "labels": labels,
        "metric_rows": metric_rows,
        "level": level,
        "k": result.k,
        "threshold": result.threshold,
        "n_eval_users": len(result.user_ids),
        "n_resamples": n_resamples,
        "comparisons": comparisons,
        "timings": timings,
        "best_rows": best_rows,
        "best": None if best is None else {"m": f"{best.m:g}", "rule": best.m_rule, "c": f"{best.global_mean:.3f}"},
        "perfect": perfect,
        "map_html": map_html,
        "map_note": map_note,
        "map_method": {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}[map_method],
        "users": users,
        "fingerprint": (info.get("data_fingerprint") or "")[:12],
    }
    if map_html is not None:
        from plotly.offline import get_plotlyjs

        context["plotly_js"] = get_plotlyjs()
    return ReportParts(context=context)


def render_report(parts: ReportParts) -> str:
    """The report's HTML from its computed parts (Jinja2, every value escaped)."""
    from importlib import resources

    import jinja2

    source = resources.files("embrec.report").joinpath(_TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(source).render(**parts.context)
