"""Describe an :class:`Interactions` in numbers: sizes, density, rating histogram, activity, time span."""

from __future__ import annotations

from typing import Any

import numpy as np

from embrec.data.interactions import Interactions
from embrec.data.split_methods import utc_iso

__all__ = ["summarize", "count_stats"]

# above this many distinct rating values the histogram is binned instead of exact
_MAX_EXACT_VALUES = 50
_HIST_BINS = 10


def count_stats(counts: np.ndarray) -> dict[str, float]:
    """Spread of per-user or per-item counts: ``min, q25, median, q75, q90, max, mean``."""
    if len(counts) == 0:
        return dict.fromkeys(("min", "q25", "median", "q75", "q90", "max", "mean"), 0.0)
    q25, median, q75, q90 = np.quantile(counts, [0.25, 0.5, 0.75, 0.9])
    return {
        "min": int(counts.min()),
        "q25": float(q25),
        "median": float(median),
        "q75": float(q75),
        "q90": float(q90),
        "max": int(counts.max()),
        "mean": float(counts.mean()),
    }


def _histogram(ratings: np.ndarray) -> dict[Any, int]:
    values, counts = np.unique(ratings, return_counts=True)
    if len(values) <= _MAX_EXACT_VALUES:
        return {float(v): int(c) for v, c in zip(values, counts)}
    hist, edges = np.histogram(ratings, bins=_HIST_BINS)
    return {
        f"[{lo:g}, {hi:g}{']' if i == _HIST_BINS - 1 else ')'}": int(c)
        for i, (lo, hi, c) in enumerate(zip(edges[:-1], edges[1:], hist))
    }


def _items_with_metadata(data: Interactions) -> int:
    meta = data.item_metadata
    if meta is None or len(meta) == 0:
        return 0
    column = "title" if "title" in meta.columns else None
    present = meta[column].notna() if column else meta.notna().any(axis=1)
    return int(present.sum())


def summarize(data: Interactions) -> dict[str, Any]:
    """A JSON-ready description of the data.

    Keys: ``name``, ``n_ratings``, ``n_users``, ``n_items``, ``density``, ``implicit``,
    ``rating_scale`` (``[low, high]`` or ``None``), ``rating_histogram`` (rating value -> count;
    binned into 10 ranges with text keys when there are more than 50 distinct values; ``{}`` for
    implicit data), ``ratings_per_user`` and ``ratings_per_item`` (``min, q25, median, q75, q90,
    max, mean`` over the whole vocabulary), ``first_timestamp`` and ``last_timestamp`` (ISO 8601
    UTC, or ``None`` without timestamps), ``n_items_with_metadata`` (items with a title, or with
    any metadata when there is no title column) and ``metadata_columns``.
    """
    ratings = data.ratings
    timestamps = data.timestamps
    has_time = timestamps is not None and len(timestamps) > 0
    meta = data.item_metadata
    return {
        "name": data.name,
        "n_ratings": data.n_ratings,
        "n_users": data.n_users,
        "n_items": data.n_items,
        "density": data.density,
        "implicit": data.is_implicit,
        "rating_scale": None if data.rating_scale is None else [float(x) for x in data.rating_scale],
        "rating_histogram": {} if ratings is None or len(ratings) == 0 else _histogram(ratings),
        "ratings_per_user": count_stats(data.items_per_user()),
        "ratings_per_item": count_stats(data.users_per_item()),
        "first_timestamp": utc_iso(int(timestamps.min())) if has_time else None,  # type: ignore[union-attr]
        "last_timestamp": utc_iso(int(timestamps.max())) if has_time else None,  # type: ignore[union-attr]
        "n_items_with_metadata": _items_with_metadata(data),
        "metadata_columns": [] if meta is None else [str(c) for c in meta.columns],
    }
