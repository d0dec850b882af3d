"""Neighbourhood baselines: item-kNN and user-kNN, as LensKit's ``ItemKNNScorer`` and ``UserKNNScorer``.

Both score an item for a user from the ``neighbours`` most similar neighbours that have a say:
for item-kNN the items the user rated that are most similar to the item, for user-kNN the users
who rated the item that are most similar to the user. Similarity is the cosine of mean-centred
rating vectors (explicit feedback) or of binary ones (implicit feedback), damped by ``shrinkage``;
only neighbours above ``min_similarity`` count, so negative similarities never do.

With explicit feedback a score is a predicted rating, the centring mean plus the
similarity-weighted average of the neighbours' centred ratings; with implicit feedback it is the
sum of the neighbours' similarities (LensKit's implicit mode), a ranking score only.

Everything runs on blocks of numbers of bounded size (:data:`_BLOCK`, :data:`_DENSE`): item-kNN
keeps a sparse item x item matrix, built a block of items at a time, and user-kNN works out
the similarities of a block of users when it scores them, never the whole user x user matrix.
"""

from __future__ import annotations

import contextlib
import logging
import time
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import torch

from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, TrainingError
from embrec.models.base import ProgressFn, Recommender
from embrec.models.settings import ModelConfig, NonNegative, Positive, PositiveInt, Threads
from embrec.models.space import Float, Int, SearchSpace

__all__ = [
    "ItemKNNConfig",
    "ItemKNNRecommender",
    "UserKNNConfig",
    "UserKNNRecommender",
    "item_similarities",
]

log = logging.getLogger(__name__)

Feedback = Literal["auto", "explicit", "implicit"]

#: Most numbers in one block of gathered neighbour similarities (16 MB of float32; the few
#: temporaries made from one block bring a scoring step to about 100 MB).
_BLOCK = 1 << 22
#: Most numbers in one dense block of similarity rows: item rows while fitting item-kNN, a block
#: of users' similarities to every user while scoring with user-kNN.
_DENSE = 1 << 22


# ---------------------------------------------------------------------- settings
@dataclass(frozen=True, kw_only=True)
class _KNNConfig(ModelConfig):
    """Settings shared by item-kNN and user-kNN."""

    #: What ``embrec tune`` tries: LensKit's 20 neighbours inside the range, and no to strong damping.
    search_space: ClassVar[SearchSpace] = {
        "neighbours": Int(5, 200, log=True),
        "shrinkage": Float(0.0, 100.0),
    }

    neighbours: PositiveInt = 20
    """Most neighbours in one score: for each (user, item), the ``neighbours`` most similar of the candidates
    (ties with the last one are all kept). 20 is LensKit's ``max_nbrs`` default for both models."""
    min_neighbours: PositiveInt = 1
    """Fewest neighbours a score needs (LensKit's ``min_nbrs``, 1). With fewer, LensKit leaves the item unscored;
    here an explicit model predicts the centring mean and ranks the item after every one it can score, and an
    implicit one scores it 0. At most ``neighbours``."""
    min_similarity: Positive = 1e-6
    """Neighbours need a similarity above this (LensKit's ``min_sim``, 1e-6): negative and zero similarities
    never count."""
    shrinkage: NonNegative = 0.0
    """Damping of the similarity, ``dot(a, b) / (|a| |b| + shrinkage)``, which pulls pairs with little
    overlap towards 0 (RecBole's ``shrink``). The default 0 is the plain cosine, as LensKit and RecBole."""
    feedback: Feedback = "auto"
    """``explicit``: centre the ratings and predict stars; ``implicit``: binary vectors, scores are sums of
    similarities (ranking only); ``auto`` (the default; LensKit's is ``explicit``): ``explicit`` for data with
    ratings of more than one value, ``implicit`` otherwise."""
    threads: Threads | None = 1
    """torch threads while scoring, at most 256 (``None``: torch's setting, every core). The kernels are many small
    steps, which wait for every thread: on the shared 2-core development machine, with other work running, item-kNN
    on ml-100k ranked every user in 2.4 s and predicted the 10,000 test ratings in 0.11 s on one thread, against
    5.7 s and 1.1 s on two. On a dedicated many-core machine ``None`` is faster."""

    def _validate(self) -> None:
        if self.min_neighbours > self.neighbours:
            raise self._bad("min_neighbours", f"give at most neighbours={self.neighbours}")


