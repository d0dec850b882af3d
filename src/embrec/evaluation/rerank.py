"""Re-ranking a model's top-N candidates for diversity or novelty.

Two re-rankers, both pure functions of candidate lists and item data, vectorised across users
(the only Python loop runs over the ``k`` positions of MMR):

* :func:`mmr_rerank`: Maximal Marginal Relevance (Carbonell & Goldstein, "The use of MMR,
  diversity-based reranking for reordering documents and producing summaries", SIGIR 1998).
  Items are picked greedily; at each position the pick maximises
  ``(1 - λ) · rel(i) - λ · max_{j picked} sim(i, j)``, where ``rel`` is the model's score
  min-max normalised to [0, 1] over each user's candidates and ``sim`` the cosine similarity of
  item embeddings or the Jaccard similarity of genre sets. ``λ = 0`` keeps the model's order;
  ``λ = 1`` ignores relevance after the first (most relevant) pick.
* :func:`novelty_rerank`: sorts candidates by ``(1 - λ) · rel(i) + λ · nov(i)``, with
  ``nov(i) = -log2(users(i) / |U_train|) / log2 |U_train|`` the item's self-information from the
  training data scaled to [0, 1] (Zhou et al., PNAS 107(10), 2010). ``λ = 0`` keeps the order.

:class:`Reranker` binds one of them to a model (its item vectors) and the training data, as used
by :func:`~embrec.evaluation.runner.evaluate` (``rerank="mmr:0.3"``) and by the trade-off
:func:`~embrec.evaluation.tradeoff.sweep`.

Candidate arrays are ``(n_users, N)`` item indexes in the model's order padded with ``-1``, with
their scores (``-inf`` for padding); results are ``(n_users, k)`` padded with ``-1``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from embrec.errors import ConfigError, DataError
from embrec.evaluation.genres import genre_matrix
from embrec.metrics import item_popularity

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions
    from embrec.models.base import Recommender

__all__ = [
    "DEFAULT_CANDIDATES",
    "MAX_CANDIDATES",
    "RerankMethod",
    "Similarity",
    "Reranker",
    "genre_matrix",
    "mmr_rerank",
    "novelty_rerank",
    "parse_reranker",
]

RerankMethod = Literal["mmr", "novelty"]
Similarity = Literal["auto", "embedding", "genres"]

DEFAULT_CANDIDATES = 100
#: Most candidates a list is re-ranked from: MMR compares every pair of a user's candidates, so
#: 1,000 already means a million similarities per user (and 10**9 would never finish). Lists are
#: at most as long (``embrec.evaluation.context.MAX_K``), so every list can be re-ranked.
MAX_CANDIDATES = 1000
# Largest (users x N x N) similarity block MMR builds at once (32 MiB of float64).
_CHUNK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- checks and helpers
def _check_lambda(lam: Any) -> float:
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not 0.0 <= float(lam) <= 1.0:
        raise ConfigError(f"lambda must be a number from 0 to 1, got {lam!r}; 0 keeps the model's order, e.g. 0.3.")
    return float(lam)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ConfigError(f"k must be a positive integer (the list length), got {k!r}; pass for example k=10.")
    return int(k)


def _candidates(
    candidates: ArrayLike, scores: ArrayLike, n_items: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    c = np.asarray(candidates)
    s = np.asarray(scores, dtype=np.float64)
    if c.ndim != 2 or c.dtype.kind not in "iu":
        raise DataError(
            f"candidates must be a 2-D integer array (n_users, N) of item indexes, got shape {c.shape} and dtype {c.dtype}."
        )
    if s.shape != c.shape:
        raise DataError(f"scores has shape {s.shape} but candidates has {c.shape}; pass one score per candidate.")
    c = c.astype(np.int64, copy=False)
    bad = (c < -1) | (c >= n_items)
    if bad.any():
        u, j = (int(x[0]) for x in np.nonzero(bad))
        raise DataError(f"candidates[{u}, {j}] = {int(c[u, j])} is not an item index 0..{n_items - 1} or -1 padding.")
    return c, s


def _normalised_relevance(cand: NDArray[np.int64], scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scores min-max scaled to [0, 1] over each user's valid candidates (all 1 when they are equal)."""
    valid = (cand >= 0) & np.isfinite(scores)
    lo = np.where(valid, scores, np.inf).min(axis=1, keepdims=True)
    hi = np.where(valid, scores, -np.inf).max(axis=1, keepdims=True)
    span = hi - lo
    with np.errstate(invalid="ignore"):
        rel = np.divide(scores - lo, span, out=np.ones_like(scores), where=valid & (span > 0))
    return np.where(valid, rel, np.nan)


