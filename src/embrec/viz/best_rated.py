"""Best-rated films done right: a damped (Bayesian) mean instead of the raw average.

A film rated once with 5 stars has a raw mean of 5 and tops any list sorted by the mean;
ml-latest-small holds about 300 such films. The damped mean pulls each film's mean towards
the global mean C by ``m`` imaginary ratings::

    damped = v / (v + m) * R + m / (v + m) * C

where v is the film's number of ratings and R its raw mean. A film needs about ``m``
ratings before its own mean counts for half.

**How m is chosen.** By default m is the 0.90 quantile of the number of ratings per rated
film (27 on ml-latest-small): a film's own mean outweighs the prior only once it has as many
ratings as the 10% most-rated films, the rule of IMDb's Top 250 weighted rating (m = the
ratings needed to be listed). :func:`credibility_strength` gives the alternative that is
optimal for *estimating* each film's mean (Bühlmann credibility, m = within-film rating
variance / variance of the true film means, about 3.6 on ml-latest-small). It is too weak for
a *top* list: picking the 30 highest of ~9,000 noisy estimates selects the luckiest ones (the
winner's curse), so with m = 3.6 films with 5 to 8 ratings still reach the top 30. Pass
``m=`` to choose your own, and ``min_ratings=`` to drop films with too few ratings outright.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_QUANTILE",
    "BestRated",
    "best_rated",
    "credibility_strength",
    "damped_mean",
    "damping_strength",
    "item_rating_stats",
    "perfect_score_films",
]

#: Quantile of ratings per film used as the default damping strength ``m``.
DEFAULT_QUANTILE = 0.9


def _require_ratings(data: Interactions) -> NDArray[np.float64]:
    if not isinstance(data, Interactions):
        raise DataError(f"expected an Interactions (see load_data), got {type(data).__name__}.")
    if data.ratings is None:
        raise DataError(
            f"{data.name!r} has no ratings (implicit feedback), so films cannot be ranked by their mean rating; "
            "load data with a rating column."
        )
    if data.n_ratings == 0:
        raise DataError(f"{data.name!r} has no rows; there is nothing to rank.")
    return np.asarray(data.ratings, dtype=np.float64)


def item_rating_stats(data: Interactions) -> pd.DataFrame:
    """Per item of the vocabulary: ``item`` (the dataset's id), ``title``, ``year``, ``genres``,
    ``n_ratings`` and ``mean_rating`` (stars; NaN for an item without ratings).

    Rows are in item-index order, so row ``i`` describes item index ``i``. ``title`` falls back
    to the id as text, ``year`` is ``<NA>`` and ``genres`` empty when the data has no metadata.
    """
    ratings = _require_ratings(data)
    n = data.users_per_item()
    sums = np.bincount(data.items, weights=ratings, minlength=data.n_items)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, sums / np.maximum(n, 1), np.nan)
    meta = data.item_metadata
    year: Any = pd.array([pd.NA] * data.n_items, dtype="Int64")
    genres = [""] * data.n_items
    if meta is not None:
        if "year" in meta.columns:
            year = pd.array(pd.to_numeric(meta["year"], errors="coerce").to_numpy(dtype=np.float64), dtype="Int64")
        if "genres" in meta.columns:
            genres = ["" if not isinstance(g, str) else g for g in meta["genres"].tolist()]
    return pd.DataFrame(
        {
            "item": data.item_ids,
            "title": data.titles(range(data.n_items)),
            "year": year,
            "genres": genres,
            "n_ratings": n.astype(np.int64),
            "mean_rating": mean,
        }
    )


def damped_mean(n_ratings: ArrayLike, mean_rating: ArrayLike, m: float, global_mean: float) -> NDArray[np.float64]:
    """``v / (v + m) * R + m / (v + m) * C`` element-wise (NaN where v + m is 0).

    Args:
        n_ratings: v, each item's number of ratings.
        mean_rating: R, each item's raw mean (ignored where v is 0).
        m: damping strength, the number of imaginary ratings at the global mean (>= 0).
        global_mean: C, the mean of all ratings.
    """
    m = _check_m(m)
    v = np.asarray(n_ratings, dtype=np.float64)
    r = np.nan_to_num(np.asarray(mean_rating, dtype=np.float64), nan=0.0)
    total = v + m
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (v * r + m * float(global_mean)) / total
    return np.where(total > 0, out, np.nan)


def _check_m(m: Any) -> float:
    if (
        isinstance(m, bool)
        or not isinstance(m, (int, float, np.integer, np.floating))
        or not math.isfinite(float(m))
        or m < 0
    ):
        raise ConfigError(
            f"m must be a finite number of ratings >= 0, got {m!r}; pass for example m=25 (or leave it out)."
        )
    return float(m)


def damping_strength(data: Interactions, *, quantile: float = DEFAULT_QUANTILE) -> float:
    """The default ``m``: the ``quantile`` of the number of ratings per rated item."""
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0.0 <= quantile <= 1.0:
        raise ConfigError(f"quantile must be in [0, 1], got {quantile!r}; pass for example 0.9.")
    _require_ratings(data)
    n = data.users_per_item()
    return float(np.quantile(n[n > 0], quantile))


def credibility_strength(data: Interactions) -> float:
    """Bühlmann's credibility constant: within-item rating variance / variance of true item means.

    With this ``m`` the damped mean is the best linear estimate of each item's mean under the
    Bühlmann-Straub model (Bühlmann & Gisler, *A Course in Credibility Theory*, 2005, ch. 4):
    ``EPV`` is the pooled within-item variance, ``VHM`` the between-item variance of means
    corrected for noise. Returns ``inf`` when the items' means do not differ beyond noise.
    """
    ratings = _require_ratings(data)
    n = data.users_per_item().astype(np.float64)
    rated = n > 0
    sums = np.bincount(data.items, weights=ratings, minlength=data.n_items)
    sq = np.bincount(data.items, weights=ratings**2, minlength=data.n_items)
    nr, sr, qr = n[rated], sums[rated], sq[rated]
    means = sr / nr
    dof = float((nr - 1).sum())
    if dof <= 0 or rated.sum() < 2:
        raise DataError(f"{data.name!r} has too few repeated ratings to estimate the credibility constant.")
    epv = float((qr - nr * means**2).sum()) / dof
    total = float(nr.sum())
    grand = float(sr.sum()) / total
    denom = total - float((nr**2).sum()) / total
    vhm = (float((nr * (means - grand) ** 2).sum()) - (rated.sum() - 1) * epv) / denom
    return math.inf if vhm <= 0 else epv / vhm


@dataclass(frozen=True)
class BestRated:
    """The best-rated films by damped mean.

    Attributes:
        table: one row per film, best first: ``rank``, ``item``, ``title``, ``year``,
            ``genres``, ``n_ratings``, ``mean_rating`` (raw), ``damped_mean``.
        m: the damping strength used.
        m_rule: how ``m`` was chosen, in words.
        global_mean: C, the mean of all ratings.
        min_ratings: films with fewer ratings were left out.
        candidates: films that had at least ``min_ratings`` ratings.
    """

    table: pd.DataFrame
    m: float
    m_rule: str
    global_mean: float
    min_ratings: int
    candidates: int

    @property
    def item_ids(self) -> np.ndarray:
        """The listed films' ids, best first."""
        return self.table["item"].to_numpy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the settings and one record per film (NaN and ``<NA>`` become ``None``)."""
        records = []
        for row in self.table.to_dict(orient="records"):
            records.append(
                {k: (None if _missing(v) else (v.item() if hasattr(v, "item") else v)) for k, v in row.items()}
            )
        return {
            "m": self.m,
            "m_rule": self.m_rule,
            "global_mean": self.global_mean,
            "min_ratings": self.min_ratings,
            "candidates": self.candidates,
            "films": records,
        }


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def best_rated(
    data: Interactions,
    n: int = 30,
    *,
    m: float | None = None,
    quantile: float = DEFAULT_QUANTILE,
    min_ratings: int = 1,
    stats: pd.DataFrame | None = None,
) -> BestRated:
    """The ``n`` films with the highest damped mean rating.

    Args:
        data: ratings (explicit feedback).
        n: how many films to list.
        m: damping strength in imaginary ratings at the global mean; default the ``quantile``
            of ratings per rated film (see the module docstring for why).
        quantile: the quantile used when ``m`` is not given.
        min_ratings: leave out films with fewer ratings (applied after ``m`` is chosen, so it
            does not change ``m``).
        stats: :func:`item_rating_stats` of ``data``, when already computed.

    Ties are broken by more ratings, then by the item id, so the list is deterministic.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"n must be a positive number of films, got {n!r}; pass for example n=30.")
    if isinstance(min_ratings, bool) or not isinstance(min_ratings, (int, np.integer)) or min_ratings < 1:
        raise ConfigError(f"min_ratings must be an integer >= 1, got {min_ratings!r}.")
    ratings = _require_ratings(data)
    if m is None:
        used_m = damping_strength(data, quantile=quantile)
        rule = f"{quantile:g} quantile of ratings per film"
    else:
        used_m = _check_m(m)
        rule = "given"
    frame = item_rating_stats(data) if stats is None else stats
    c = float(ratings.mean())
    frame = frame.assign(damped_mean=damped_mean(frame["n_ratings"], frame["mean_rating"], used_m, c))
    eligible = frame[frame["n_ratings"] >= min_ratings]
    if eligible.empty:
        most = int(frame["n_ratings"].max())
        raise DataError(
            f"no film has min_ratings={min_ratings} ratings (the most-rated has {most}); lower min_ratings."
        )
    order = np.lexsort(
        (
            eligible["item"].astype(str).to_numpy(),
            -eligible["n_ratings"].to_numpy(),
            -eligible["damped_mean"].to_numpy(),
        )
    )
    top = eligible.iloc[order[:n]].reset_index(drop=True)
    top.insert(0, "rank", np.arange(1, len(top) + 1))
    return BestRated(
        table=top, m=used_m, m_rule=rule, global_mean=c, min_ratings=int(min_ratings), candidates=len(eligible)
    )


def perfect_score_films(data: Interactions) -> pd.DataFrame:
    """Films whose raw mean is the top of the rating scale, with how many ratings each has.

    Returns one row per number of ratings: ``n_ratings`` and ``films`` (how many perfect-score
    films have that many ratings), fewest ratings first. Their sum is the number of films a list
    sorted by the raw mean puts first.
    """
    ratings = _require_ratings(data)
    top = float(data.rating_scale[1]) if data.rating_scale is not None else float(ratings.max())
    stats = item_rating_stats(data)
    perfect = stats[np.isclose(stats["mean_rating"].to_numpy(dtype=np.float64), top)]
    counts = perfect["n_ratings"].value_counts().sort_index()
    return pd.DataFrame({"n_ratings": counts.index.to_numpy(dtype=np.int64), "films": counts.to_numpy(dtype=np.int64)})
