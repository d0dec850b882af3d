"""One self-contained HTML report of a run: :func:`build_report`.

The report re-creates the data and split the run was trained on (from ``extra.data`` and
``extra.split`` in its ``embrec.json``, as ``embrec evaluate`` does, and checks the training
fingerprint), fits the baselines on the same training part, evaluates everything on the same
test users, and writes one HTML file that works offline: images are inlined as base64 PNG,
plotly.js is inlined once, nothing is fetched from a CDN. Every title and label is escaped by
the template (titles are data, not markup). Each section's values come from a builder in
:mod:`embrec.report.sections`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embrec.data.interactions import Interactions
from embrec.data.splits import Split
from embrec.errors import ConfigError
from embrec.extras import require
from embrec.models.base import Recommender
from embrec.report import sections

__all__ = ["MAX_USERS", "build_report", "render_report", "ReportParts"]

log = logging.getLogger(__name__)

_TEMPLATE = "template.html.j2"
#: Most users whose recommendations one report shows (each is a block of the page).
MAX_USERS = 100


@dataclass
class ReportParts:
    """Everything the template shows, computed; :func:`render_report` turns it into HTML."""

    context: dict[str, Any]


@dataclass(frozen=True)
class _Options:
    """The settings of one report (see :func:`build_report`)."""

    baselines: Sequence[str]
    map_method: str
    n_users: int
    k: int
    threshold: float | None
    n_best: int
    n_resamples: int
    seed: int


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
        n_users: users whose recommendations are shown, 0 to :data:`MAX_USERS`.
        k: list length of the evaluation and the recommendations shown.
        threshold: lowest relevant test rating.
        n_best: films in the best-rated table (and labelled on the map).
        n_resamples: bootstrap resamples of the intervals.
        seed: seed of the bootstrap and of the map.

    Returns:
        ``out_path``.

    Raises:
        ConfigError: a bad setting (checked before any model is fitted or ranks), or ``k`` longer
            than the catalogue.
        MissingExtraError: the ``viz`` extra is not installed.
    """
    require("viz", "the HTML report")
    from embrec.evaluation.context import check_k
    from embrec.evaluation.stats import DEFAULT_LEVEL, check_bootstrap
    from embrec.runs import Run
    from embrec.viz.projection import check_method

    started = time.perf_counter()
    run = Path(run_path)
    out = Path(out_path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"the report is one HTML file; give a path ending in .html, not {str(out)!r}.")
    if isinstance(n_users, bool) or not isinstance(n_users, (int, np.integer)) or not 0 <= n_users <= MAX_USERS:
        raise ConfigError(
            f"n_users={n_users!r} is not allowed; give a whole number from 0 to {MAX_USERS} "
            "(the users whose recommendations the report shows)."
        )
    check_bootstrap(DEFAULT_LEVEL, n_resamples, seed)
    check_method(map_method)
    opened = Run.open(run)
    model = opened.model
    if split is None:
        data, split = opened.data_and_split()
    else:
        opened.check(split)
        if data is None:
            data = _combined(split)
    check_k(k, split.train.n_items)
    options = _Options(
        baselines=tuple(baselines),
        map_method=map_method,
        n_users=n_users,
        k=k,
        threshold=threshold,
        n_best=n_best,
        n_resamples=n_resamples,
        seed=seed,
    )
    parts = _collect(model, run, data, split, options)
    parts.context["seconds"] = f"{time.perf_counter() - started:.1f}"
    html_text = render_report(parts)
    from embrec.atomic import write_text  # honours the umask (a report is meant to be shared)

    written = write_text(out, html_text)
    log.info("report written to %s in %.1f s", written, time.perf_counter() - started)
    return written


def _collect(model: Recommender, run: Path, data: Interactions, split: Split, options: _Options) -> ReportParts:
    """Every section's values, computed in the order the sections depend on each other."""
    from embrec import __version__
    from embrec.data.summary import summarize
    from embrec.viz.best_rated import best_rated
    from embrec.viz.projection import check_method

    check_method(options.map_method)
    summary = summarize(data)
    labels = sections.run_labels(run, options.baselines)
    result, timings = _evaluate(model, split, labels, options)
    best = best_rated(data, n=options.n_best) if data.ratings is not None else None
    info = getattr(model, "run_info_", {}) or {}
    context = {
        "run": str(run),
        "run_label": labels[0],
        "model": model.name,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "data_name": data.name,
        "fingerprint": (info.get("data_fingerprint") or "")[:12],
        **sections.data_section(summary, split),
        **sections.training_section(model),
        **sections.evaluation_section(result, labels, timings),
        **sections.figures_section(model, summary, result, labels[0]),
        **sections.best_rated_section(best, data),
        **sections.map_section(model, data, best, method=options.map_method, n_best=options.n_best, seed=options.seed),
        **sections.users_section(result, split, n_users=options.n_users, k=options.k),
    }
    return ReportParts(context=context)


def _evaluate(
    model: Recommender, split: Split, labels: list[str], options: _Options
) -> tuple[Any, list[tuple[str, str]]]:
    """The run and the baselines (fitted on the training part, timed) evaluated on the same test users."""
    from embrec.evaluation import evaluate
    from embrec.models import create

    fitted: list[Recommender] = [model]
    timings: list[tuple[str, str]] = []
    for name in options.baselines:
        t0 = time.perf_counter()
        fitted.append(create(name).fit(split.train))
        timings.append((name, f"{time.perf_counter() - t0:.1f}"))
    result = evaluate(
        fitted,
        split,
        k=options.k,
        threshold=options.threshold,
        names=labels,
        n_resamples=options.n_resamples,
        seed=options.seed,
    )
    return result, timings


def render_report(parts: ReportParts) -> str:
    """The report's HTML from its computed parts (Jinja2, every value escaped)."""
    from importlib import resources

    import jinja2

    source = resources.files("embrec.report").joinpath(_TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(source).render(**parts.context)
