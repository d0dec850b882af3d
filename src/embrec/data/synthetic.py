"""Planted synthetic data: MovieLens-shaped ratings drawn from a known low-rank model.

:func:`planted` makes an :class:`~embrec.data.interactions.Interactions` in memory together with
the :class:`Truth` it was drawn from; :func:`write_planted` also writes it to a folder
(``ratings.parquet``, ``truth.json``, ``truth.npz``) that ``embrec train --data`` and
:func:`embrec.load_data` read as they are, and :func:`read_truth` reads the truth back.

What is planted (``docs/synthetic.md`` has the figures and how to use them):

* **The model.** ``score(u, i) = global_mean + user_bias[u] + item_bias[i] + user_factors[u] @
  item_factors[i]``, with Gaussian biases and factors (``rank`` columns, scaled so the dot
  product has standard deviation :data:`FACTOR_SD` whatever the rank). Items fall in
  :data:`GROUPS` groups (think genres): an item's factors are its group's plus its own.
* **Who rates how much.** Every user has at least the edition's minimum (20, as on MovieLens;
  fewer only when ``rows`` leaves less) and the rest of the rows are shared out in proportion to
  log-normal weights, so activity is heavy-tailed.
* **Which items.** Each user draws items without replacement in proportion to
  ``v[u, i] = item_weight[i] * exp(user_factors[u] @ group_factors[group[i]] / (FACTOR_SD * temperature))``:
  popularity times the user's taste for the item's group. Popularity weights are
  ``exp(-(r / s) ** b)`` of a random popularity rank ``r``, with ``s`` and ``b`` chosen per
  edition so that the most-rated item's share, the median rows per item and the share of items
  with one row come near the real edition's (a long tail). Where ``rows`` allows, every item
  gets at least one row: an item the draws missed takes the place of a random row of an item
  that has more than one.
* **Ratings.** ``clip(round_to_step(score + noise * N(0, 1)))`` on the edition's scale (half
  stars 0.5-5 for ml-20m and ml-25m, whole stars 1-5 for ml-1m and ml-100k). Users rate what
  they chose, so, as on MovieLens, observed ratings lean high.
* **Implicit feedback** (``implicit=True``): the same rows without the rating column (the same
  seed gives the same pairs).
* **Times.** Each user rates within an active period inside the edition's years; a user's rows
  have strictly increasing timestamps in the order their items were drawn (popular and liked
  items tend to come first), so temporal splits work.

Everything is drawn from ``numpy.random.SeedSequence(seed)``: the same settings give the same
rows, bit for bit. The work is vectorised and chunked by users (no Python loop over rows).
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from scipy.special import ndtr

from embrec.atomic import folder as atomic_folder
from embrec.data.interactions import Interactions
from embrec.data.quoting import quoted
from embrec.data.splits import make_split
from embrec.errors import ConfigError, DataError, EmbrecError, UnknownIdError
from embrec.metrics.ranking import mean_over_users, ndcg, recall
from embrec.ranking import top_n

__all__ = [
    "DEFAULT_NOISE",
    "DEFAULT_RANK",
    "DEFAULT_TEMPERATURE",
    "PLANTED_FILES",
    "SHAPES",
    "PlantedSettings",
    "Shape",
    "Truth",
    "planted",
    "read_truth",
    "save_planted",
    "truth_figures",
    "write_planted",
]

log = logging.getLogger(__name__)

DEFAULT_RANK = 16
DEFAULT_NOISE = 0.8
DEFAULT_TEMPERATURE = 0.4
#: The planted model's spread: the standard deviations of the user bias, the item bias and the
#: factors' dot product (chosen so ratings spread about as MovieLens's do).
USER_BIAS_SD, ITEM_BIAS_SD, FACTOR_SD = 0.45, 0.5, 0.8
#: Item groups, and the share of an item's factor variance that is its group's.
GROUPS, GROUP_SHARE = 32, 0.6
#: The ranking protocol of truth.json: embrec's default split, relevance and list lengths.
PROTOCOL_SEED, PROTOCOL_TEST_FRACTION, RELEVANT_RATING = 42, 0.1, 4.0
NDCG_AT, RECALL_AT = 10, 20
#: At most this many test users are ranked for truth.json (sampled with PROTOCOL_SEED).
MAX_RANKED_USERS = 10_000
#: What a planted folder holds.
PLANTED_FILES = ("ratings.parquet", "truth.json", "truth.npz")
FORMAT = "embrec-planted"
FORMAT_VERSION = 1
#: truth.json's keys other than the figures.
_BASE_KEYS = frozenset(
    ("format", "version", "generator", "shape", "rows", "seed", "implicit", "rank", "noise", "temperature")
    + ("users", "items", "rating_scale", "rating_step", "model")
)
_ARRAYS = (
    "user_ids",
    "item_ids",
    "user_bias",
    "item_bias",
    "user_factors",
    "item_factors",
    "item_groups",
    "group_factors",
    "item_weights",
)

_MAX_RANK = 1024
_MAX_SEED = 2**63 - 1
_USERS_PER_CHUNK = 2048  # fixed, so chunking never changes what a seed gives
_ROWS_PER_CHUNK = 1 << 20
_ROUNDS = 4  # rounds of draws with replacement before a user still short races for the rest
_RACE_BLOCK = 64  # users whose clocks race over the whole catalogue at once
_RANKED_PER_BATCH = 256  # users whose scores of every item the truth's rankings hold at once
_PARQUET_ROW_GROUP = 1 << 20
_WORKERS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


@dataclass(frozen=True)
class Shape:
    """A MovieLens edition's size and feel, as the planted data copies it.

    Attributes:
        name: the edition (``"ml-25m"``).
        n_users, n_items, n_ratings: the real edition's users, rated items and ratings.
        rating_scale: lowest and highest rating; ``rating_step``: their spacing.
        min_rows: fewest rows per user (20 on MovieLens).
        activity_sigma: spread of the log-normal weights that share out rows among users.
        popularity_scale, popularity_exponent: ``s`` and ``b`` of the popularity weights
            ``exp(-(rank / s) ** b)``.
        start, end: the first and last Unix second of the edition's ratings.
        global_mean: the planted model's mean score, chosen so that the mean observed rating
            comes near the edition's (users choose what they like, so observed ratings lean high).
    """

    name: str
    n_users: int
    n_items: int
    n_ratings: int
    rating_scale: tuple[float, float]
    rating_step: float
    min_rows: int
    activity_sigma: float
    popularity_scale: float
    popularity_exponent: float
    start: int
    end: int
    global_mean: float


# Activity: log-normal spreads from the editions' mean and median rows per user. Popularity: scale and
# exponent chosen (with the default temperature) to bring the top item's share, the median rows per
# item and the share of items with one row near the edition's (docs/synthetic.md has both).
_YEARS = {  # the first and last rating of each edition, in Unix seconds
    "ml-25m": (789_652_009, 1_574_327_703),
    "ml-20m": (789_652_009, 1_427_784_002),
    "ml-1m": (956_703_932, 1_046_454_590),
    "ml-100k": (874_724_710, 893_286_638),
}
SHAPES: dict[str, Shape] = {
    shape.name: shape
    for shape in (
        # name, users, items, ratings, scale, step, min rows, activity, popularity s and b, years, mean score
        Shape("ml-25m", 162_541, 59_047, 25_000_095, (0.5, 5.0), 0.5, 20, 1.39, 40.0, 0.35, *_YEARS["ml-25m"], 2.79),
        Shape("ml-20m", 138_493, 26_744, 20_000_263, (0.5, 5.0), 0.5, 20, 1.38, 100.0, 0.47, *_YEARS["ml-20m"], 2.91),
        Shape("ml-1m", 6_040, 3_706, 1_000_209, (1.0, 5.0), 1.0, 20, 1.0, 150.0, 0.6, *_YEARS["ml-1m"], 3.05),
        Shape("ml-100k", 943, 1_682, 100_000, (1.0, 5.0), 1.0, 20, 1.0, 130.0, 0.8, *_YEARS["ml-100k"], 3.02),
    )
}


@dataclass(frozen=True)
class PlantedSettings:
    """Everything that decides the planted data; equal settings give equal data.

    Attributes:
        shape: the MovieLens edition copied (a key of :data:`SHAPES`).
        rows: rows drawn.
        seed: the seed of every random draw.
        implicit: implicit feedback (no ratings) instead of ratings.
        rank: columns of the planted factors.
        noise: standard deviation of the Gaussian noise on ratings (``None`` for implicit).
        temperature: how strongly users' choice of items follows their taste for the items'
            groups; smaller is stronger.
    """

    shape: str
    rows: int
    seed: int
    implicit: bool
    rank: int
    noise: float | None
    temperature: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False, repr=False)
class Truth:
    """The model planted data was drawn from, and what a perfect model reaches on it.

    Arrays are aligned with the :class:`Interactions` drawn with it: row ``u`` of
    ``user_factors`` is user index ``u`` (user id ``user_ids[u]``), row ``i`` of ``item_factors``
    is item index ``i``. Methods take those indexes (:meth:`predict` takes ids).

    Attributes:
        settings: what the data was drawn with.
        user_ids, item_ids: the external ids of the user and item indexes.
        global_mean: the planted mean score.
        user_bias, item_bias: planted biases, ``float32``.
        user_factors, item_factors: planted factors, ``(n, rank)`` ``float32``.
        item_groups: each item's group; ``group_factors``: the groups' factors, ``(GROUPS, rank)``.
        item_weights: the popularity weights items were drawn by.
        rating_scale: ``(lowest, highest)``, or ``None`` for implicit data; ``rating_step``: their spacing.
        figures: what truth.json reports beside the settings: the noise floor, the truth's own
            ranking metrics and the protocol they were measured on (see :func:`truth_figures`).
    """

    settings: PlantedSettings
    user_ids: np.ndarray
    item_ids: np.ndarray
    global_mean: float
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    item_groups: np.ndarray
    group_factors: np.ndarray
    item_weights: np.ndarray
    rating_scale: tuple[float, float] | None
    rating_step: float | None
    figures: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.settings
        kind = "implicit" if s.implicit else f"ratings {self.rating_scale}, noise {s.noise:g}"
        return (
            f"<Truth {s.shape} seed {s.seed}: {s.rows:,} rows, {len(self.user_ids):,} users, "
            f"{len(self.item_ids):,} items, rank {s.rank}, {kind}>"
        )

    # ------------------------------------------------------------------ ratings
    def score(self, users: Any, items: Any) -> np.ndarray:
        """The planted score of aligned user and item indexes: ``mean + biases + factors' dot product``."""
        u = np.asarray(users, dtype=np.int64)
        i = np.asarray(items, dtype=np.int64)
        dot = np.einsum("ij,ij->i", self.user_factors[u], self.item_factors[i])
        return (np.float32(self.global_mean) + self.user_bias[u] + self.item_bias[i] + dot).astype(np.float32)

    def noiseless_rating(self, users: Any, items: Any) -> np.ndarray:
        """The planted rating without noise: the score clipped to the scale (what ``noise_floor_rmse`` scores)."""
        lo, hi = self._scale()
        return np.clip(self.score(users, items), lo, hi)

    def expected_rating(self, users: Any, items: Any) -> np.ndarray:
        """The mean observed rating of aligned indexes, noise, rounding and clipping averaged out.

        No rating model can do better in expectation (this reaches ``best_rmse``).
        """
        return _expected_rating(self.score(users, items), self._scale(), self._step(), self._noise())

    def predict(self, user_ids: Any, item_ids: Any) -> np.ndarray:
        """:meth:`noiseless_rating` of aligned external user and item ids."""
        return self.noiseless_rating(_index(self.user_ids, user_ids, "user"), _index(self.item_ids, item_ids, "item"))

    # ------------------------------------------------------------------ rankings (each a ScoreFn for top_n)
    def preference(self, users: Any, *, out: torch.Tensor | None = None) -> torch.Tensor:
        """``item_bias + user_factors @ item_factors`` of every item for user indexes, ``(len(users), n_items)``.

        Within a user this orders items as the planted score does. ``out``: a float32 tensor of
        that shape to write into (reused by batch after batch, it saves the pages of a new one).
        """
        return torch.addmm(self._items["bias"], self._users(users), self._items["factors"].T, out=out)

    def choice(self, users: Any, *, out: torch.Tensor | None = None) -> torch.Tensor:
        """``log v[u, i]``, the log weight by which user ``u`` draws item ``i``, ``(len(users), n_items)``:
        ``log(item_weight[i]) + user_factors[u] @ group_factors[group[i]] / (FACTOR_SD * temperature)``."""
        taste = self._users(users) / (FACTOR_SD * self.settings.temperature)
        return torch.addmm(self._items["log_weight"], taste, self._items["groups"].T, out=out)

    def relevance(
        self, users: Any, *, out: torch.Tensor | None = None, work: torch.Tensor | None = None
    ) -> torch.Tensor:
        """How likely each item is to be a relevant test item, on a log scale, ``(len(users), n_items)``.

        Implicit: :meth:`choice` (an item drawn with a larger weight is likelier among a user's
        rows, so likelier held out). Ratings: :meth:`choice` ``+ log P(observed rating >= 4)``,
        which ranks by which items a user rates as well as how. ``out`` and ``work``: float32
        tensors of that shape to write into, as for :meth:`preference`.
        """
        choice = self.choice(users, out=out)
        if self.settings.implicit:
            return choice
        idx = np.asarray(users, dtype=np.int64)
        own = torch.from_numpy((self.global_mean + self.user_bias[idx]).astype(np.float32))
        cut = _relevance_cut(self._scale(), self._step())
        z = self.preference(idx, out=work).add_((own - cut)[:, None]).div_(self._noise())
        # log(ndtr) is half the cost of log_ndtr; where it underflows the item is out of reach anyway
        return choice.add_(torch.special.ndtr(z, out=z).clamp_min_(1e-37).log_())

    def _users(self, users: Any) -> torch.Tensor:
        return torch.from_numpy(self.user_factors[np.asarray(users, dtype=np.int64)])

    @cached_property
    def _items(self) -> dict[str, torch.Tensor]:
        return {
            "factors": torch.from_numpy(np.ascontiguousarray(self.item_factors, dtype=np.float32)),
            "bias": torch.from_numpy(np.ascontiguousarray(self.item_bias, dtype=np.float32)),
            "groups": torch.from_numpy(np.ascontiguousarray(self.group_factors[self.item_groups], dtype=np.float32)),
            "log_weight": torch.from_numpy(np.log(self.item_weights).astype(np.float32)),
        }

    # ------------------------------------------------------------------ io
    def to_dict(self) -> dict[str, Any]:
        """What ``truth.json`` holds: format, settings, counts, the planted model's description, figures."""
        shape = SHAPES[self.settings.shape]
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "generator": f"embrec.data.synthetic.planted, embrec {_embrec_version()}",
            **self.settings.to_dict(),
            "users": len(self.user_ids),
            "items": len(self.item_ids),
            "rating_scale": None if self.rating_scale is None else list(self.rating_scale),
            "rating_step": self.rating_step,
            "model": {
                "score": "global_mean + user_bias[u] + item_bias[i] + user_factors[u] . item_factors[i]",
                "global_mean": self.global_mean,
                "user_bias_sd": USER_BIAS_SD,
                "item_bias_sd": ITEM_BIAS_SD,
                "factor_sd": FACTOR_SD,
                "groups": GROUPS,
                "group_share": GROUP_SHARE,
                "choice": "without replacement, by item_weight[i] * exp(user_factors[u] . "
                "group_factors[group[i]] / (factor_sd * temperature))",
                "ratings": None
                if self.settings.implicit
                else "clip(round(score + noise * N(0, 1)) to the scale's step, to the scale)",
                "popularity": {
                    "weights": "exp(-(popularity_rank / scale) ** exponent)",
                    "scale": shape.popularity_scale,
                    "exponent": shape.popularity_exponent,
                },
                "activity": {"min_rows": _min_rows(shape, self.settings.rows), "lognormal_sigma": shape.activity_sigma},
                "time_range": [shape.start, shape.end],
            },
            **self.figures,
        }

    def _scale(self) -> tuple[float, float]:
        if self.rating_scale is None:
            raise DataError("implicit planted data has no ratings; rating figures need implicit=False.")
        return self.rating_scale

    def _step(self) -> float:
        return float(self.rating_step or 1.0)

    def _noise(self) -> float:
        return float(self.settings.noise if self.settings.noise is not None else DEFAULT_NOISE)


