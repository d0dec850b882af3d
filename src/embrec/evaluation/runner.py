"""Evaluate one or more fitted models on a split: per-user tables, summaries with intervals.

:func:`evaluate` ranks every item for every evaluated user at once (``recommend_indexes`` scores
users in chunks; no Python loop per user), leaves out each user's training items, and scores
the top ``k`` with the pure functions of :mod:`embrec.metrics`.

Which users are evaluated: those with at least one *relevant* test item, i.e. a test rating
``>= threshold`` (for implicit data, or ``threshold=None``, every test item is relevant). A user
with nothing relevant to find would get NaN in every ranking metric anyway (see
``docs/metrics.md``); restricting all metrics to the same users keeps every per-user table, every
mean and every paired test over one population. Users with test rows but no training rows are
evaluated too (with a ``drop_unseen`` split they have no test rows).

Candidates are all items of the data's vocabulary except the user's training items, so the
catalogue of coverage and Gini is that vocabulary. Popularity (novelty, EPC, ARP) comes from
the training data only. RMSE and MAE (in stars) are computed over every test rating when a model
predicts ratings.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from embrec.data.splits import Split
from embrec.errors import ConfigError, DataError, EmbrecError
from embrec.evaluation.rerank import Reranker, genre_matrix, parse_reranker
from embrec.evaluation.stats import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    ConfidenceInterval,
    bootstrap_ci,
    format_interval,
    paired_comparison,
)
from embrec.metrics import (
    average_precision,
    average_recommendation_popularity,
    catalog_coverage,
    exercise_diversity,
    expected_popularity_complement,
    gini_index,
    hit,
    intra_list_diversity,
    item_popularity,
    mae,
    ndcg,
    novelty,
    personalization,
    precision,
    recall,
    reciprocal_rank,
    rmse,
)
from embrec.models.base import Recommender

__all__ = [
    "PER_USER_METRICS",
    "LIST_METRICS",
    "ModelEvaluation",
    "EvaluationResult",
    "evaluate",
    "atomic_write_text",
]

#: Per-user metrics, in table order (each summarised by a mean and a bootstrap interval).
PER_USER_METRICS: tuple[str, ...] = (
    "ndcg",
    "recall",
    "precision",
    "map",
    "mrr",
    "hit",
    "diversity",
    "genre_diversity",
    "novelty",
    "epc",
    "exercise_diversity",
)
#: Figures of the whole set of lists (or of all test ratings), without an interval.
LIST_METRICS: tuple[str, ...] = ("coverage", "gini", "arp", "personalization", "rmse", "mae")

_DESCRIPTIONS = {
    "ndcg": "NDCG@k",
    "recall": "recall@k",
    "precision": "precision@k",
    "map": "MAP@k",
    "mrr": "MRR@k",
    "hit": "hit rate@k",
    "diversity": "ILD, embedding cosine distance",
    "genre_diversity": "ILD, genre Jaccard distance",
    "novelty": "self-information (bits)",
    "epc": "expected popularity complement",
    "exercise_diversity": "exercise's scaled diversity",
    "coverage": "catalogue coverage",
    "gini": "Gini index of exposure",
    "arp": "average recommendation popularity",
    "personalization": "personalization",
    "rmse": "RMSE (stars)",
    "mae": "MAE (stars)",
}
_PREDICT_CHUNK = 1 << 20


# --------------------------------------------------------------------------- files
def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise EmbrecError(f"cannot write {str(path)!r}: it is a folder; give a file path.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise EmbrecError(f"cannot write {str(path)!r}: {exc.strerror or exc}.") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise EmbrecError(f"could not write {str(path)!r}: {exc.strerror or exc}; nothing was written.") from None
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _jsonable(value: Any) -> Any:
    """Plain JSON values: NaN and infinity become ``null``, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


