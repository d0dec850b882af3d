"""What an evaluation measured: per-user tables, summaries with intervals, list figures, writers.

:class:`EvaluationResult` holds one :class:`ModelEvaluation` per model (or per set of saved
lists), with paired comparisons and JSON, CSV and Markdown writers. Every table iterates the
metric catalogue (:mod:`embrec.evaluation.catalog`), so a new metric shows up everywhere.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from embrec.atomic import write_text
from embrec.errors import ConfigError, EmbrecError
from embrec.evaluation.catalog import (
    LIST_METRICS,
    PER_USER_METRICS,
    check_metric_names,
    list_figures,
    per_user_table,
)
from embrec.evaluation.context import ScoringContext
from embrec.evaluation.markdown import result_markdown
from embrec.evaluation.stats import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    ConfidenceInterval,
    bootstrap_ci,
    paired_comparison,
)

if TYPE_CHECKING:
    from embrec.evaluation.context import EvaluationContext
    from embrec.evaluation.rerank import Reranker

__all__ = ["ModelEvaluation", "EvaluationResult", "check_labels", "CATALOG_RULE", "RATED_PAIRS_RULE"]

#: Which items the catalogue of coverage and Gini holds (in the JSON beside ``catalog_items``).
CATALOG_RULE = "items with at least one training interaction"
#: Which test pairs RMSE and MAE score (in the JSON beside each model's ``rated_pairs``).
RATED_PAIRS_RULE = (
    "rated_pairs: test pairs whose user and item both have training data, scored by RMSE and MAE; "
    "cold_pairs: the other test pairs, not scored (both 0 for a model that predicts no ratings)"
)

#: The columns of :meth:`EvaluationResult.compare`, in order.
_COMPARISON_COLUMNS = (
    "model",
    "baseline",
    "metric",
    "n",
    "mean_baseline",
    "mean_model",
    "difference",
    "low",
    "high",
    "p_bootstrap",
    "p_wilcoxon",
)


def _jsonable(value: Any) -> Any:
    """Plain JSON values: NaN and infinity become ``null``, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return _json_scalar(value)


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def check_labels(names: Sequence[str], count: int, noun: str = "model") -> list[str]:
    """``names`` as text, one per ``noun`` and all different, or a :class:`ConfigError`."""
    if len(names) != count:
        raise ConfigError(f"got {len(names)} names for {count} {noun}s; give one name per {noun}.")
    if len(set(names)) != len(names):
        raise ConfigError(f"{noun} names {list(names)} repeat; give each {noun} its own name.")
    return [str(n) for n in names]


@dataclass
class ModelEvaluation:
    """One model's results (or those of one set of saved lists).

    Attributes:
        label: the name shown in reports (unique within a result).
        model: the model's registry name (``"lists"`` for lists scored by
            :func:`~embrec.evaluation.lists.evaluate_lists`).
        per_user: one row per evaluated user: ``user`` (the dataset's own id), the
            :data:`PER_USER_METRICS` (NaN where undefined, e.g. ``diversity`` without item
            vectors) and ``relevant`` (number of relevant test items).
        summary: mean and bootstrap interval of each per-user metric.
        lists: :data:`LIST_METRICS` (NaN where not applicable), ``rated_pairs`` (test pairs
            scored by RMSE and MAE: user and item with training data) and ``cold_pairs`` (test
            pairs left out because their user or item has no training data); both are 0 for a
            model that predicts no ratings.
        recs: ``(n_users, k)`` recommended item indexes (the data's vocabulary), rows as ``per_user``.
        scores: the model's scores of ``recs`` (``-inf`` for padding; NaN for saved lists
            without scores).
    """

    label: str
    model: str
    per_user: pd.DataFrame
    summary: dict[str, ConfidenceInterval]
    lists: dict[str, float]
    recs: NDArray[np.int64]
    scores: NDArray[np.float64]

    @classmethod
    def from_lists(
        cls,
        label: str,
        model: str,
        ctx: ScoringContext,
        *,
        user_ids: np.ndarray,
        scores: NDArray[np.float64],
        level: float,
        n_resamples: int,
        seed: int,
    ) -> ModelEvaluation:
        """Score the lists of ``ctx`` with every metric of the catalogue (rows: ``user_ids``)."""
        table = per_user_table(ctx, user_ids)
        summary = {
            metric: bootstrap_ci(
                table[metric].to_numpy(dtype=np.float64), level=level, n_resamples=n_resamples, seed=seed
            )
            for metric in PER_USER_METRICS
        }
        rated = 0 if ctx.predictions is None else int(ctx.predictions.size)
        lists: dict[str, float] = {**list_figures(ctx), "rated_pairs": rated, "cold_pairs": ctx.cold_pairs}
        return cls(label=label, model=model, per_user=table, summary=summary, lists=lists, recs=ctx.recs, scores=scores)

    def summary_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"model": self.label, "model_type": self.model, "users": len(self.per_user)}
        for metric in PER_USER_METRICS:
            ci = self.summary[metric]
            row[metric] = ci.mean
            row[f"{metric}_low"] = ci.low
            row[f"{metric}_high"] = ci.high
        for metric in LIST_METRICS:
            row[metric] = self.lists.get(metric, float("nan"))
        return row