def _embrec_version() -> str:
    try:
        return version("embrec")
    except PackageNotFoundError:  # running from a source tree
        return "unknown"


# ---------------------------------------------------------------------------- checks
def _shape(shape: Any) -> Shape:
    key = shape.strip().lower() if isinstance(shape, str) else shape
    if key not in SHAPES:
        raise ConfigError(f"shape={quoted(shape)} is not allowed; use one of {', '.join(SHAPES)}.")
    return SHAPES[key]


def _whole(name: str, value: Any, low: int, high: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= int(value) <= high:
        raise ConfigError(f"{name}={quoted(value)} is not allowed; give a whole number from {low} to {high} {hint}.")
    return int(value)


def _positive(name: str, value: Any, *, zero: bool, example: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if not ok or float(value) < 0 or (float(value) == 0 and not zero):
        what = "0 or more" if zero else "above 0"
        raise ConfigError(f"{name}={quoted(value)} is not allowed; give a finite number {what}, such as {example}.")
    return float(value)


def _settings(
    shape: Any, rows: Any, seed: Any, implicit: bool, rank: Any, noise: Any, temperature: Any
) -> PlantedSettings:
    edition = _shape(shape)
    n = edition.n_ratings if rows is None else rows
    if isinstance(n, numbers.Integral) and not isinstance(n, bool) and int(n) < edition.n_users:
        raise ConfigError(
            f"rows={int(n)} is fewer than the {edition.n_users:,} users of the {edition.name} shape; give "
            f"rows={edition.n_users} or more (every user gets at least one row)."
        )
    most = edition.n_users * edition.n_items // 2
    n = _whole("rows", n, edition.n_users, most, f"(one row per user to half of the {edition.name} matrix)")
    if implicit and noise is not None:
        raise ConfigError(
            f"noise={quoted(noise)} applies to ratings, and implicit=True draws none; leave one of the two out."
        )
    return PlantedSettings(
        shape=edition.name,
        rows=n,
        seed=_whole("seed", seed, 0, _MAX_SEED, "(each seed gives its own data)"),
        implicit=bool(implicit),
        rank=_whole("rank", rank, 1, _MAX_RANK, f"(default {DEFAULT_RANK})"),
        noise=None
        if implicit
        else _positive("noise", DEFAULT_NOISE if noise is None else noise, zero=True, example="0.8"),
        temperature=_positive(
            "temperature", DEFAULT_TEMPERATURE if temperature is None else temperature, zero=False, example="0.4"
        ),
    )


def _min_rows(shape: Shape, rows: int) -> int:
    return max(1, min(shape.min_rows, rows // shape.n_users))


# ---------------------------------------------------------------------------- the public functions
def planted(
    shape: str = "ml-100k",
    rows: int | None = None,
    seed: int = 0,
    implicit: bool = False,
    rank: int = DEFAULT_RANK,
    noise: float | None = None,
    *,
    temperature: float | None = None,
    figures: bool = True,
) -> tuple[Interactions, Truth]:
    """Draw MovieLens-shaped data from a known low-rank model (see the module's description).

    Args:
        shape: the edition copied: ``"ml-25m"``, ``"ml-20m"``, ``"ml-1m"`` or ``"ml-100k"``
            (its users, items, rating scale and years).
        rows: rows to draw (default: as many as the edition has); at least one per user, at
            most half of the users x items matrix.
        seed: seed of every draw; the same settings give the same data.
        implicit: implicit feedback (who chose what, no ratings) instead of ratings.
        rank: columns of the planted factors.
        noise: standard deviation of the Gaussian noise added to ratings (default
            :data:`DEFAULT_NOISE`); ratings only.
        temperature: how strongly users' choice of items follows their taste (default
            :data:`DEFAULT_TEMPERATURE`; smaller is stronger).
        figures: compute the truth's figures (noise floor, ranking metrics; a few seconds at
            the largest shapes); without them ``truth.figures`` is empty.

    Returns:
        ``(interactions, truth)``: user ids ``1..n_users``, item ids ``1..n_items`` (those that
        got rows), ratings (unless implicit), timestamps; and the :class:`Truth` aligned with them.

    Raises:
        ConfigError: an unknown shape or a bad number, named with what is allowed.
    """
    settings = _settings(shape, rows, seed, implicit, rank, noise, temperature)
    edition = SHAPES[settings.shape]
    names = ("model", "activity", "items", "cover", "ratings", "times")
    streams = dict(zip(names, np.random.SeedSequence(settings.seed).spawn(len(names))))
    model = _draw_model(edition, settings, np.random.default_rng(streams["model"]))
    counts = _draw_counts(edition, settings.rows, np.random.default_rng(streams["activity"]))
    log.info("planted %s: drawing %s rows for %s users", edition.name, f"{settings.rows:,}", f"{edition.n_users:,}")
    items = _draw_items(counts, model, streams["items"])
    _cover_items(items, edition.n_items, np.random.default_rng(streams["cover"]))
    users = np.repeat(np.arange(edition.n_users, dtype=np.int32), counts)
    timestamps = _draw_times(counts, edition, streams["times"])

    rated = np.bincount(items, minlength=edition.n_items) > 0
    if not rated.all():  # fewer rows than items: the vocabulary is the items that got rows
        items = (np.cumsum(rated, dtype=np.int32) - 1)[items]
    truth = Truth(
        settings=settings,
        user_ids=np.arange(1, edition.n_users + 1, dtype=np.int64),
        item_ids=np.flatnonzero(rated).astype(np.int64) + 1,
        global_mean=edition.global_mean,
        user_bias=model.user_bias,
        item_bias=model.item_bias[rated],
        user_factors=model.user_factors,
        item_factors=np.ascontiguousarray(model.item_factors[rated]),
        item_groups=model.item_groups[rated],
        group_factors=model.group_factors,
        item_weights=model.item_weights[rated],
        rating_scale=None if implicit else edition.rating_scale,
        rating_step=None if implicit else edition.rating_step,
    )
    ratings, sums = None, None
    if not implicit:
        ratings, sums = _draw_ratings(users, items, truth, streams["ratings"])
    data = Interactions(
        users=users,
        items=items,
        ratings=ratings,
        timestamps=timestamps,
        user_ids=truth.user_ids,
        item_ids=truth.item_ids,
        rating_scale=truth.rating_scale,
        name=f"planted-{edition.name}{'-implicit' if implicit else ''}-seed{settings.seed}",
    )
    if figures:
        log.info("planted %s: measuring the truth's figures", edition.name)
        truth.figures.update(_figures(data, truth, sums))
    return data, truth


def save_planted(out: str | Path, data: Interactions, truth: Truth, *, force: bool = False) -> Path:
    """Write ``ratings.parquet``, ``truth.json`` and ``truth.npz`` into the folder ``out``, all or nothing.

    ``ratings.parquet`` has the columns ``user, item, rating, timestamp`` (no ``rating`` for
    implicit data) with the dataset's own ids, users one after another, each in time order;
    ``truth.npz`` holds the planted arrays (``allow_pickle=False``), which :func:`read_truth`
    reads back with ``truth.json``.

    Raises:
        EmbrecError: ``out`` is a file, is not empty and ``force`` is false, or cannot be
            written (nothing is left behind, and an existing ``out`` stays as it was).
    """
    out = _check_out(out, force)
    with atomic_folder(out, replace=force) as staging:
        _write_parquet(staging / "ratings.parquet", data)
        (staging / "truth.json").write_text(json.dumps(truth.to_dict(), indent=2) + "\n", encoding="utf-8")
        with open(staging / "truth.npz", "wb") as handle:
            np.savez(handle, **{key: getattr(truth, key) for key in _ARRAYS})
    return out


def write_planted(
    out: str | Path,
    shape: str = "ml-100k",
    rows: int | None = None,
    seed: int = 0,
    implicit: bool = False,
    rank: int = DEFAULT_RANK,
    noise: float | None = None,
    *,
    temperature: float | None = None,
    force: bool = False,
) -> tuple[Path, Truth]:
    """:func:`planted`, then :func:`save_planted` into ``out``; returns the folder and the truth.

    The settings are checked, and a non-empty ``out`` refused without ``force``, before anything is drawn.
    """
    _settings(shape, rows, seed, implicit, rank, noise, temperature)
    target = _check_out(out, force)
    data, truth = planted(shape, rows, seed, implicit, rank, noise, temperature=temperature)
    return save_planted(target, data, truth, force=force), truth


def _check_out(out: str | Path, force: bool) -> Path:
    """``out`` as a path, once it is known that it may be written."""
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise EmbrecError(f"out={str(path)!r} exists and is not a folder; give a folder path.")
    if path.is_dir() and any(path.iterdir()) and not force:
        names = sorted(p.name for p in path.iterdir())
        held = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise EmbrecError(
            f"out={str(path)!r} is not empty (it holds {held}); choose a new folder or pass force=True to replace it."
        )
    return path


def read_truth(folder: str | Path) -> Truth:
    """The :class:`Truth` in a folder written by :func:`write_planted` (``truth.json`` and ``truth.npz``).

    Raises:
        DataError: a file is missing, or is not a planted folder's.
    """
    folder = Path(folder).expanduser()
    paths = {name: folder / name for name in ("truth.json", "truth.npz")}
    for path in paths.values():
        if not path.is_file():
            raise DataError(f"{str(path)!r} is missing; give a folder written by `embrec datasets synthetic`.")
    try:
        meta = json.loads(paths["truth.json"].read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"its format is {meta.get('format')!r}, not {FORMAT!r}")
        with np.load(paths["truth.npz"], allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in _ARRAYS}
        scale = meta["rating_scale"]
        return Truth(
            settings=PlantedSettings(**{key: meta[key] for key in PlantedSettings.__dataclass_fields__}),
            global_mean=float(meta["model"]["global_mean"]),
            rating_scale=None if scale is None else (float(scale[0]), float(scale[1])),
            rating_step=meta["rating_step"],
            figures={key: value for key, value in meta.items() if key not in _BASE_KEYS},
            **arrays,
        )
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise DataError(
            f"{str(folder)!r} does not hold a planted truth ({exc}); write it again with `embrec datasets synthetic`."
        ) from None


# ---------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class _Model:
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    item_groups: np.ndarray
    group_factors: np.ndarray
    item_weights: np.ndarray
    temperature: float
    by_group: np.ndarray  # item indexes sorted by group
    group_cdf: np.ndarray  # per group g, g + the running share of the group's weight, in by_group order
    guide: np.ndarray  # guide[g, j]: the first position whose group_cdf passes g + j / guide.shape[1]
    group_log_mass: np.ndarray  # log of each group's total weight

    def affinity(self, users: slice) -> np.ndarray:
        """``user_factors @ group_factors / temperature`` of a range of users, ``(n, groups)`` float64."""
        return (self.user_factors[users] @ self.group_factors.T).astype(np.float64) / self.temperature


def _draw_model(shape: Shape, settings: PlantedSettings, rng: np.random.Generator) -> _Model:
    # each factor entry ~ N(0, sd^2) with rank * sd^4 = FACTOR_SD^2: the dot product's spread is FACTOR_SD;
    # an item's factors are its group's plus its own, sharing the variance GROUP_SHARE : 1 - GROUP_SHARE
    sd = math.sqrt(FACTOR_SD / math.sqrt(settings.rank))
    n_users, n_items, rank = shape.n_users, shape.n_items, settings.rank
    user_factors = rng.standard_normal((n_users, rank), dtype=np.float32) * np.float32(sd)
    group_factors = rng.standard_normal((GROUPS, rank), dtype=np.float32) * np.float32(sd * math.sqrt(GROUP_SHARE))
    item_groups = (rng.permutation(n_items) % GROUPS).astype(np.int32)
    own = rng.standard_normal((n_items, rank), dtype=np.float32) * np.float32(sd * math.sqrt(1 - GROUP_SHARE))
    item_factors = group_factors[item_groups] + own
    user_bias = rng.standard_normal(n_users, dtype=np.float32) * np.float32(USER_BIAS_SD)
    item_bias = rng.standard_normal(n_items, dtype=np.float32) * np.float32(ITEM_BIAS_SD)
    by_rank = np.exp(-((np.arange(1, n_items + 1) / shape.popularity_scale) ** shape.popularity_exponent))
    weights = np.empty(n_items)
    weights[rng.permutation(n_items)] = by_rank / by_rank.sum()  # which item is how popular: at random

    by_group = np.argsort(item_groups, kind="stable")
    sorted_groups = item_groups[by_group]
    mass = np.bincount(item_groups, weights=weights, minlength=GROUPS)
    running = np.cumsum(weights[by_group])
    before = np.concatenate([[0.0], np.cumsum(mass)])[sorted_groups]
    share = (running - before) / mass[sorted_groups]
    share[np.r_[sorted_groups[1:] != sorted_groups[:-1], True]] = 1.0  # each group ends exactly at g + 1
    group_cdf = sorted_groups + share
    buckets = 2 * int(np.bincount(item_groups, minlength=GROUPS).max())
    marks = np.arange(GROUPS)[:, None] + np.arange(buckets)[None, :] / buckets
    guide = np.searchsorted(group_cdf, marks, side="right")
    return _Model(
        user_bias=user_bias,
        item_bias=item_bias,
        user_factors=user_factors,
        item_factors=item_factors,
        item_groups=item_groups,
        group_factors=group_factors,
        item_weights=weights,
        temperature=FACTOR_SD * float(settings.temperature),  # relative to the factors' spread
        by_group=by_group.astype(np.int32),
        group_cdf=group_cdf,
        guide=guide,
        group_log_mass=np.log(mass),
    )


def _draw_counts(shape: Shape, rows: int, rng: np.random.Generator) -> np.ndarray:
    """Rows per user: the minimum each, the rest shared out by log-normal weights, none above the catalogue."""
    low = _min_rows(shape, rows)
    weights = rng.lognormal(0.0, shape.activity_sigma, shape.n_users)
    counts = np.full(shape.n_users, low, dtype=np.int64)
    left = rows - low * shape.n_users
    cap = shape.n_items
    while left > 0:  # rows beyond a full catalogue go again to the users below it
        room = counts < cap
        share = np.where(room, weights, 0.0)
        counts += rng.multinomial(left, share / share.sum())
        left = int(np.maximum(counts - cap, 0).sum())
        np.minimum(counts, cap, out=counts)
    return counts


# ---------------------------------------------------------------------------- which items
def _user_chunks(n_users: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n_users, _USERS_PER_CHUNK):
        yield start, min(start + _USERS_PER_CHUNK, n_users)


def _draw_items(counts: np.ndarray, model: _Model, stream: np.random.SeedSequence) -> np.ndarray:
    """Every user's items, users one after another, each user's items in the order they were drawn.

    User ``u`` draws items without replacement in proportion to ``v[u, i] = item_weight[i] *
    exp(affinity[u, group[i]])`` (successive sampling, a Plackett-Luce order). Drawing with
    replacement and keeping each item's first draw does exactly that; a draw with replacement
    picks a group by the user's affinities, then an item of that group by popularity. A user
    who would need many more draws than there are items (or is still short after a few rounds)
    instead races exponential clocks over the whole catalogue, which continues the same order.
    """
    chunks = list(_user_chunks(len(counts)))
    out = np.empty(int(counts.sum()), dtype=np.int32)
    ends = np.cumsum(counts)

    def chunk(job: tuple[tuple[int, int], np.random.SeedSequence]) -> None:
        (start, stop), seq = job
        rng = np.random.default_rng(seq)
        affinity = model.affinity(slice(start, stop))
        out[ends[start] - counts[start] : ends[stop - 1]] = _successive(counts[start:stop], affinity, model, rng)

    _in_threads(chunk, list(zip(chunks, stream.spawn(len(chunks)))))
    return out


def _in_threads(work: Callable[[Any], Any], jobs: list[Any]) -> list[Any]:
    """``[work(job) for job in jobs]`` on up to :data:`_WORKERS` threads (NumPy's loops release the GIL).

    Every job draws from its own seeded generator, so the result is the same on any number of threads.
    """
    if _WORKERS == 1 or len(jobs) < 2:
        return [work(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        return list(pool.map(work, jobs))


def _successive(counts: np.ndarray, affinity: np.ndarray, model: _Model, rng: np.random.Generator) -> np.ndarray:
    """The items of a chunk of users (local indexes ``0..len(counts)-1``), user after user, in draw order."""
    n_items = len(model.item_weights)
    logits = affinity + model.group_log_mass
    logits -= logits.max(axis=1, keepdims=True)
    groups = np.exp(logits)
    groups /= groups.sum(axis=1, keepdims=True)  # each user's chance of drawing from each group
    dense = counts > n_items // 4
    users, items, short = _light(np.flatnonzero(~dense), counts, groups, model, rng)
    race = np.union1d(np.flatnonzero(dense), short)
    if len(race):
        # the prefixes drawn so far, then the rest of each order by racing clocks
        keep = ~np.isin(users, race)
        prefix_u, prefix_i = users[~keep], items[~keep]
        more_u, more_i = _race(race, counts, prefix_u, prefix_i, affinity, model, rng)
        users = np.concatenate([users[keep], prefix_u, more_u])
        items = np.concatenate([items[keep], prefix_i, more_i])
    order = np.argsort(users, kind="stable")
    return items[order]


def _item_in_group(group: np.ndarray, model: _Model, rng: np.random.Generator) -> np.ndarray:
    """An item of each given group, by popularity: the inverse of the group's running share, found
    from a guide table (Chen 1974) and a few steps instead of a binary search over every item."""
    x = rng.random(len(group))
    pos = model.guide[group, (x * model.guide.shape[1]).astype(np.int64)]
    x += group
    behind = np.flatnonzero(model.group_cdf[pos] <= x)
    while len(behind):
        pos[behind] += 1
        behind = behind[model.group_cdf[pos[behind]] <= x[behind]]
    return model.by_group[pos]


def _light(
    users: np.ndarray, counts: np.ndarray, groups: np.ndarray, model: _Model, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Successive sampling by draws with replacement, in rounds, for the given (local) users.

    Each round gives every user still short a number of draws, shares them out among the groups
    (multinomially, by the user's chances), draws an item in each group by popularity, and
    stamps every draw with a random time after those of earlier rounds. A user's order is
    the order in which distinct items are first drawn.

    Returns:
        ``(user, item)`` of every user's distinct items in draw order (user after user, the
        users still short last), and the users still short after :data:`_ROUNDS` rounds.
    """
    n_items = len(model.item_weights)
    u_bits, i_bits = int(len(counts)).bit_length(), int(n_items - 1).bit_length()
    t_bits = 63 - u_bits - i_bits  # a draw's time: round, then a random fraction
    frac_bits = t_bits - (_ROUNDS - 1).bit_length()
    done: list[np.ndarray] = []  # packed (user, time, item) keys of finished users
    active = users
    draws = np.ceil(counts * 1.25).astype(np.int64) + 8
    kept = np.empty(0, dtype=np.int64)  # packed keys of the active users' distinct items so far
    for round_ in range(_ROUNDS):
        if not len(active):
            break
        per_group = rng.multinomial(draws[active], groups[active])
        group = np.repeat(np.tile(np.arange(GROUPS, dtype=np.int64), len(active)), per_group.ravel())
        new_u = np.repeat(active.astype(np.int64), draws[active])
        new_i = _item_in_group(group, model, rng).astype(np.int64)
        new_t = (round_ << frac_bits) | rng.integers(0, 1 << frac_bits, size=len(new_u), dtype=np.int64)
        # the first draw of each (user, item): sort by pair, then time
        by_pair = np.concatenate([_unpack_as_pair(kept, t_bits, i_bits), ((new_u << i_bits | new_i) << t_bits) | new_t])
        by_pair.sort()
        pair = by_pair >> t_bits
        first = np.empty(len(by_pair), dtype=bool)
        first[:1] = True
        np.not_equal(pair[1:], pair[:-1], out=first[1:])
        by_pair = by_pair[first]
        # then each user's distinct items in time order: sort by (user, time, item)
        mask_i = (1 << i_bits) - 1
        keys = ((by_pair >> (t_bits + i_bits)) << (t_bits + i_bits)) | ((by_pair & ((1 << t_bits) - 1)) << i_bits)
        keys |= (by_pair >> t_bits) & mask_i
        keys.sort()
        user = keys >> (t_bits + i_bits)
        keys = keys[_rank_in_group(user, len(counts)) < counts[user]]
        user = keys >> (t_bits + i_bits)
        got = np.bincount(user, minlength=len(counts))
        full = got[user] == counts[user]
        done.append(keys[full])
        kept = keys[~full]
        active = active[got[active] < counts[active]]
        draws[active] *= 2  # the next round for those still short: twice as many draws
    packed = np.concatenate([*done, kept])
    return packed >> (t_bits + i_bits), (packed & ((1 << i_bits) - 1)).astype(np.int32), active


def _unpack_as_pair(keys: np.ndarray, t_bits: int, i_bits: int) -> np.ndarray:
    """(user, time, item) keys repacked as (user, item, time)."""
    user = keys >> (t_bits + i_bits)
    item = keys & ((1 << i_bits) - 1)
    time = (keys >> i_bits) & ((1 << t_bits) - 1)
    return ((user << i_bits | item) << t_bits) | time


def _rank_in_group(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """For a grouped (non-decreasing) array of group numbers: each element's place within its group."""
    sizes = np.bincount(groups, minlength=n_groups)
    return np.arange(len(groups)) - (np.cumsum(sizes) - sizes)[groups]


def _race(
    users: np.ndarray,
    counts: np.ndarray,
    prefix_u: np.ndarray,
    prefix_i: np.ndarray,
    affinity: np.ndarray,
    model: _Model,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The rest of each user's order: an exponential clock of rate ``v[u, i]`` per item not yet drawn;
    the items whose clocks ring first, in that order (memorylessness makes this continue the
    successive sampling where the prefix stopped)."""
    out_u: list[np.ndarray] = []
    out_i: list[np.ndarray] = []
    log_w = np.log(model.item_weights).astype(np.float32)
    order = np.argsort(prefix_u, kind="stable")
    prefix_u, prefix_i = prefix_u[order], prefix_i[order]
    for start in range(0, len(users), _RACE_BLOCK):
        block = users[start : start + _RACE_BLOCK]
        have = np.bincount(prefix_u, minlength=len(counts))[block]
        need = counts[block] - have
        # log clock = log E - log v; the smallest ring first
        keys = np.log(rng.standard_exponential((len(block), len(log_w)))).astype(np.float32)  # float64: never 0
        keys -= log_w
        keys -= affinity[block][:, model.item_groups].astype(np.float32)
        mine = np.isin(prefix_u, block)
        row = np.searchsorted(block, prefix_u[mine])
        keys[row, prefix_i[mine]] = np.inf  # already drawn
        k = int(need.max())
        top = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < keys.shape[1] else np.argsort(keys, axis=1)
        top = np.take_along_axis(top, np.argsort(np.take_along_axis(keys, top, axis=1), axis=1), axis=1)
        use = np.arange(top.shape[1]) < need[:, None]
        out_u.append(np.repeat(block, need))
        out_i.append(top[use].astype(np.int32))
    return np.concatenate(out_u), np.concatenate(out_i)


def _cover_items(items: np.ndarray, n_items: int, rng: np.random.Generator) -> None:
    """Give every item at least one row (where there are enough rows), in place.

    An item no draw picked replaces the item of a random row whose item has other rows; that
    row's user has no row of the missing item, so no pair repeats.
    """
    if len(items) < n_items:
        return
    counts = np.bincount(items, minlength=n_items)
    missing = np.flatnonzero(counts == 0)
    while len(missing):
        spare = np.flatnonzero(counts[items] > 1)  # rows whose item has others
        rows = rng.choice(spare, size=min(len(spare), 2 * len(missing)), replace=False)
        owner = items[rows]
        order = np.argsort(owner, kind="stable")
        keep = np.empty(len(rows), dtype=bool)  # leave each item at least one of its rows
        keep[order] = _rank_in_group(owner[order], n_items) < counts[owner[order]] - 1
        rows = rows[keep][: len(missing)]
        np.subtract.at(counts, items[rows], 1)
        items[rows] = missing[: len(rows)]
        counts[missing[: len(rows)]] += 1
        missing = missing[len(rows) :]


# ---------------------------------------------------------------------------- ratings and times
def _draw_ratings(
    users: np.ndarray, items: np.ndarray, truth: Truth, stream: np.random.SeedSequence
) -> tuple[np.ndarray, np.ndarray]:
    """The ratings, and their :func:`_rating_sums` (so the scores are computed once)."""
    lo, hi = truth._scale()
    step, noise = np.float32(truth._step()), np.float32(truth._noise())
    out = np.empty(len(users), dtype=np.float32)
    starts = list(range(0, len(users), _ROWS_PER_CHUNK))

    def chunk(job: tuple[int, np.random.SeedSequence]) -> np.ndarray:
        start, seq = job
        rows = slice(start, start + _ROWS_PER_CHUNK)
        score = truth.score(users[rows], items[rows])
        noisy = score + np.random.default_rng(seq).standard_normal(len(score), dtype=np.float32) * noise
        out[rows] = np.clip(np.floor((noisy - np.float32(lo)) / step + np.float32(0.5)) * step + np.float32(lo), lo, hi)
        return _rating_sums(score, out[rows], truth)

    sums = _in_threads(chunk, list(zip(starts, stream.spawn(len(starts)))))
    return out, np.sum(sums, axis=0)


def _draw_times(counts: np.ndarray, shape: Shape, stream: np.random.SeedSequence) -> np.ndarray:
    """Strictly increasing whole seconds per user, inside an active period within the edition's years."""
    total = shape.end - shape.start
    out = np.empty(int(counts.sum()), dtype=np.int64)
    ends = np.cumsum(counts)
    chunks = list(_user_chunks(len(counts)))

    def chunk(job: tuple[tuple[int, int], np.random.SeedSequence]) -> None:
        (start, stop), seq = job
        rng = np.random.default_rng(seq)
        c = counts[start:stop]
        # active periods of a few days to years (median 60 days), at least a second per row
        span = np.clip(rng.lognormal(math.log(60 * 86_400), 2.0, len(c)), c, total).astype(np.int64)
        begin = shape.start + (rng.random(len(c)) * (total - span + 1)).astype(np.int64)
        gaps = rng.standard_exponential(int(c.sum()))
        group = np.repeat(np.arange(len(c)), c)
        cum = np.cumsum(gaps)
        last = cum[np.cumsum(c) - 1]
        before = np.concatenate([[0.0], last[:-1]])
        share = (cum - before[group]) / (last - before)[group]  # in (0, 1], increasing within a user
        rank = _rank_in_group(group, len(c))
        # floor() keeps the order, + rank makes it strict; span - c leaves room for the + rank
        out[ends[start] - counts[start] : ends[stop - 1]] = (
            begin[group] + np.floor(share * (span - c)[group]).astype(np.int64) + rank
        )

    _in_threads(chunk, list(zip(chunks, stream.spawn(len(chunks)))))
    return out


# ---------------------------------------------------------------------------- figures
def _relevance_cut(scale: tuple[float, float], step: float) -> float:
    """The noisy score from which a rating rounds to :data:`RELEVANT_RATING` or more."""
    return max(RELEVANT_RATING - step / 2, scale[0])


def _expected_rating(score: np.ndarray, scale: tuple[float, float], step: float, noise: float) -> np.ndarray:
    """``E[clip(round(score + noise * N(0, 1)))]``: the lowest rating plus one step per threshold passed.

    Tabulated on a fine grid and interpolated (within about 1e-7 stars of the exact value).
    """
    lo, hi = scale
    thresholds = lo + step * (np.arange(1, round((hi - lo) / step) + 1) - 0.5)
    if noise == 0:
        return np.clip(np.floor((score - lo) / step + 0.5) * step + lo, lo, hi).astype(np.float32)
    low, high = float(score.min(initial=lo)) - 1, float(score.max(initial=hi)) + 1
    grid = np.linspace(low, high, 1 << 14)
    table = lo + step * ndtr((grid[:, None] - thresholds[None, :]) / noise).sum(axis=1)
    return np.interp(score, grid, table).astype(np.float32)


def _rmse(pred: np.ndarray, actual: np.ndarray) -> float:
    diff = pred.astype(np.float64) - actual
    return float(math.sqrt(np.dot(diff, diff) / len(diff))) if len(diff) else math.nan


def _rating_sums(score: np.ndarray, ratings: np.ndarray, truth: Truth) -> np.ndarray:
    """Squared errors of the noiseless and of the expected rating, and the sum and squares of the ratings."""
    actual = ratings.astype(np.float64)
    floor = np.clip(score, *truth._scale()) - actual
    best = _expected_rating(score, truth._scale(), truth._step(), truth._noise()) - actual
    return np.array([np.dot(floor, floor), np.dot(best, best), actual.sum(), np.dot(actual, actual)])


def _rating_figures(
    data: Interactions, ratings: np.ndarray, truth: Truth, sums: np.ndarray | None, test_rows: np.ndarray
) -> dict[str, Any]:
    if sums is None:
        starts = range(0, data.n_ratings, _ROWS_PER_CHUNK)
        sums = np.sum(
            [
                _rating_sums(truth.score(data.users[rows], data.items[rows]), ratings[rows], truth)
                for rows in (slice(start, start + _ROWS_PER_CHUNK) for start in starts)
            ],
            axis=0,
        )
    sse_floor, sse_best, total, total_sq = (float(x) for x in sums)
    n = data.n_ratings
    mean = total / n
    score = truth.score(data.users[test_rows], data.items[test_rows])
    actual = ratings[test_rows]
    return {
        "noise_floor_rmse": math.sqrt(sse_floor / n),
        "best_rmse": math.sqrt(sse_best / n),
        "noise_floor_rmse_test": _rmse(np.clip(score, *truth._scale()), actual),
        "best_rmse_test": _rmse(_expected_rating(score, truth._scale(), truth._step(), truth._noise()), actual),
        "mean_rating": mean,
        "rating_sd": math.sqrt(max(total_sq / n - mean * mean, 0.0)),
    }


def truth_figures(data: Interactions, truth: Truth) -> dict[str, Any]:
    """The figures of truth.json: the noise floor and the truth's own ranking metrics.

    Rating figures are over every row (and over the protocol's test rows, ``*_test``):
    ``noise_floor_rmse`` scores :meth:`Truth.noiseless_rating`, ``best_rmse`` the lowest any
    model can reach, :meth:`Truth.expected_rating`. Ranking figures rank every item not in the
    user's training rows by :meth:`Truth.preference` (``"score"``) and by :meth:`Truth.relevance`
    (``"relevance"``) on the protocol described under ``ranking.protocol``.
    """
    return _figures(data, truth, None)


def _figures(data: Interactions, truth: Truth, sums: np.ndarray | None) -> dict[str, Any]:
    split = make_split(data, "random", test_fraction=PROTOCOL_TEST_FRACTION, seed=PROTOCOL_SEED)
    out: dict[str, Any] = {}
    if data.ratings is not None:
        out.update(_rating_figures(data, data.ratings, truth, sums, split.test_rows))
    out["test_rows"] = int(len(split.test_rows))
    train, test = split.train, split.test
    del split  # the ranking needs only the rows of the users it ranks
    out["ranking"] = _ranking_figures(train, test, truth)
    return out


def _ranking_figures(train: Interactions, test: Interactions, truth: Truth) -> dict[str, Any]:
    threshold = None if test.ratings is None else RELEVANT_RATING
    relevant = np.ones(test.n_ratings, dtype=bool) if test.ratings is None else test.ratings >= RELEVANT_RATING
    candidates = np.unique(test.users[relevant])
    chosen = candidates
    if len(candidates) > MAX_RANKED_USERS:
        rng = np.random.default_rng(PROTOCOL_SEED)
        chosen = np.sort(rng.choice(candidates, MAX_RANKED_USERS, replace=False))
    place = np.full(test.n_users, -1, dtype=np.int64)
    place[chosen] = np.arange(len(chosen))
    shape = (len(chosen), test.n_items)

    def rows_of(part: Interactions, values: np.ndarray | None) -> sp.csr_matrix:
        mine = place[part.users] >= 0
        data = np.ones(int(mine.sum()), dtype=np.float32) if values is None else values[mine]
        return sp.csr_matrix((data, (place[part.users[mine]], part.items[mine])), shape=shape)

    seen = rows_of(train, None)
    relevance_truth = rows_of(test, test.ratings)
    protocol = {
        "split": f"make_split(method='random', test_fraction={PROTOCOL_TEST_FRACTION}, seed={PROTOCOL_SEED})",
        "relevant": "every test item" if threshold is None else f"test rating >= {RELEVANT_RATING:g}",
        "excluded": "the user's training items",
        "users": int(len(chosen)),
        "users_with_relevant_test_items": int(len(candidates)),
        "user_sample": (
            None
            if len(chosen) == len(candidates)
            else f"numpy.random.default_rng({PROTOCOL_SEED}).choice(users with a relevant test item, "
            f"{MAX_RANKED_USERS}, replace=False)"
        ),
    }
    out: dict[str, Any] = {"protocol": protocol}
    # two buffers of scores, reused batch after batch: fresh ones would cost a page fault per 4 kB
    buffers = torch.empty((2, _RANKED_PER_BATCH, test.n_items), dtype=torch.float32)
    rankings: dict[str, Callable[[np.ndarray], torch.Tensor]] = {
        "score": lambda batch: truth.preference(chosen[batch], out=buffers[0, : len(batch)]),
        "relevance": lambda batch: truth.relevance(
            chosen[batch], out=buffers[0, : len(batch)], work=buffers[1, : len(batch)]
        ),
    }
    for name, score_fn in rankings.items():
        with torch.no_grad():
            recs, _ = top_n(
                score_fn, np.arange(len(chosen)), max(NDCG_AT, RECALL_AT), seen=seen, chunk_size=_RANKED_PER_BATCH
            )
        out[name] = {
            f"ndcg@{NDCG_AT}": mean_over_users(ndcg(recs, relevance_truth, threshold=threshold, k=NDCG_AT)),
            f"recall@{RECALL_AT}": mean_over_users(recall(recs, relevance_truth, threshold=threshold, k=RECALL_AT)),
        }
    return out


# ---------------------------------------------------------------------------- files
def _write_parquet(path: Path, data: Interactions) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [("user", pa.int64()), ("item", pa.int64())]
    if data.ratings is not None:
        fields.append(("rating", pa.float32()))
    fields.append(("timestamp", pa.int64()))
    schema = pa.schema(fields)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, data.n_ratings, _PARQUET_ROW_GROUP):
            rows = slice(start, start + _PARQUET_ROW_GROUP)
            columns = [data.user_ids[data.users[rows]], data.item_ids[data.items[rows]]]
            columns += [part[rows] for part in (data.ratings, data.timestamps) if part is not None]
            writer.write_table(pa.Table.from_arrays([pa.array(c) for c in columns], schema=schema))


def _index(vocabulary: np.ndarray, ids: Any, kind: str) -> np.ndarray:
    """Indexes of external ids in a sorted vocabulary; :class:`UnknownIdError` naming unknown ones."""
    arr = np.atleast_1d(np.asarray(ids))
    if arr.dtype.kind not in "iu":
        raise UnknownIdError(f"{kind} ids of planted data are whole numbers; got {quoted(arr[:3].tolist())}.")
    pos = np.minimum(np.searchsorted(vocabulary, arr), len(vocabulary) - 1)
    bad = vocabulary[pos] != arr
    if bad.any():
        raise UnknownIdError(
            f"unknown {kind} id {quoted(arr[bad][:5].tolist())} in the planted data; its {kind} ids run from "
            f"{int(vocabulary[0])} to {int(vocabulary[-1])}. Use an id from the data."
        )
    return pos