def _unit_rows(vectors: Any) -> NDArray[np.float64]:
    raw = vectors.toarray() if sp.issparse(vectors) else vectors
    x = np.asarray(raw, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] == 0:
        raise DataError(f"item_vectors must be a 2-D array (n_items, n_features), got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise DataError("item_vectors holds NaN or infinite values; fix the embeddings first.")
    return x


def _chunks(n: int, cost_per_row: int) -> Iterator[slice]:
    step = max(1, _CHUNK_ELEMENTS // max(cost_per_row, 1))
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def _similarities(x: NDArray[np.float64], cand: NDArray[np.int64], metric: str) -> NDArray[np.float64]:
    """Pairwise similarity of each user's candidates, ``(n_users, N, N)``."""
    v = x[np.where(cand >= 0, cand, 0)]
    inner = v @ v.transpose(0, 2, 1)
    if metric == "cosine":
        return inner
    size = v.sum(axis=2)
    union = size[:, :, None] + size[:, None, :] - inner
    # Two items without any genre count as identical, as in the ILD metric.
    return np.divide(inner, union, out=np.ones_like(inner), where=union > 0)


# --------------------------------------------------------------------------- re-rankers
def mmr_rerank(
    candidates: ArrayLike,
    scores: ArrayLike,
    item_vectors: Any,
    *,
    lam: float,
    k: int,
    metric: Literal["cosine", "jaccard"] = "cosine",
) -> NDArray[np.int64]:
    """Maximal Marginal Relevance re-ranking of each user's candidates.

    Greedy: position 1 takes the most relevant candidate; each later position takes
    ``argmax_i (1 - λ) rel(i) - λ max_{j in S} sim(i, j)`` over the candidates ``i`` not yet in
    the picked set ``S``, with ``rel`` the score min-max normalised per user and ``sim`` the
    cosine similarity of embeddings (``metric="cosine"``) or the Jaccard similarity of binary genre
    vectors (``metric="jaccard"``). Ties go to the candidate the model ranked higher, so ``λ = 0``
    returns the model's own top ``k``.

    Reference: Carbonell & Goldstein, SIGIR 1998.

    Args:
        candidates: ``(n_users, N)`` item indexes, best first, ``-1`` padding.
        scores: the model's scores of those candidates (``-inf`` for padding).
        item_vectors: ``(n_items, d)`` embeddings, or a binary item x genre matrix for Jaccard.
        lam: ``λ`` in [0, 1], the weight of diversity.
        k: length of the re-ranked lists.
        metric: ``"cosine"`` or ``"jaccard"``.

    Returns:
        ``(n_users, k)`` item indexes, ``-1`` where fewer than ``k`` candidates exist.
    """
    lam = _check_lambda(lam)
    k = _check_k(k)
    if metric not in ("cosine", "jaccard"):
        raise ConfigError(f"metric must be 'cosine' or 'jaccard', got {metric!r}.")
    x = _unit_rows(item_vectors)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    elif not np.all((x == 0) | (x == 1)):
        raise DataError(
            "metric='jaccard' needs binary item vectors (such as an item x genre matrix); use 'cosine' for embeddings."
        )
    cand, sc = _candidates(candidates, scores, x.shape[0])
    n_users, width = cand.shape
    out = np.full((n_users, k), -1, dtype=np.int64)
    steps = min(k, width)
    rel_all = _normalised_relevance(cand, sc)
    for rows in _chunks(n_users, width * max(width, x.shape[1])):
        c = cand[rows]
        rel = rel_all[rows]
        sim = _similarities(x, c, metric)
        n = c.shape[0]
        open_ = c >= 0
        max_sim = np.zeros((n, width))
        at = np.arange(n)
        for step in range(steps):
            objective = (1.0 - lam) * rel - (lam * max_sim if step else 0.0)
            objective = np.where(open_, objective, -np.inf)
            pick = np.argmax(objective, axis=1)  # the first of equal values: the model's order
            ok = open_[at, pick]
            out[rows.start + at[ok], step] = c[at[ok], pick[ok]]
            open_[at, pick] = False
            picked_sim = sim[at, pick, :]
            max_sim = picked_sim if step == 0 else np.maximum(max_sim, picked_sim)
    return out


def novelty_rerank(
    candidates: ArrayLike,
    scores: ArrayLike,
    item_user_counts: ArrayLike,
    n_training_users: int,
    *,
    lam: float,
    k: int,
) -> NDArray[np.int64]:
    """Re-rank each user's candidates by relevance blended with item novelty.

    ``score'(i) = (1 - λ) rel(i) + λ nov(i)``, where ``rel`` is the model's score min-max
    normalised per user and ``nov(i) = -log2(max(users(i), 1) / |U_train|) / log2 |U_train|`` the
    item's self-information from the training data scaled to [0, 1]. Ties keep the model's order,
    so ``λ = 0`` returns the model's own top ``k``.

    Reference: Zhou et al., "Solving the apparent diversity-accuracy dilemma of recommender
    systems", PNAS 107(10), 2010 (self-information as novelty).

    Args:
        candidates: ``(n_users, N)`` item indexes, best first, ``-1`` padding.
        scores: the model's scores of those candidates (``-inf`` for padding).
        item_user_counts: training users per item (see :func:`embrec.metrics.item_popularity`).
        n_training_users: number of training users.
        lam: ``λ`` in [0, 1], the weight of novelty.
        k: length of the re-ranked lists.

    Returns:
        ``(n_users, k)`` item indexes, ``-1`` where fewer than ``k`` candidates exist.
    """
    lam = _check_lambda(lam)
    k = _check_k(k)
    counts = np.asarray(item_user_counts, dtype=np.float64)
    if counts.ndim != 1 or not np.isfinite(counts).all() or (counts < 0).any():
        raise DataError("item_user_counts must be a 1-D array of non-negative counts, one per item.")
    if isinstance(n_training_users, bool) or not isinstance(n_training_users, numbers.Integral) or n_training_users < 1:
        raise ConfigError(f"n_training_users must be a positive integer, got {n_training_users!r}.")
    cand, sc = _candidates(candidates, scores, counts.size)
    n_train = int(n_training_users)
    info = -np.log2(np.minimum(np.maximum(counts, 1.0), n_train) / n_train)
    top = math.log2(n_train) if n_train > 1 else 1.0
    nov = info / top
    rel = _normalised_relevance(cand, sc)
    blend = (1.0 - lam) * rel + lam * nov[np.where(cand >= 0, cand, 0)]
    blend = np.where(cand >= 0, blend, -np.inf)
    order = np.argsort(-blend, axis=1, kind="stable")[:, :k]
    out = np.take_along_axis(cand, order, axis=1)
    if out.shape[1] < k:
        out = np.concatenate([out, np.full((out.shape[0], k - out.shape[1]), -1, dtype=np.int64)], axis=1)
    # Padding sorts last, so valid items stay in front.
    return out


# --------------------------------------------------------------------------- bound to a model
@dataclass(frozen=True)
class Reranker:
    """A re-ranking recipe: which method, how strong, over how many candidates.

    Attributes:
        method: ``"mmr"`` (diversity) or ``"novelty"``.
        lam: ``λ`` in [0, 1]; 0 keeps the model's order.
        candidates: how many of the model's top items each user's list is re-ranked from.
        similarity: for MMR, ``"embedding"`` (cosine of the model's item vectors), ``"genres"``
            (Jaccard of genre sets) or ``"auto"`` (embeddings when the model has them, else genres).
    """

    method: RerankMethod
    lam: float
    candidates: int = DEFAULT_CANDIDATES
    similarity: Similarity = "auto"

    def __post_init__(self) -> None:
        if self.method not in ("mmr", "novelty"):
            raise ConfigError(f"re-rank method {self.method!r} is not allowed; use 'mmr' or 'novelty'.")
        object.__setattr__(self, "lam", _check_lambda(self.lam))
        c = self.candidates
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 1:
            raise ConfigError(f"candidates must be a positive integer, got {c!r}; pass for example 100.")
        if c > MAX_CANDIDATES:
            raise ConfigError(
                f"candidates={c!r} is not allowed; give a whole number from 1 to {MAX_CANDIDATES:,} "
                "(how many of the model's top items each list is re-ranked from, for example 100)."
            )
        if self.similarity not in ("auto", "embedding", "genres"):
            raise ConfigError(f"similarity {self.similarity!r} is not allowed; use 'auto', 'embedding' or 'genres'.")

    def width(self, k: int, n_items: int) -> int:
        """How many of the model's top items to re-rank into lists of ``k``: ``candidates``, but at
        least ``k`` and at most the catalogue's ``n_items``."""
        return min(max(k, int(self.candidates)), n_items)

    def __str__(self) -> str:
        sim = f":{self.similarity}" if self.method == "mmr" and self.similarity != "auto" else ""
        return f"{self.method}:{self.lam:g}{sim}"

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "lambda": self.lam, "candidates": self.candidates, "similarity": self.similarity}

    def similarity_source(
        self, model: Recommender, train: Interactions, item_vectors: Any = None
    ) -> tuple[Any, Literal["cosine", "jaccard"]]:
        """The item vectors and metric MMR uses for ``model``, or a :class:`ConfigError`.

        ``item_vectors`` (in ``train``'s item order) replaces ``model.item_vectors()`` when given.
        """
        if self.similarity in ("auto", "embedding"):
            vectors = model.item_vectors() if item_vectors is None else item_vectors
            if vectors is not None:
                return vectors, "cosine"
            if self.similarity == "embedding":
                raise ConfigError(
                    f"model {model.name!r} has no item vectors, so MMR cannot use embedding similarity; "
                    f"use similarity='genres' (rerank='mmr:{self.lam:g}:genres')."
                )
        genres = genre_matrix(train.item_metadata)
        if genres is None:
            raise ConfigError(
                f"MMR needs item similarities, but model {model.name!r} has no item vectors and {train.name!r} "
                f"has no genres; use method='novelty' (rerank='novelty:{self.lam:g}'), or give the data item "
                "metadata with a genres column (item_metadata)."
            )
        return genres, "jaccard"

    def apply(
        self,
        model: Recommender,
        train: Interactions,
        candidates: NDArray[np.int64],
        scores: NDArray[np.float64],
        k: int,
        *,
        item_vectors: Any = None,
        item_user_counts: ArrayLike | None = None,
        n_training_users: int | None = None,
    ) -> NDArray[np.int64]:
        """Re-rank ``candidates`` (item indexes of ``train``'s vocabulary) to lists of ``k``.

        ``item_vectors`` (in ``train``'s item order) replaces the model's own for MMR;
        ``item_user_counts`` and ``n_training_users`` replace the popularity computed from
        ``train`` for the novelty re-ranker.
        """
        if self.method == "mmr":
            vectors, metric = self.similarity_source(model, train, item_vectors)
            return mmr_rerank(candidates, scores, vectors, lam=self.lam, k=k, metric=metric)
        if item_user_counts is None or n_training_users is None:
            item_user_counts, n_training_users = item_popularity(train.to_csr("ones"))
        return novelty_rerank(candidates, scores, item_user_counts, n_training_users, lam=self.lam, k=k)


def parse_reranker(text: str, *, candidates: int = DEFAULT_CANDIDATES) -> Reranker:
    """A :class:`Reranker` from ``"mmr:0.3"``, ``"mmr:0.3:genres"`` or ``"novelty:0.2"``."""
    parts = [p.strip() for p in str(text).split(":")]
    usage = "use METHOD:LAMBDA such as mmr:0.3, mmr:0.3:genres, mmr:0.3:embedding or novelty:0.2"
    if len(parts) not in (2, 3) or parts[0] not in ("mmr", "novelty"):
        raise ConfigError(f"re-ranker {text!r} is not understood; {usage}.")
    try:
        lam = float(parts[1])
    except ValueError:
        raise ConfigError(f"lambda {parts[1]!r} in re-ranker {text!r} is not a number; {usage}.") from None
    if not 0.0 <= lam <= 1.0:
        raise ConfigError(f"lambda {parts[1]} in re-ranker {text!r} is outside 0..1; {usage}.")
    similarity = "auto"
    if len(parts) == 3:
        if parts[0] != "mmr" or parts[2] not in ("auto", "embedding", "genres"):
            raise ConfigError(f"re-ranker {text!r}: only mmr takes a similarity (auto, embedding or genres); {usage}.")
        similarity = parts[2]
    return Reranker(parts[0], lam, candidates=candidates, similarity=similarity)  # type: ignore[arg-type]