# --------------------------------------------------------------------------- shared evaluation data
@dataclass
class _ModelView:
    """A model's indexes lined up with the split's vocabulary."""

    users: NDArray[np.int64]  # the model's index of each evaluated user
    to_split: NDArray[np.int64] | None  # split item index of each model item (None: identical)
    vectors: NDArray[np.float64] | None  # item vectors in split item order


@dataclass
class _EvalContext:
    """What every model is scored against: users, relevance, training popularity, genres."""

    split: Split
    k: int
    threshold: float | None
    users: NDArray[np.int64]
    truth: sp.csr_matrix
    item_user_counts: NDArray[np.int64]
    n_training_users: int
    genres: sp.csr_matrix | None

    @classmethod
    def build(cls, split: Split, *, k: int, threshold: float | None) -> "_EvalContext":
        if not isinstance(split, Split):
            raise DataError(f"evaluate takes a Split (see make_split), not {type(split).__name__}.")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"k must be a positive integer (the list length), got {k!r}; pass for example k=10.")
        test = split.test
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(float(threshold))
        ):
            raise ConfigError(f"threshold must be a finite rating or None, got {threshold!r}; pass for example 4.0.")
        used = None if test.ratings is None or threshold is None else float(threshold)
        keep = np.ones(test.n_ratings, dtype=bool) if used is None else test.ratings >= used  # type: ignore[operator]
        n_users, n_items = test.n_users, test.n_items
        rel = sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.bool_), (test.users[keep], test.items[keep])), shape=(n_users, n_items)
        )
        rel.sum_duplicates()
        users = np.flatnonzero(np.diff(rel.indptr) > 0).astype(np.int64)
        if users.size == 0:
            top = "" if test.ratings is None else f" (test ratings run from {test.ratings.min():g} to {test.ratings.max():g})"
            raise DataError(
                f"no test user has a relevant item: none of the {test.n_ratings:,} test ratings is >= threshold "
                f"{used:g}{top}; lower --threshold."
            )
        counts, n_train = item_popularity(split.train.to_csr("ones"))
        return cls(
            split=split,
            k=int(k),
            threshold=used,
            users=users,
            truth=rel[users],
            item_user_counts=counts,
            n_training_users=n_train,
            genres=genre_matrix(split.train.item_metadata),
        )

    @property
    def user_ids(self) -> np.ndarray:
        return self.split.train.user_ids[self.users]

    @property
    def n_items(self) -> int:
        return self.split.train.n_items

    def align(self, model: Recommender) -> _ModelView:
        """Line ``model`` up with the split, or explain why it was trained on other data."""
        label = getattr(model, "name", type(model).__name__)
        if not model.is_fitted:
            raise DataError(f"model {label!r} is not fitted; fit it on split.train (or load a run) before evaluating.")
        data_items = self.split.train.item_ids
        model_items = np.asarray(model.item_ids_)
        to_split: NDArray[np.int64] | None = None
        if not (len(model_items) == len(data_items) and np.array_equal(model_items, data_items)):
            to_split = pd.Index(data_items).get_indexer(model_items).astype(np.int64)
            if (to_split < 0).any():
                missing = model_items[to_split < 0]
                raise DataError(
                    f"model {label!r} knows {missing.size:,} item id(s) not in the evaluation data (such as "
                    f"{missing[0]!r}): it was trained on other data. Evaluate it on the data and split it was trained on."
                )
        users = pd.Index(np.asarray(model.user_ids_)).get_indexer(self.user_ids).astype(np.int64)
        if (users < 0).any():
            missing = self.user_ids[users < 0]
            raise DataError(
                f"model {label!r} does not know {missing.size:,} evaluated user id(s) (such as {missing[0]!r}): "
                "it was trained on other data. Evaluate it on the data and split it was trained on."
            )
        raw = model.item_vectors()
        vectors = None
        if raw is not None:
            raw = np.asarray(raw, dtype=np.float64)
            if to_split is None:
                vectors = raw
            else:
                vectors = np.zeros((self.n_items, raw.shape[1]))
                vectors[to_split] = raw
        return _ModelView(users=users, to_split=to_split, vectors=vectors)

    def rank(self, model: Recommender, n: int, view: _ModelView | None = None) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Top-``n`` items (split indexes, ``-1`` padding) and scores of every evaluated user."""
        view = view or self.align(model)
        items, scores = model.recommend_indexes(view.users, n, exclude_seen=True)
        items = np.asarray(items, dtype=np.int64)
        if view.to_split is not None:
            items = np.where(items >= 0, view.to_split[np.where(items >= 0, items, 0)], -1)
        return items, np.asarray(scores, dtype=np.float64)


def _nan_column(n: int) -> NDArray[np.float64]:
    return np.full(n, np.nan)


def _per_user_table(
    recs: NDArray[np.int64], model: Recommender, ctx: _EvalContext, view: _ModelView | None = None
) -> pd.DataFrame:
    view = view or ctx.align(model)
    truth, k, n = ctx.truth, ctx.k, len(ctx.users)
    counts, n_train = ctx.item_user_counts, ctx.n_training_users
    vectors = view.vectors
    columns: dict[str, Any] = {
        "user": ctx.user_ids,
        "ndcg": ndcg(recs, truth, k=k),
        "recall": recall(recs, truth, k=k),
        "precision": precision(recs, truth, k=k),
        "map": average_precision(recs, truth, k=k),
        "mrr": reciprocal_rank(recs, truth, k=k),
        "hit": hit(recs, truth, k=k),
        "diversity": _nan_column(n) if vectors is None else intra_list_diversity(recs, vectors, metric="cosine", k=k),
        "genre_diversity": (
            _nan_column(n) if ctx.genres is None else intra_list_diversity(recs, ctx.genres, metric="jaccard", k=k)
        ),
        "novelty": novelty(recs, counts, n_train, k=k),
        "epc": expected_popularity_complement(recs, counts, n_train, truth=truth, k=k),
        "exercise_diversity": _nan_column(n) if vectors is None else exercise_diversity(recs, vectors, k=k),
        "relevant": np.diff(truth.indptr).astype(np.int64),
    }
    return pd.DataFrame(columns)


def _list_metrics(recs: NDArray[np.int64], ctx: _EvalContext) -> dict[str, float]:
    catalog = np.arange(ctx.n_items)
    return {
        "coverage": catalog_coverage(recs, catalog, k=ctx.k),
        "gini": gini_index(recs, catalog, k=ctx.k) if ctx.n_items >= 2 else float("nan"),
        "arp": average_recommendation_popularity(recs, ctx.item_user_counts, k=ctx.k),
        "personalization": personalization(recs, k=ctx.k),
    }


def _rating_metrics(model: Recommender, ctx: _EvalContext) -> dict[str, float]:
    nan = {"rmse": float("nan"), "mae": float("nan"), "rated_pairs": 0}
    test = ctx.split.test
    if not bool(model.predicts_ratings) or test.ratings is None:
        return nan
    users = pd.Index(np.asarray(model.user_ids_)).get_indexer(test.user_ids[test.users])
    items = pd.Index(np.asarray(model.item_ids_)).get_indexer(test.item_ids[test.items])
    known = (users >= 0) & (items >= 0)
    if not known.any():
        return nan
    u, i = users[known].astype(np.int64), items[known].astype(np.int64)
    pred = np.concatenate(
        [np.asarray(model._predict_indexes(u[s : s + _PREDICT_CHUNK], i[s : s + _PREDICT_CHUNK]), dtype=np.float64)
         for s in range(0, u.size, _PREDICT_CHUNK)]
    )
    truth = test.ratings[known]
    return {"rmse": rmse(pred, truth), "mae": mae(pred, truth), "rated_pairs": int(known.sum())}


# --------------------------------------------------------------------------- results
@dataclass
class ModelEvaluation:
    """One model's results.

    Attributes:
        label: the name shown in reports (unique within a result).
        model: the model's registry name.
        per_user: one row per evaluated user: ``user`` (the dataset's own id), the
            :data:`PER_USER_METRICS` (NaN where undefined, e.g. ``diversity`` without item
            vectors) and ``relevant`` (number of relevant test items).
        summary: mean and bootstrap interval of each per-user metric.
        lists: :data:`LIST_METRICS` (NaN where not applicable) and ``rated_pairs``.
        recs: ``(n_users, k)`` recommended item indexes (the data's vocabulary), rows as ``per_user``.
        scores: the model's scores of ``recs`` (``-inf`` for padding).
    """

    label: str
    model: str
    per_user: pd.DataFrame
    summary: dict[str, ConfidenceInterval]
    lists: dict[str, float]
    recs: NDArray[np.int64]
    scores: NDArray[np.float64]

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
    """Everything :func:`evaluate` measured, with JSON, CSV and Markdown writers.

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
    _comparisons: dict[tuple[str, tuple[str, ...]], pd.DataFrame] = field(default_factory=dict, repr=False)

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
        chosen = tuple(metrics) if metrics is not None else PER_USER_METRICS
        unknown = [m for m in chosen if m not in PER_USER_METRICS]
        if unknown:
            raise ConfigError(f"unknown metric {unknown[0]!r}; choose from {', '.join(PER_USER_METRICS)}.")
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
                cmp = paired_comparison(a, b, level=self.level, n_resamples=self.n_resamples, seed=self.seed)
                rows.append(
                    {
                        "model": other.label,
                        "baseline": base.label,
                        "metric": metric,
                        "n": cmp.n,
                        "mean_baseline": cmp.mean_a,
                        "mean_model": cmp.mean_b,
                        "difference": cmp.difference,
                        "low": cmp.low,
                        "high": cmp.high,
                        "p_bootstrap": cmp.p_bootstrap,
                        "p_wilcoxon": cmp.p_wilcoxon,
                    }
                )
        columns = ["model", "baseline", "metric", "n", "mean_baseline", "mean_model", "difference", "low", "high",
                   "p_bootstrap", "p_wilcoxon"]
        frame = pd.DataFrame(rows, columns=columns)
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
        return _jsonable(out)  # type: ignore[no-any-return]

    def to_json(self, *, comparisons: bool = True) -> str:
        return json.dumps(self.to_dict(comparisons=comparisons), indent=2, allow_nan=False) + "\n"

    def to_markdown(self, *, digits: int = 4) -> str:
        """A Markdown report: metrics as rows, models as columns, ``mean [lo, hi]`` per cell, then
        the paired comparisons against the first model when there are several."""
        pct = f"{self.level:.0%}"
        rel = "every test item" if self.threshold is None else f"test rating >= {self.threshold:g}"
        lines = [
            f"# Evaluation at k = {self.k}",
            "",
            f"{len(self.user_ids):,} users with at least one relevant test item (relevant: {rel}); "
            f"{pct} bootstrap intervals ({self.n_resamples} resamples, seed {self.seed})"
            + (f"; re-ranked with {self.rerank}" if self.rerank is not None else "")
            + ".",
            "",
        ]
        labels = [_md(m.label) for m in self.models]
        lines.append("| metric | " + " | ".join(labels) + " |")
        lines.append("|---|" + "---|" * len(labels))
        for metric in PER_USER_METRICS:
            cells = [format_interval(m.summary[metric].mean, m.summary[metric].low, m.summary[metric].high, digits)
                     for m in self.models]
            if all(c == "-" for c in cells):
                continue
            lines.append(f"| {metric} ({_DESCRIPTIONS[metric]}) | " + " | ".join(cells) + " |")
        for metric in LIST_METRICS:
            values = [m.lists.get(metric, float("nan")) for m in self.models]
            if all(not math.isfinite(v) for v in values):
                continue
            cells = [f"{v:.{digits}f}" if math.isfinite(v) else "-" for v in values]
            lines.append(f"| {metric} ({_DESCRIPTIONS[metric]}) | " + " | ".join(cells) + " |")
        if len(self.models) > 1:
            cmp = self.compare()
            lines += [
                "",
                f"## Paired comparison against {_md(self.models[0].label)}",
                "",
                "| model | metric | difference | p (bootstrap) | p (Wilcoxon) |",
                "|---|---|---|---|---|",
            ]
            for row in cmp.itertuples(index=False):
                lines.append(
                    f"| {_md(str(row.model))} | {row.metric} | "
                    f"{format_interval(row.difference, row.low, row.high, digits)} | "
                    f"{_p(row.p_bootstrap)} | {_p(row.p_wilcoxon)} |"
                )
        return "\n".join(lines) + "\n"

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` atomically."""
        return atomic_write_text(path, self.to_json())

    def write_markdown(self, path: str | Path) -> Path:
        """Write :meth:`to_markdown` to ``path`` atomically."""
        return atomic_write_text(path, self.to_markdown())

    def write_csv(self, folder: str | Path) -> list[Path]:
        """Write ``summary.csv``, ``per_user_<label>.csv`` per model and (with several models)
        ``comparisons.csv`` into ``folder``, each file atomically. Returns the files."""
        folder = Path(folder).expanduser()
        if folder.exists() and not folder.is_dir():
            raise EmbrecError(f"--csv {str(folder)!r} exists and is not a folder; give a folder path.")
        written = [atomic_write_text(folder / "summary.csv", self.summary_frame().to_csv(index=False))]
        for name, m in zip(_file_names(self.models), self.models):
            written.append(atomic_write_text(folder / name, m.per_user.to_csv(index=False)))
        if len(self.models) > 1:
            written.append(atomic_write_text(folder / "comparisons.csv", self.compare().to_csv(index=False)))
        return written

    def write_recommendations(self, path: str | Path, label: str | int | None = None) -> Path:
        """Write :meth:`recommendations` as CSV to ``path`` atomically."""
        return atomic_write_text(path, self.recommendations(label).to_csv(index=False))


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _p(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _file_names(models: Sequence[ModelEvaluation]) -> list[str]:
    names: list[str] = []
    for m in models:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", m.label).strip("._") or "model"
        name, n = f"per_user_{base}.csv", 2
        while name in names:
            name, n = f"per_user_{base}-{n}.csv", n + 1
        names.append(name)
    return names


def _labels(models: Sequence[Recommender], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        if len(names) != len(models):
            raise ConfigError(f"got {len(names)} names for {len(models)} models; give one name per model.")
        if len(set(names)) != len(names):
            raise ConfigError(f"model names {list(names)} repeat; give each model its own name.")
        return [str(n) for n in names]
    labels: list[str] = []
    for m in models:
        base = str(getattr(m, "name", type(m).__name__))
        label, n = base, 2
        while label in labels:
            label, n = f"{base}#{n}", n + 1
        labels.append(label)
    return labels


# --------------------------------------------------------------------------- the entry point
def evaluate(
    models: Sequence[Recommender] | Recommender,
    split: Split,
    *,
    k: int = 10,
    threshold: float | None = 4.0,
    rerank: Reranker | str | None = None,
    names: Sequence[str] | None = None,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> EvaluationResult:
    """Score fitted models on ``split.test``: per-user tables, means with intervals, list figures.

    Every evaluated user (one with at least one relevant test item) gets a top-``k`` list from
    all items except their training items, ranked for all users at once. Per-user metrics:
    NDCG, recall, precision, MAP, MRR, hit (relevance from the test ratings), ``diversity``
    (intra-list cosine distance of the model's item vectors; NaN without them),
    ``genre_diversity`` (intra-list Jaccard distance of genre sets; NaN without genres),
    ``novelty`` (self-information from training popularity), ``epc`` (relevance-aware expected
    popularity complement) and ``exercise_diversity``. Each is summarised by its mean over users
    and a bootstrap percentile interval. List figures: catalogue coverage and Gini over the whole
    item vocabulary, ARP, personalization, and RMSE/MAE in stars over all test ratings for models
    that predict ratings.

    Args:
        models: fitted recommenders (or one), trained on ``split.train``'s vocabulary.
        split: the split to evaluate on.
        k: list length.
        threshold: lowest relevant test rating; ``None`` (or implicit data) makes every test
            item relevant.
        rerank: a :class:`~embrec.evaluation.rerank.Reranker` (or text such as ``"mmr:0.3"``)
            applied to each model's top ``rerank.candidates`` before cutting to ``k``.
        names: labels of the models in reports (default: their registry names, numbered when
            repeated).
        level: confidence level of the intervals.
        n_resamples: bootstrap resamples.
        seed: bootstrap seed (same seed, same intervals).

    Returns:
        An :class:`EvaluationResult`.

    Raises:
        DataError: no test user has a relevant item, or a model does not know the data's users
            or items (it was trained on other data).
        ConfigError: a bad ``k``, ``threshold``, ``rerank`` or bootstrap setting.
    """
    model_list = [models] if isinstance(models, Recommender) else list(models)
    if not model_list:
        raise ConfigError("no model to evaluate; pass one fitted model or a list of them.")
    for m in model_list:
        if not isinstance(m, Recommender):
            raise ConfigError(f"evaluate takes Recommender models, got {type(m).__name__}.")
    labels = _labels(model_list, names)
    reranker = parse_reranker(rerank) if isinstance(rerank, str) else rerank
    if reranker is not None and not isinstance(reranker, Reranker):
        raise ConfigError(f"rerank must be a Reranker or text such as 'mmr:0.3', got {type(reranker).__name__}.")
    ctx = _EvalContext.build(split, k=k, threshold=threshold)
    results = []
    for label, model in zip(labels, model_list):
        view = ctx.align(model)
        if reranker is None:
            recs, scores = ctx.rank(model, ctx.k, view)
        else:
            cand, cand_scores = ctx.rank(model, max(ctx.k, reranker.candidates), view)
            recs = reranker.apply(
                model, split.train, cand, cand_scores, ctx.k, item_vectors=view.vectors,
                item_user_counts=ctx.item_user_counts, n_training_users=ctx.n_training_users,
            )
            scores = _scores_of(recs, cand, cand_scores)
        table = _per_user_table(recs, model, ctx, view)
        summary = {
            metric: bootstrap_ci(table[metric].to_numpy(dtype=np.float64), level=level, n_resamples=n_resamples, seed=seed)
            for metric in PER_USER_METRICS
        }
        lists: dict[str, float] = {**_list_metrics(recs, ctx), **_rating_metrics(model, ctx)}
        results.append(
            ModelEvaluation(label=label, model=str(model.name), per_user=table, summary=summary, lists=lists,
                            recs=recs, scores=scores)
        )
    return EvaluationResult(
        models=results,
        k=ctx.k,
        threshold=ctx.threshold,
        user_ids=ctx.user_ids,
        item_ids=split.train.item_ids,
        rerank=reranker,
        split=split.summary(),
        level=level,
        n_resamples=n_resamples,
        seed=seed,
    )


def _scores_of(recs: NDArray[np.int64], cand: NDArray[np.int64], scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """The model's score of each re-ranked item (``-inf`` for padding)."""
    out = np.full(recs.shape, -np.inf)
    step = max(1, (1 << 22) // max(1, recs.shape[1] * cand.shape[1]))
    for start in range(0, recs.shape[0], step):
        r, c = recs[start : start + step], cand[start : start + step]
        pos = (r[:, :, None] == c[:, None, :]).argmax(axis=2)
        picked = np.take_along_axis(scores[start : start + step], pos, axis=1)
        out[start : start + step] = np.where(r >= 0, picked, -np.inf)
    return out