@dataclass(frozen=True, kw_only=True)
class ItemKNNConfig(_KNNConfig):
    """Configuration of :class:`ItemKNNRecommender`."""

    model_name: ClassVar[str] = "item_knn"

    saved_neighbours: PositiveInt | None = 1000
    """Most similar items kept per item in the fitted model (LensKit's ``save_nbrs``; ``None`` keeps every one
    above ``min_similarity``, LensKit's default). Memory is 8 bytes a kept pair; on ml-100k (1,682 items)
    1000 gives the same test RMSE as ``None`` and bounds a 60,000-item catalogue to under 0.5 GB."""


@dataclass(frozen=True, kw_only=True)
class UserKNNConfig(_KNNConfig):
    """Configuration of :class:`UserKNNRecommender`."""

    model_name: ClassVar[str] = "user_knn"


# ---------------------------------------------------------------------- kernels
def _damped_cosine(dots: np.ndarray, left: np.ndarray, right: np.ndarray, shrinkage: float) -> np.ndarray:
    """``dots / (left x right + shrinkage)`` with 0 where the denominator is 0 (an empty vector)."""
    denominator = left[:, None] * right[None, :] + shrinkage
    return np.divide(dots, denominator, out=np.zeros_like(dots), where=denominator > 0)


def _column_norms(x: sp.csr_matrix) -> np.ndarray:
    return np.sqrt(np.asarray(x.multiply(x).sum(axis=0), dtype=np.float64).ravel())


def item_similarities(
    x: sp.spmatrix, *, min_similarity: float, shrinkage: float = 0.0, keep: int | None = None
) -> sp.csr_matrix:
    """Damped cosine similarities of the columns (items) of the users x items matrix ``x``, as a sparse matrix.

    Row ``i`` holds the items ``j != i`` whose ``dot(x_i, x_j) / (|x_i| |x_j| + shrinkage)`` is above
    ``min_similarity``, at most ``keep`` of them (the most similar; ``None``: all). The dense rows are
    worked out a block of items at a time (:data:`_DENSE` numbers), so memory is that block plus
    the kept pairs. Returns float32 values with sorted column indexes.
    """
    x = sp.csr_matrix(x, dtype=np.float64)
    n_items = x.shape[1]
    by_item = x.T.tocsr()
    norms = _column_norms(x)
    step = max(1, _DENSE // max(n_items, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n_items, step):
        stop = min(n_items, start + step)
        sims = _damped_cosine((by_item[start:stop] @ x).toarray(), norms[start:stop], norms, shrinkage)
        local = np.arange(stop - start)
        sims[local, local + start] = 0.0  # an item is not its own neighbour
        sims[sims <= min_similarity] = 0.0
        if keep is not None and keep < n_items:
            top = np.argpartition(sims, n_items - keep, axis=1)[:, n_items - keep :]
            picked = np.take_along_axis(sims, top, axis=1)
            row = np.repeat(local + start, keep)
            col, val = top.ravel(), picked.ravel()
            kept = val > 0
            row, col, val = row[kept], col[kept], val[kept]
        else:
            row, col = np.nonzero(sims)
            val = sims[row, col]
            row = row + start
        rows.append(row)
        cols.append(col)
        vals.append(val.astype(np.float32))
    matrix = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items), dtype=np.float32
    )
    matrix.sort_indices()
    return matrix


