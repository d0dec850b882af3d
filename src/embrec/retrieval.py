"""Exact or approximate top-N: how ``recommend`` and ``similar`` find their items, and the approximate index.

Exact ranking (:mod:`embrec.ranking`) scores every item for every user; above some tens of
thousands of items an approximate index answers one user several times faster.
:class:`RecommendIndex` and :class:`SimilarIndex` are faiss inverted files (``embrec[ann]``) over
the model's item vectors: k-means groups the items, and a search scores every item of the few
groups whose centroids score best. The model builds one the first time it is asked and keeps
it (:meth:`~embrec.models.base.Recommender.recommend_indexes` with ``retrieval="ann"`` or ``"auto"``).

* **Biases.** The model scores ``p_u . q_i + b_i`` (plus terms the same for every item of a
  user). Items become ``x_i = [q_i, b_i]`` and users ``y_u = [p_u, 1]``, so one inner product
  is the score. The index turns that maximum inner product search into a nearest neighbour
  search (one more coordinate, ``sqrt(R^2 - |x_i|^2)``; Bachrach et al. 2014), exact in
  theory, so an item with a large bias is found for every user.
* **Seen items** are excluded exactly: each user's search asks for ``n`` plus as many items as
  they have seen (rounded up to a power of two; an inverted file pays little for a longer
  list), the seen ones are dropped, and users with more seen items than :data:`MAX_FETCH`
  allows, or left with fewer than ``n`` items, are ranked exactly.
* **Scores** of the items found are recomputed as the exact path computes them, and ties come
  in ascending item index, so an approximate list differs from the exact one only where the
  index missed an item.
* ``similar`` searches unit-length item vectors (cosine similarity) the same way.

``retrieval="auto"`` (:func:`resolve`) picks the index where it was measured to pay
(``docs/benchmarks.md``, section *Retrieval*): for a few users at a time from
:data:`ANN_MIN_ITEMS` items, for many users at once from :data:`ANN_MIN_ITEMS_BATCH`, and only
when the model's scores are a product of factors and faiss is installed.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import scipy.sparse as sp
import torch

from embrec.errors import ConfigError
from embrec.extras import require
from embrec.ranking import Block, Factors, iter_top_n, top_k_rows

__all__ = [
    "ANN_MIN_ITEMS",
    "ANN_MIN_ITEMS_BATCH",
    "FEW_USERS",
    "MAX_FETCH",
    "RETRIEVALS",
    "IndexSettings",
    "RecommendIndex",
    "Retrieval",
    "SimilarIndex",
    "check_retrieval",
    "resolve",
]

log = logging.getLogger(__name__)

#: How top-N lists are found: every item scored (``exact``), through the index (``ann``), or by catalogue size.
Retrieval = Literal["exact", "ann", "auto"]
RETRIEVALS: tuple[str, ...] = get_args(Retrieval)
#: ``auto`` searches the index for a few users at a time from this many items on (measured, docs/benchmarks.md).
ANN_MIN_ITEMS = 20_000
#: ``auto`` searches the index for many users at once from this many items on (measured, docs/benchmarks.md).
ANN_MIN_ITEMS_BATCH = 1_000_000
#: Up to this many users a request counts as "a few" for ``auto``.
FEW_USERS = 64
#: Most items one search asks for; users who need more (``n`` plus their seen items) are ranked exactly.
MAX_FETCH = 1024
#: Fewest lists a search scores: on small catalogues 5% of the lists is too few (docs/benchmarks.md).
MIN_PROBES = 16
#: Share of the lists a similar-items search scores: one query is cheap, and cosine neighbourhoods of
#: item vectors are flatter than users' top lists (recall@10 0.82 at 5%, 0.95 at 20%; docs/benchmarks.md).
SIMILAR_PROBE_SHARE = 0.3
#: Users searched at once: bounds the memory of candidates and their scores.
_SEARCH_BLOCK = 4096


def check_retrieval(retrieval: str) -> Retrieval:
    """``retrieval`` if it is one of :data:`RETRIEVALS`, else :class:`ConfigError` naming them."""
    if retrieval not in RETRIEVALS:
        raise ConfigError(f"retrieval={retrieval!r} is not allowed; use one of {', '.join(map(repr, RETRIEVALS))}.")
    return retrieval  # type: ignore[return-value]


def resolve(retrieval: str, n_items: int, n_users: int = 1, *, has_factors: bool = True) -> Literal["exact", "ann"]:
    """What ``retrieval`` means for a request of ``n_users`` users over ``n_items`` items.

    ``auto`` is ``ann`` from :data:`ANN_MIN_ITEMS` items for up to :data:`FEW_USERS` users and
    from :data:`ANN_MIN_ITEMS_BATCH` items for more, when the model ``has_factors`` and faiss is
    installed; ``exact`` otherwise. ``ann`` and ``exact`` are what they say.
    """
    mode = check_retrieval(retrieval)
    if mode != "auto":
        return mode
    threshold = ANN_MIN_ITEMS if n_users <= FEW_USERS else ANN_MIN_ITEMS_BATCH
    if n_items < threshold or not has_factors:
        return "exact"
    if not _faiss_installed():
        log.info("%s items: retrieval='auto' would search an index, but faiss is not installed (embrec[ann])", n_items)
        return "exact"
    return "ann"


def _faiss_installed() -> bool:
    try:
        return importlib.util.find_spec("faiss") is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class IndexSettings:
    """The index's settings: an inverted file (faiss ``IndexIVFFlat`` over the vectors turned for L2 search).

    The items are grouped around ``lists`` k-means centroids; a search scores the centroids and
    then every item of the ``probes`` lists whose centroids score best.

    Attributes:
        lists: groups of items (``None``: ``4 sqrt(n_items)``, the usual rule, at least 1 and at
            most ``n_items / 32``).
        probe_share: the share of lists searched (``probes = ceil(probe_share * lists)``, at
            least :data:`MIN_PROBES`): the trade of speed for recall, 5% chosen for recall@10 >= 0.95 on planted
            data of ML-25M's shape (docs/benchmarks.md, section *Retrieval*).
        seed: seed of the k-means that places the centroids.
    """

    lists: int | None = None
    probe_share: float = 0.05
    seed: int = 1234

    def __post_init__(self) -> None:
        if self.lists is not None and (
            isinstance(self.lists, bool) or not isinstance(self.lists, int) or self.lists < 1
        ):
            raise ConfigError(f"lists={self.lists!r} is not allowed; give a whole number of 1 or more, or None.")
        if not 0 < self.probe_share <= 1:
            raise ConfigError(f"probe_share={self.probe_share!r} is not allowed; give a share above 0, at most 1.")

    def n_lists(self, n_items: int) -> int:
        if self.lists is not None:
            return max(1, min(self.lists, n_items))
        return max(1, min(round(4 * math.sqrt(n_items)), n_items // 32))

    def n_probes(self, n_lists: int) -> int:
        return min(n_lists, max(MIN_PROBES, math.ceil(self.probe_share * n_lists)))


class _InvertedFile:
    """A faiss inverted file over vectors, searched by inner product."""

    def __init__(self, vectors: np.ndarray, settings: IndexSettings) -> None:
        require("ann", "approximate retrieval (retrieval='ann')")
        import faiss

        data = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = data.shape
        self.settings = settings
        self.lists = settings.n_lists(n)
        self.probes = settings.n_probes(self.lists)
        # maximum inner product as nearest neighbours (Bachrach et al. 2014): each vector gets one
        # more coordinate, sqrt(R^2 - |x|^2), and queries a zero there, so the nearest vector by
        # L2 is the one of largest inner product; k-means then groups by what scores alike
        norms = (data.astype(np.float64) ** 2).sum(axis=1)
        radius = float(norms.max()) if n else 0.0
        data = np.hstack([data, np.sqrt(np.maximum(radius - norms, 0.0))[:, None]]).astype(np.float32)
        self.quantizer = faiss.IndexFlatL2(dim + 1)  # kept alive: the index refers to it
        self.index = faiss.IndexIVFFlat(self.quantizer, dim + 1, self.lists, faiss.METRIC_L2)
        self.index.cp.seed = settings.seed
        self.index.cp.min_points_per_centroid = 1  # small catalogues: no warning for few points per list
        self.index.train(data)
        self.index.add(data)
        self.index.nprobe = self.probes

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Ids (``-1`` where fewer were found) of the ``k`` best items for each query, ``(len(queries), k)``."""
        padded = np.zeros((len(queries), queries.shape[1] + 1), dtype=np.float32)
        padded[:, :-1] = queries
        _, ids = self.index.search(padded, k)
        return ids.astype(np.int64, copy=False)

    def __repr__(self) -> str:
        return f"inverted file: {self.index.ntotal:,} items in {self.lists:,} lists, {self.probes} searched"