@dataclass
class EvaluationResult:
    """Everything :func:`~embrec.evaluation.runner.evaluate` (or
    :func:`~embrec.evaluation.lists.evaluate_lists`) measured, with JSON, CSV and Markdown writers.

    Attributes:
        models: one :class:`ModelEvaluation` per model, in the order given.
        k: list length.
        threshold: lowest relevant test rating used, or ``None`` (every test item relevant).
        user_ids: the evaluated users (the dataset's own ids), the rows of every table.
        item_ids: the data's item ids, indexed by the item indexes in ``recs``.
        rerank: the re-ranker applied to every model, if any.
        split: the split's :meth:`~embrec.data.splits.Split.summary`.
        level: confidence level of the intervals.
        n_resamples: bootstrap resamples.
        seed: bootstrap seed.
        catalog_items: size of the catalogue of coverage and Gini, the items with at least one
            training interaction (:data:`CATALOG_RULE`).
    """

    models: list[ModelEvaluation]
    k: int
    threshold: float | None
    user_ids: np.ndarray
    item_ids: np.ndarray
    rerank: Reranker | None
    split: dict[str, Any]
    level: float = DEFAULT_LEVEL
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    catalog_items: int = 0
    _comparisons: dict[tuple[str, tuple[str, ...]], pd.DataFrame] = field(default_factory=dict, repr=False)

    @classmethod
    def from_context(
        cls,
        ctx: EvaluationContext,
        scored: Iterable[tuple[str, str, ScoringContext, NDArray[np.float64]]],
        *,
        rerank: Reranker | None = None,
        level: float = DEFAULT_LEVEL,
        n_resamples: int = DEFAULT_RESAMPLES,
        seed: int = 0,
    ) -> EvaluationResult:
        """Score each ``(label, model, lists, scores)`` of ``scored`` on the users of ``ctx``.

        ``lists`` is a :class:`ScoringContext` of ``ctx`` and ``scores`` the model's scores of its
        lists; each becomes a :class:`ModelEvaluation` with the same bootstrap settings. ``scored``
        is consumed one entry at a time, so a generator keeps one set of lists in memory.
        """
        models = [
            ModelEvaluation.from_lists(
                label,
                model,
                lists,
                user_ids=ctx.user_ids,
                scores=scores,
                level=level,
                n_resamples=n_resamples,
                seed=seed,
            )
            for label, model, lists, scores in scored
        ]
        return cls(
            models=models,
            k=ctx.k,
            threshold=ctx.threshold,
            user_ids=ctx.user_ids,
            item_ids=ctx.item_ids,
            rerank=rerank,
            split=ctx.split.summary(),
            level=level,
            n_resamples=n_resamples,
            seed=seed,
            catalog_items=ctx.catalog_items,
        )

    # ------------------------------------------------------------------ lookups
    def __getitem__(self, label: str | int) -> ModelEvaluation:
        if isinstance(label, int):
            return self.models[label]
        for m in self.models:
            if m.label == label:
                return m
        raise KeyError(f"no model labelled {label!r}; labels are {', '.join(m.label for m in self.models)}.")

    def summary_frame(self) -> pd.DataFrame:
        """One row per model: ``model``, ``model_type``, ``users``, each per-user metric with
        ``_low``/``_high`` interval columns, then the list-level figures."""
        return pd.DataFrame([m.summary_row() for m in self.models])

    def compare(self, baseline: str | int = 0, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Paired comparison of every other model against ``baseline`` over the same users.

        Returns one row per (model, metric) with ``model``, ``baseline``, ``metric``, ``n``,
        ``mean_baseline``, ``mean_model``, ``difference`` (model - baseline), ``low``, ``high``
        (bootstrap interval of the difference), ``p_bootstrap`` and ``p_wilcoxon``. Metrics
        undefined for either model (all NaN) are left out.
        """
        base = self[baseline]
        chosen = check_metric_names(metrics) if metrics is not None else PER_USER_METRICS
        key = (base.label, chosen)
        if key in self._comparisons:
            return self._comparisons[key].copy()
        rows = []
        for other in self.models:
            if other is base:
                continue
            for metric in chosen:
                a = base.per_user[metric].to_numpy(dtype=np.float64)
                b = other.per_user[metric].to_numpy(dtype=np.float64)
                if np.isnan(a).all() or np.isnan(b).all():
                    continue
                c = paired_comparison(a, b, level=self.level, n_resamples=self.n_resamples, seed=self.seed)
                stats = (c.n, c.mean_a, c.mean_b, c.difference, c.low, c.high, c.p_bootstrap, c.p_wilcoxon)
                rows.append((other.label, base.label, metric, *stats))
        frame = pd.DataFrame(rows, columns=list(_COMPARISON_COLUMNS))
        self._comparisons[key] = frame
        return frame.copy()

    def recommendations(self, label: str | int | None = None) -> pd.DataFrame:
        """The evaluated lists as ``user, item, rank, score`` (dataset ids; rank from 1).

        With ``label=None`` and several models, a leading ``model`` column holds each label.
        """
        chosen = self.models if label is None else [self[label]]
        frames = []
        for m in chosen:
            k = m.recs.shape[1]
            valid = m.recs.ravel() >= 0
            frame = pd.DataFrame(
                {
                    "user": np.repeat(self.user_ids, k)[valid],
                    "item": self.item_ids[m.recs.ravel()[valid]],
                    "rank": np.tile(np.arange(1, k + 1), len(self.user_ids))[valid],
                    "score": m.scores.ravel()[valid],
                }
            )
            if len(chosen) > 1:
                frame.insert(0, "model", m.label)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self, *, comparisons: bool = True) -> dict[str, Any]:
        """A JSON-ready summary (no per-user rows); NaN becomes ``null``."""
        out: dict[str, Any] = {
            "k": self.k,
            "threshold": self.threshold,
            "users": int(len(self.user_ids)),
            "users_rule": "test users with at least one relevant test item",
            "catalog_items": self.catalog_items,
            "catalog_rule": CATALOG_RULE,
            "rated_pairs_rule": RATED_PAIRS_RULE,
            "level": self.level,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "rerank": None if self.rerank is None else self.rerank.to_dict(),
            "split": self.split,
            "models": [
                {
                    "label": m.label,
                    "model": m.model,
                    "users": int(len(m.per_user)),
                    "metrics": {name: m.summary[name].to_dict() for name in PER_USER_METRICS},
                    "lists": dict(m.lists),
                }
                for m in self.models
            ],
        }
        if comparisons and len(self.models) > 1:
            out["comparisons"] = self.compare().to_dict(orient="records")
        return _jsonable(out)

    def to_json(self, *, comparisons: bool = True) -> str:
        return json.dumps(self.to_dict(comparisons=comparisons), indent=2, allow_nan=False) + "\n"

    def to_markdown(self, *, digits: int = 4) -> str:
        """A Markdown report: metrics as rows, models as columns, ``mean [lo, hi]`` per cell, then
        the paired comparisons against the first model when there are several."""
        return result_markdown(self, digits=digits)

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` atomically."""
        return write_text(path, self.to_json())

    def write_markdown(self, path: str | Path) -> Path:
        """Write :meth:`to_markdown` to ``path`` atomically."""
        return write_text(path, self.to_markdown())

    def write_csv(self, folder: str | Path) -> list[Path]:
        """Write ``summary.csv``, ``per_user_<label>.csv`` per model and (with several models)
        ``comparisons.csv`` into ``folder``, each file atomically. Returns the files."""
        folder = Path(folder).expanduser()
        if folder.exists() and not folder.is_dir():
            raise EmbrecError(f"folder={str(folder)!r} is a file, not a folder; give write_csv the path of a folder.")
        written = [write_text(folder / "summary.csv", self.summary_frame().to_csv(index=False))]
        for name, m in zip(_file_names(self.models), self.models, strict=True):
            written.append(write_text(folder / name, m.per_user.to_csv(index=False)))
        if len(self.models) > 1:
            written.append(write_text(folder / "comparisons.csv", self.compare().to_csv(index=False)))
        return written

    def write_recommendations(self, path: str | Path, label: str | int | None = None) -> Path:
        """Write :meth:`recommendations` as CSV to ``path`` atomically."""
        return write_text(path, self.recommendations(label).to_csv(index=False))


def _file_names(models: Sequence[ModelEvaluation]) -> list[str]:
    names: list[str] = []
    for m in models:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", m.label).strip("._") or "model"
        name, n = f"per_user_{base}.csv", 2
        while name in names:
            name, n = f"per_user_{base}-{n}.csv", n + 1
        names.append(name)
    return names