def _widths(lengths: np.ndarray) -> np.ndarray:
    """How wide a row of ``length`` candidates is padded: ``length`` rounded up to a quarter of its power of 2.

    It depends on the length alone, so a user's (or item's) padded row is the same whatever else
    is scored with it, and the scores of a block equal those of its users one by one, to the bit.
    Padding wastes at most a quarter.
    """
    lengths = np.maximum(np.asarray(lengths, dtype=np.int64), 1)
    quantum = 2 ** np.maximum(np.floor(np.log2(lengths)).astype(np.int64) - 2, 0)
    return -(-lengths // quantum) * quantum


def _padded(
    matrix: sp.csr_matrix, rows: np.ndarray, width: int, pad: int, dtype: type = np.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Column indexes and values of ``matrix``'s ``rows``, each padded to ``width`` with column ``pad`` and 0."""
    starts = matrix.indptr[rows].astype(np.int64)
    lengths = matrix.indptr[rows + 1].astype(np.int64) - starts
    offsets = np.cumsum(lengths) - lengths
    flat = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - offsets, lengths)
    filled = np.arange(width) < lengths[:, None]
    idx = np.full((len(rows), width), pad, dtype=np.int64)
    vals: np.ndarray = np.zeros((len(rows), width), dtype=dtype)
    idx[filled] = matrix.indices[flat]
    vals[filled] = matrix.data[flat]
    return torch.from_numpy(idx), torch.from_numpy(vals)


def _aggregate(
    sims: torch.Tensor, values: torch.Tensor | None, neighbours: int, min_similarity: float, *, counted: bool
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
    """Sums over the chosen neighbours along the last dimension of ``sims`` (the candidates).

    The chosen are the ``neighbours`` most similar candidates above ``min_similarity`` (ties with
    the last one all kept; padding is similarity 0, never chosen). Returns ``(sum of similarity x
    value, sum of similarity, count)``, the first ``None`` without ``values``, the last unless ``counted``.
    """
    chosen = sims > min_similarity
    if sims.shape[-1] > neighbours:
        last = torch.topk(sims, neighbours, dim=-1, sorted=False).values.amin(dim=-1, keepdim=True)
        chosen &= sims >= last
    weights = sims * chosen
    weighted = (weights * values).sum(dim=-1) if values is not None else None
    return weighted, weights.sum(dim=-1), chosen.sum(dim=-1) if counted else None


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """torch's CPU thread count set to ``threads`` inside the block (``None``: left as it is), then restored."""
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _groups(widths: np.ndarray, lengths: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """``(width, positions)`` of the rows with at least one candidate, by padded width."""
    for width in np.unique(widths[lengths > 0]):
        yield int(width), np.flatnonzero((widths == width) & (lengths > 0))


def _rating_values(train: Interactions, seen: sp.csr_matrix) -> np.ndarray:
    """Each (user, item)'s rating in the order of ``seen``'s entries (the mean of a pair rated twice)."""
    sums = train.to_csr("ratings")
    if not (np.array_equal(sums.indptr, seen.indptr) and np.array_equal(sums.indices, seen.indices)):
        raise TrainingError(f"the ratings of {train.name!r} do not line up with its users x items matrix.")
    return (sums.data.astype(np.float64) / seen.data).astype(np.float32)


def _group_means(values: np.ndarray, groups: np.ndarray, size: int, fallback: float) -> np.ndarray:
    """Mean of ``values`` per group (``fallback`` for a group without any), float64."""
    total = np.bincount(groups, weights=values, minlength=size)
    count = np.bincount(groups, minlength=size)
    return np.divide(total, count, out=np.full(size, fallback, dtype=np.float64), where=count > 0)


# ---------------------------------------------------------------------- shared base
class _KNNRecommender(Recommender):
    """What item-kNN and user-kNN share: feedback, the rating matrix, predictions on the star scale."""

    config: _KNNConfig
    resolved_config_: _KNNConfig
    #: Each training (user, item)'s rating, in the order of ``seen_``'s entries (explicit feedback only).
    ratings_: np.ndarray

    @property
    def predicts_ratings(self) -> bool:  # type: ignore[override]
        """True with explicit feedback (decided by ``fit`` for ``feedback='auto'``)."""
        resolved = getattr(self, "resolved_config_", None)
        return (resolved.feedback if resolved is not None else self.config.feedback) == "explicit"

    @property
    def _explicit(self) -> bool:
        return self.resolved_config_.feedback == "explicit"

    def _resolve_feedback(self, train: Interactions) -> str:
        asked = self.config.feedback
        if train.ratings is None:
            if asked == "explicit":
                raise ConfigError(
                    f"feedback='explicit' needs ratings, and {train.name!r} has none (implicit feedback); "
                    "use feedback='implicit' or 'auto'."
                )
            return "implicit"
        if asked == "auto":
            # ratings of one value centre to nothing: only the binary matrix is left to learn from
            return "explicit" if float(np.ptp(train.ratings)) > 0 else "implicit"
        return asked

    def _start_fit(self, train: Interactions) -> np.ndarray | None:
        """Resolve the settings; the per-entry ratings of ``seen_`` with explicit feedback, else ``None``."""
        self.resolved_config_ = self.config.replace(feedback=self._resolve_feedback(train))
        return _rating_values(train, self.seen_) if self._explicit else None

    def _with_values(self, values: np.ndarray | None) -> sp.csr_matrix:
        """``seen_``'s pattern with ``values`` (``None``: ones), float64."""
        seen = self.seen_
        data = np.ones(seen.nnz) if values is None else np.asarray(values, dtype=np.float64)
        return sp.csr_matrix((data, seen.indices, seen.indptr), shape=seen.shape)

    def _check_ratings(self, ratings: np.ndarray) -> np.ndarray:
        ratings = np.ascontiguousarray(ratings, dtype=np.float32)
        if ratings.shape != (self.seen_.nnz,):
            raise ValueError(f"ratings have shape {ratings.shape}, the seen matrix has {self.seen_.nnz} entries")
        return ratings

    def _clip(self, stars: np.ndarray) -> np.ndarray:
        if self.rating_scale_ is None:
            return stars
        lo, hi = self.rating_scale_
        return np.clip(stars, lo, hi)

    def _output_scores(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray) -> np.ndarray:
        # explicit scores are predicted stars: shown on the scale, as predict() gives them (items ranked
        # as unscored show the lowest star, to keep the list in order)
        if not self._explicit:
            return scores
        return np.where(np.isfinite(scores), self._clip(scores), scores).astype(np.float32)

    def _predict_indexes(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        self._check_fitted()
        if not self._explicit:
            raise ConfigError(
                f"model {self.name!r} was fitted with feedback='implicit', so its scores are sums of similarities, "
                "not ratings; use recommend(), or fit it with feedback='explicit' on data with ratings."
            )
        with _torch_threads(self.config.threads), torch.no_grad():
            stars = self._predict_pairs(np.asarray(users, np.int64), np.asarray(items, np.int64))
        return self._clip(stars)

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        self._check_fitted()
        with _torch_threads(self.config.threads), torch.no_grad():
            return self._score_block(np.asarray(users, dtype=np.int64))

    @abstractmethod
    def _score_block(self, users: np.ndarray) -> torch.Tensor:
        """Ranking scores of every item for the user indexes ``users`` (int64)."""

    @abstractmethod
    def _predict_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Unclipped predicted stars of aligned user and item indexes (explicit feedback), float64."""

    def _offsets(self, sims: torch.Tensor, values: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """What the neighbours among the candidates ``sims`` (last dimension) add to the baseline, and where
        there are enough of them: the weighted average of their ``values`` (explicit), or the sum of their
        similarities (``values`` is ``None``); 0 where there are too few."""
        cfg = self.config
        counted = cfg.min_neighbours > 1
        weighted, total, count = _aggregate(sims, values, cfg.neighbours, cfg.min_similarity, counted=counted)
        # every chosen similarity is above min_similarity > 0, so a positive total means one or more neighbours
        enough = count >= cfg.min_neighbours if count is not None else total > 0
        if weighted is None:
            return total * enough, enough
        return weighted / torch.where(enough, total, 1.0) * enough, enough

    def _ranked(self, sims: torch.Tensor, values: torch.Tensor | None) -> torch.Tensor:
        """:meth:`_offsets` for ranking: an unscored (user, item) goes :meth:`_unscored` below the baseline."""
        offsets, enough = self._offsets(sims, values)
        return offsets - self._unscored() * ~enough

    def _unscored(self) -> float:
        """How far below its baseline an explicit model ranks an item it cannot score (LensKit leaves it unscored).

        Three times the spread of the training ratings: a score is the baseline, a mean rating, plus
        an average of centred ratings, so every scored item ranks above every unscored one. 0 for
        implicit feedback, whose unscored items already score 0, below any sum of similarities.
        """
        if not self._explicit or not len(self.ratings_):
            return 0.0
        return 3.0 * float(self.ratings_.max() - self.ratings_.min())


# ---------------------------------------------------------------------- item-kNN
class ItemKNNRecommender(_KNNRecommender):
    """Item-kNN (item-item collaborative filtering): a user's ratings of the items most similar to the item.

    ``score(u, i) = mu_i + sum_j s_ij (r_uj - mu_j) / sum_j s_ij`` over the ``neighbours`` items ``j``
    the user rated that are most similar to ``i`` (similarity ``s_ij`` above ``min_similarity``);
    ``mu_i`` is item ``i``'s mean rating, and ``s`` the (damped) cosine of the items' mean-centred
    rating columns. With implicit feedback the columns are binary, not centred, and the score is
    ``sum_j s_ij``. As LensKit's ``ItemKNNScorer`` (after Deshpande and Karypis, "Item-based top-N
    recommendation algorithms", TOIS 2004; Sarwar et al., WWW 2001), with the same defaults.

    Items with fewer than ``min_neighbours`` neighbours are predicted their mean rating and ranked
    after every item that has enough (LensKit leaves them unscored). Explicit scores rank poorly
    (an item with a single neighbour can top a list): for top-N use ``feedback="implicit"``.
    The fitted model keeps the ``saved_neighbours`` most similar items of each item, a sparse
    matrix built a block of items at a time; a block of users is scored against a block of items
    at a time.
    """

    name = "item_knn"
    config_class = ItemKNNConfig
    config: ItemKNNConfig
    resolved_config_: ItemKNNConfig

    def _fit(self, train: Interactions, progress: ProgressFn | None) -> None:
        cfg = self.config
        start = time.perf_counter()
        ratings = self._start_fit(train)
        if ratings is not None:
            self.item_means_ = _group_means(
                ratings.astype(np.float64), self.seen_.indices, train.n_items, float(ratings.mean())
            )
            self.ratings_ = ratings
        x = self._prepare()
        self.similarities_ = item_similarities(
            x, min_similarity=cfg.min_similarity, shrinkage=cfg.shrinkage, keep=cfg.saved_neighbours
        )
        self.train_seconds_ = time.perf_counter() - start
        log.info(
            "item-kNN (%s) on %d items: %d neighbour pairs in %.2f s",
            self.resolved_config_.feedback,
            train.n_items,
            self.similarities_.nnz,
            self.train_seconds_,
        )

    def _prepare(self) -> sp.csr_matrix:
        """The users x items matrix scores are made from: centred ratings (explicit) or ones; kept as ``_rows``."""
        if self._explicit:
            centred = self.ratings_.astype(np.float64) - self.item_means_[self.seen_.indices]
            self._rows = self._with_values(centred)
        else:
            self._rows = self._with_values(None)
        return self._rows

    def _baseline(self, n_rows: int) -> torch.Tensor:
        n_items = len(self.item_ids_)
        if not self._explicit:
            return torch.zeros((n_rows, n_items), dtype=torch.float32)
        means = torch.from_numpy(self.item_means_.astype(np.float32))
        return means.unsqueeze(0).repeat(n_rows, 1)

    def _extended(self) -> sp.csr_matrix:
        """The similarity matrix with one more, empty, column: the padding of rows of candidates points there."""
        s = self.similarities_
        return sp.csr_matrix((s.data, s.indices, s.indptr), shape=(s.shape[0], s.shape[1] + 1))

    def _score_block(self, users: np.ndarray) -> torch.Tensor:
        n_items = len(self.item_ids_)
        lengths = np.diff(self._rows.indptr)[users]
        out = self._baseline(len(users))
        out[torch.from_numpy(lengths == 0)] -= self._unscored()  # no rated items: nothing to score from
        groups = [
            (width, torch.from_numpy(rows), *_padded(self._rows, users[rows], width, n_items))
            for width, rows in _groups(_widths(lengths), lengths)
        ]
        similarities = self._extended()
        item_step = max(1, _DENSE // (n_items + 1))
        for i0 in range(0, n_items, item_step):
            i1 = min(n_items, i0 + item_step)
            dense = torch.from_numpy(similarities[i0:i1].toarray())  # (items, n_items + 1)
            for width, rows, idx, vals in groups:
                c_step = max(1, min(i1 - i0, _BLOCK // width))
                for c0 in range(i0, i1, c_step):
                    c1 = min(i1, c0 + c_step)
                    part = dense[c0 - i0 : c1 - i0]
                    u_step = max(1, _BLOCK // ((c1 - c0) * width))
                    for u0 in range(0, len(rows), u_step):
                        sub = idx[u0 : u0 + u_step]
                        sims = part.index_select(1, sub.reshape(-1)).view(c1 - c0, len(sub), width)
                        values = vals[u0 : u0 + u_step].unsqueeze(0) if self._explicit else None
                        out[rows[u0 : u0 + u_step], c0:c1] += self._ranked(sims, values).T
        return out

    def _predict_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        n_items = len(self.item_ids_)
        out = self.item_means_[items].astype(np.float64)
        lengths = np.diff(self._rows.indptr)[users]
        similarities = self._extended()
        for width, pairs in _groups(_widths(lengths), lengths):
            step = max(1, _BLOCK // max(width, n_items + 1))
            for p0 in range(0, len(pairs), step):
                p = pairs[p0 : p0 + step]
                rows = torch.from_numpy(similarities[items[p]].toarray().astype(np.float64))
                idx, vals = _padded(self._rows, users[p], width, n_items, np.float64)
                sims = torch.gather(rows, 1, idx)
                out[p] += self._offsets(sims, vals)[0].numpy()
        return out

    def _get_state(self) -> dict[str, np.ndarray]:
        s = self.similarities_
        state = {
            "similarity_indptr": s.indptr.astype(np.int64),
            "similarity_indices": s.indices.astype(np.int32),
            "similarity_values": s.data.astype(np.float32),
        }
        if self._explicit:
            state["item_means"] = self.item_means_
            state["ratings"] = self.ratings_
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        n = len(self.item_ids_)
        indptr = np.asarray(state["similarity_indptr"], dtype=np.int64)
        indices = np.asarray(state["similarity_indices"], dtype=np.int32)
        values = np.asarray(state["similarity_values"], dtype=np.float32)
        if indptr.shape != (n + 1,) or indptr[0] != 0 or indptr[-1] != len(indices) or (np.diff(indptr) < 0).any():
            raise ValueError(f"similarity_indptr does not describe {n} rows of {len(indices)} entries")
        if indices.shape != values.shape or (len(indices) and (indices.min() < 0 or indices.max() >= n)):
            raise ValueError(f"similarity_indices and similarity_values do not fit {n} items")
        if self._explicit:
            means = np.asarray(state["item_means"], dtype=np.float64)
            if means.shape != (n,):
                raise ValueError(f"item_means has shape {means.shape}, the vocabulary has {n} items")
            self.item_means_ = means
            self.ratings_ = self._check_ratings(state["ratings"])
        self.similarities_ = sp.csr_matrix((values, indices, indptr), shape=(n, n))
        self._prepare()


# ---------------------------------------------------------------------- user-kNN
class UserKNNRecommender(_KNNRecommender):
    """User-kNN (user-user collaborative filtering): the item's ratings by the users most similar to the user.

    ``score(u, i) = mu_u + sum_v s_uv (r_vi - mu_v) / sum_v s_uv`` over the ``neighbours`` users ``v``
    who rated ``i`` that are most similar to ``u`` (similarity ``s_uv`` above ``min_similarity``);
    ``mu_u`` is user ``u``'s mean rating and ``s`` the (damped) cosine of the users' mean-centred
    rating rows. With implicit feedback the rows are binary, not centred, and the score is
    ``sum_v s_uv``. As LensKit's ``UserKNNScorer`` (after Herlocker et al., "An algorithmic
    framework for performing collaborative filtering", SIGIR 1999), with the same defaults.

    Items with fewer than ``min_neighbours`` neighbours are predicted the user's mean rating and
    ranked after every item that has enough; as for item-kNN, top-N wants ``feedback="implicit"``.
    Nothing user x user is kept: the similarities of a block of users to every user are worked
    out when the block is scored.
    """

    name = "user_knn"
    config_class = UserKNNConfig
    config: UserKNNConfig
    resolved_config_: UserKNNConfig

    def _fit(self, train: Interactions, progress: ProgressFn | None) -> None:
        start = time.perf_counter()
        ratings = self._start_fit(train)
        if ratings is not None:
            users = np.repeat(np.arange(train.n_users), np.diff(self.seen_.indptr))
            self.user_means_ = _group_means(ratings.astype(np.float64), users, train.n_users, float(ratings.mean()))
            self.ratings_ = ratings
        self._prepare()
        self.train_seconds_ = time.perf_counter() - start
        log.info(
            "user-kNN (%s) on %d users took %.2f s", self.resolved_config_.feedback, train.n_users, self.train_seconds_
        )

    def _prepare(self) -> None:
        """The matrices scoring uses: users x items rows (centred or ones), their norms, and each item's raters."""
        n_users = len(self.user_ids_)
        if self._explicit:
            rows = np.repeat(np.arange(n_users), np.diff(self.seen_.indptr))
            self._rows = self._with_values(self.ratings_.astype(np.float64) - self.user_means_[rows])
        else:
            self._rows = self._with_values(None)
        self._norms = np.sqrt(np.asarray(self._rows.multiply(self._rows).sum(axis=1), dtype=np.float64).ravel())
        by_item = self._rows.T.tocsr()
        self._raters = by_item  # items x users, the same values
        # every user's column plus one empty one, where padding points
        self._columns = sp.csr_matrix(
            (by_item.data, by_item.indices, by_item.indptr), shape=(by_item.shape[0], n_users + 1)
        )
        lengths = np.diff(by_item.indptr)
        self._unrated = lengths == 0
        self._item_groups = [
            (width, torch.from_numpy(items), *_padded(by_item, items, width, n_users))
            for width, items in _groups(_widths(lengths), lengths)
        ]

    def _similarities(self, users: np.ndarray) -> np.ndarray:
        """Damped cosine of ``users`` with every user, ``(len(users), n_users + 1)`` float64 (last column 0)."""
        dots = (self._rows[users] @ self._columns).toarray()
        norms = np.append(self._norms, 0.0)
        sims = _damped_cosine(dots, self._norms[users], norms, self.config.shrinkage)
        sims[np.arange(len(users)), users] = 0.0  # a user is not their own neighbour
        return sims

    def _baseline(self, users: np.ndarray) -> torch.Tensor:
        n_items = len(self.item_ids_)
        if not self._explicit:
            return torch.zeros((len(users), n_items), dtype=torch.float32)
        means = torch.from_numpy(self.user_means_[users].astype(np.float32))
        return means.unsqueeze(1).repeat(1, n_items)

    def _score_block(self, users: np.ndarray) -> torch.Tensor:
        n_users = len(self.user_ids_)
        out = self._baseline(users)
        out[:, torch.from_numpy(self._unrated)] -= self._unscored()  # items nobody rated: nothing to score from
        user_step = max(1, _DENSE // (n_users + 1))
        for u0 in range(0, len(users), user_step):
            block = users[u0 : u0 + user_step]
            sims = torch.from_numpy(self._similarities(block).astype(np.float32))
            for width, items, idx, vals in self._item_groups:
                c_step = max(1, min(len(items), _BLOCK // width))
                for c0 in range(0, len(items), c_step):
                    cols, sub = items[c0 : c0 + c_step], idx[c0 : c0 + c_step]
                    values = vals[c0 : c0 + c_step].unsqueeze(0) if self._explicit else None
                    b_step = max(1, _BLOCK // (len(cols) * width))
                    for b0 in range(0, len(block), b_step):
                        part = sims[b0 : b0 + b_step].index_select(1, sub.reshape(-1)).view(-1, len(cols), width)
                        rows = out[u0 + b0 : u0 + b0 + len(part)]
                        rows[:, cols] += self._ranked(part, values)
        return out

    def _predict_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        n_users = len(self.user_ids_)
        out = self.user_means_[users].astype(np.float64)
        order = np.argsort(users, kind="stable")
        unique, first = np.unique(users[order], return_index=True)
        bounds = np.append(first, len(order))
        step = max(1, _DENSE // (n_users + 1))
        lengths_all = np.diff(self._raters.indptr)
        for g0 in range(0, len(unique), step):
            block = unique[g0 : g0 + step]
            sims = torch.from_numpy(self._similarities(block))
            pairs = order[bounds[g0] : bounds[min(g0 + step, len(unique))]]
            row_of = np.searchsorted(block, users[pairs])
            lengths = lengths_all[items[pairs]]
            for width, positions in _groups(_widths(lengths), lengths):
                p_step = max(1, _BLOCK // width)
                for p0 in range(0, len(positions), p_step):
                    at = positions[p0 : p0 + p_step]
                    idx, vals = _padded(self._raters, items[pairs[at]], width, n_users, np.float64)
                    part = sims[torch.from_numpy(row_of[at]).unsqueeze(1), idx]
                    out[pairs[at]] += self._offsets(part, vals)[0].numpy()
        return out

    def _get_state(self) -> dict[str, np.ndarray]:
        if not self._explicit:
            return {}  # the seen matrix is all it needs
        return {"user_means": self.user_means_, "ratings": self.ratings_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        if self._explicit:
            means = np.asarray(state["user_means"], dtype=np.float64)
            if means.shape != (len(self.user_ids_),):
                raise ValueError(f"user_means has shape {means.shape}, the vocabulary has {len(self.user_ids_)} users")
            self.user_means_ = means
            self.ratings_ = self._check_ratings(state["ratings"])
        self._prepare()