class RecommendIndex:
    """Approximate top-N for users of a factor model: an inverted file over ``[q_i, b_i]``.

    Build it with the model's :class:`~embrec.ranking.Factors` (``Recommender`` does, once per
    fitted or loaded model); :meth:`iter_recommend` ranks as :func:`embrec.ranking.iter_top_n`
    does, from the items the index finds instead of every item.
    """

    def __init__(self, factors: Factors, settings: IndexSettings | None = None) -> None:
        require("ann", "approximate retrieval (retrieval='ann')")
        if factors.device.type != "cpu":
            factors = factors.to("cpu")
        self.factors = factors
        self.settings = settings = settings or IndexSettings()
        users, items = factors.augmented()
        self._users = users.numpy()
        self.index = _InvertedFile(items.numpy(), settings)

    @property
    def n_items(self) -> int:
        return self.factors.n_items

    def recommend(
        self, users: np.ndarray, n: int, *, seen: sp.csr_matrix | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(items, scores)`` of each user's ``n`` best items the index finds, as :func:`embrec.ranking.top_n`."""
        users = np.asarray(users, dtype=np.int64)
        items = np.full((len(users), n), -1, dtype=np.int64)
        scores = np.full((len(users), n), -np.inf, dtype=np.float32)
        for block in self.iter_recommend(users, n, seen=seen):
            rows = slice(block.start, block.start + len(block.items))
            items[rows], scores[rows] = block.items, block.scores
        return items, scores

    def iter_recommend(
        self, users: np.ndarray, n: int, *, seen: sp.csr_matrix | None = None, block_size: int = _SEARCH_BLOCK
    ) -> Iterator[Block]:
        """:meth:`recommend` a block of users at a time (memory for one block)."""
        users = np.asarray(users, dtype=np.int64)
        seen = None if seen is None else sp.csr_matrix(seen)
        for start in range(0, len(users), block_size):
            batch = users[start : start + block_size]
            yield Block(start, *self._block(batch, n, seen))

    def _block(self, batch: np.ndarray, n: int, seen: sp.csr_matrix | None) -> tuple[np.ndarray, np.ndarray]:
        items = np.full((len(batch), n), -1, dtype=np.int64)
        scores = np.full((len(batch), n), -np.inf, dtype=np.float32)
        k = min(n, self.n_items)
        n_seen = np.diff(seen.indptr)[batch] if seen is not None else np.zeros(len(batch), dtype=np.int64)
        fetch = np.maximum(16, 2 ** np.ceil(np.log2(np.maximum(k + n_seen, 1))).astype(np.int64))
        fetch = np.minimum(fetch, self.n_items)
        exact = (k + n_seen > MAX_FETCH) | (k + n_seen >= self.n_items)
        for size in np.unique(fetch[~exact]):
            rows = np.flatnonzero((fetch == size) & ~exact)
            found = self.index.search(self._users[batch[rows]], int(size))
            top, vals, short = self._rank_found(batch[rows], found, k, seen)
            items[rows, :k], scores[rows, :k] = top, vals
            exact[rows[short]] = True
        if exact.any():
            rows = np.flatnonzero(exact)
            for block in iter_top_n(self.factors, batch[rows], n, seen=seen):
                part = rows[block.start : block.start + len(block.items)]
                items[part], scores[part] = block.items, block.scores
        return items, scores

    def _rank_found(
        self, users: np.ndarray, found: np.ndarray, k: int, seen: sp.csr_matrix | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``k`` best of the items found per user, scored exactly; and which users were left short."""
        found = np.sort(found, axis=1)  # ascending item index: top_k_rows breaks ties by position
        valid = found >= 0
        if seen is not None:
            valid &= ~_is_seen(seen, users, found)
        wanted, place = np.unique(np.where(valid, found, 0), return_inverse=True)
        place = place.reshape(found.shape)
        f = self.factors
        wanted_t = torch.from_numpy(wanted)
        bias = None if f.item_bias is None else f.item_bias.index_select(0, wanted_t)
        # one product of the users with the items found: the numbers the exact path computes
        sub = Factors(f.users, f.items.index_select(0, wanted_t), bias).scores(users).numpy()
        table = np.where(valid, np.take_along_axis(sub, place, axis=1), -np.inf).astype(np.float32)
        vals, pos = top_k_rows(torch.from_numpy(table), k)
        top = np.take_along_axis(found, pos.numpy(), axis=1)
        vals_np = vals.numpy()
        # too few unseen items found, or some scored NaN or infinite: the exact path decides those
        short = (valid.sum(axis=1) < k) | ~np.isfinite(vals_np).all(axis=1)
        return np.where(np.isfinite(vals_np), top, -1), vals_np, np.flatnonzero(short)


class SimilarIndex:
    """Approximate most-similar items by cosine similarity: an inverted file over unit-length item vectors."""

    def __init__(self, vectors: np.ndarray, settings: IndexSettings | None = None) -> None:
        require("ann", "approximate retrieval of similar items (retrieval='ann')")
        v = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        self.unit = torch.nn.functional.normalize(v, dim=1)
        self.index = _InvertedFile(self.unit.numpy(), settings or IndexSettings(probe_share=SIMILAR_PROBE_SHARE))

    def similar(self, item: int, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(indexes, similarities)`` of the ``n`` most similar items the index finds (the item left
        out; equal similarities by lower index), or ``None`` when it finds fewer than ``n``."""
        n_items = self.unit.shape[0]
        k = min(n, n_items - 1)
        found = self.index.search(self.unit[item : item + 1].numpy(), min(n_items, k + 1))[0]
        found = np.sort(found[(found >= 0) & (found != item)])
        if len(found) < k:
            return None
        sims = self.unit[torch.from_numpy(found)] @ self.unit[item]
        vals, pos = top_k_rows(sims[None, :], k)
        return found[pos[0].numpy()], vals[0].numpy().astype(np.float64)


def _is_seen(seen: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Whether ``items[r, j]`` is among the seen items of ``users[r]`` (boolean, the shape of ``items``)."""
    sub = seen[users]
    sub.sort_indices()
    n_items = seen.shape[1]
    keys = np.repeat(np.arange(len(users), dtype=np.int64) * n_items, np.diff(sub.indptr)) + sub.indices
    query = np.arange(len(users), dtype=np.int64)[:, None] * n_items + np.maximum(items, 0)
    pos = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
    return (keys[pos] == query) if len(keys) else np.zeros(items.shape, dtype=bool)
